import {
  type ClientReply,
  type ClientRequest,
  type EngineDefinition,
  lockstep,
  type OptionValue,
  Rng,
  vvDecode,
} from "@consistency-lab/kv";
import { HandNetwork, type Wire } from "@consistency-lab/sim/testing";
import { describe, expect, it } from "vitest";
import { causalBrokenNoDeps, causalEngine } from "../engines.js";
import type { CausalCore } from "./causal-core.js";
import type { CausalMessage } from "./messages.js";

/**
 * The tests drive causal cores step by step on sim's HandNetwork, the way etcd-io/raft's tests drive `RawNode`:
 * requests in, `ready()` drained (persist to a per-node disk first, then sends and replies), and messages delivered
 * only when the test says so. Messages are structuredCloned on the way, as a real wire would, so a core that shares
 * state with a message is caught. The helpers below are what these tests need beyond it.
 */
type Net = HandNetwork<CausalMessage, CausalCore>;
type Req = Omit<ClientRequest, "id">;
type InFlight = Wire<CausalMessage>;

const network = (
  ids: string[] = ["n1", "n2", "n3"],
  options: Record<string, OptionValue> = {},
  engine: EngineDefinition<CausalMessage> = causalEngine,
): Net => new HandNetwork<CausalMessage, CausalCore>({ engine, nodes: ids, options });

/** call sends a request that must be answered at once (no session wait) and returns the reply. */
function call(h: Net, node: string, req: Req): ClientReply {
  const r = h.reply(h.request(node, req));
  if (!r) throw new Error(`no immediate reply from ${node} to ${JSON.stringify(req)}`);
  return r;
}

const get = (h: Net, node: string, key: string): ClientReply => call(h, node, { op: "get", key });

function values(h: Net, node: string, key: string): string[] | null {
  const r = get(h, node, key);
  return r.values ?? (r.value === null || r.value === undefined ? null : [r.value]);
}

/**
 * deliver hands over the messages in flight matching `pred` (all by default), in order, and drains each target;
 * what they cause stays in flight.
 */
function deliver(h: Net, pred: (m: InFlight) => boolean = () => true): void {
  const picked: InFlight[] = [];
  const rest: InFlight[] = [];
  for (const m of h.inflight) (pred(m) ? picked : rest).push(m);
  h.inflight = rest;
  for (const m of picked) {
    h.inflight.unshift(m);
    h.deliverOne();
  }
}

/** drop loses the messages in flight matching `pred` (all by default). */
function drop(h: Net, pred: (m: InFlight) => boolean = () => true): void {
  h.inflight = h.inflight.filter((m) => !pred(m));
}

/** converge runs `rounds` rounds of a 200 ms tick, each followed by delivering until nothing is in flight. */
const converge = (h: Net, rounds = 20): void => h.runFor(rounds * 200, 200);

const writesTo = (to: string, key?: string) => (m: InFlight) =>
  m.to === to &&
  m.message.type === "writes" &&
  (key === undefined || m.message.writes.some((w) => w.key === key));

describe("CausalCore: local service", () => {
  it("answers a write at once, after persisting it, and reads it back locally", () => {
    const h = network();
    const put = call(h, "n1", { op: "put", key: "x", value: "1" });
    expect(put.ok).toBe(true);
    expect(put.meta?.node).toBe("n1");
    expect(vvDecode(put.token!)).toEqual({ n1: 1 });
    const disk = h.disks.get("n1")!;
    expect([...disk.keys()].sort()).toEqual(["applied", "k/x", "o/0000000000000001"]);
    expect(get(h, "n1", "x").value).toBe("1");
    // Not yet replicated: another node does not have it, and says so without waiting.
    expect(get(h, "n2", "x").value).toBeNull();
    expect(h.inflight.filter((m) => m.message.type === "writes").map((m) => m.to)).toEqual(["n2", "n3"]);
  });

  it("replicates to every peer, and garbage-collects the out-log once every peer acknowledged", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "x", value: "1" });
    h.settle();
    expect(get(h, "n2", "x").value).toBe("1");
    expect(get(h, "n3", "x").value).toBe("1");
    expect(h.core("n1").state.outLog).toEqual([]);
    expect([...h.disks.get("n1")!.keys()].filter((k) => k.startsWith("o/"))).toEqual([]);
    expect(h.core("n1").status()).toMatchObject({ unacked: 0, buffered: 0, applied: "n1=1" });
  });

  it("keeps the out-log while one peer has not acknowledged", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "x", value: "1" });
    drop(h, (m) => m.to === "n3");
    h.settle();
    expect(h.core("n1").state.outLog.map((w) => w.seq)).toEqual([1]);
    converge(h);
    expect(h.core("n1").state.outLog).toEqual([]);
    expect(get(h, "n3", "x").value).toBe("1");
  });

  it("refuses invalid requests with their codes, including a bad token or context", () => {
    const h = network();
    expect(call(h, "n1", { op: "get", key: "" }).error?.code).toBe("KV_INVALID_KEY");
    expect(call(h, "n1", { op: "put", key: "k" }).error?.code).toBe("KV_INVALID_VALUE");
    const badToken = { clientId: "c", seq: 1, token: "garbage" };
    expect(call(h, "n1", { op: "get", key: "k", session: badToken }).error?.code).toBe("KV_INVALID_ARGUMENT");
    const stranger = { clientId: "c", seq: 1, token: "n9=1" };
    expect(call(h, "n1", { op: "get", key: "k", session: stranger }).error?.code).toBe("KV_INVALID_ARGUMENT");
    expect(call(h, "n1", { op: "put", key: "k", value: "v", options: { context: "n1=x" } }).error?.code).toBe(
      "KV_INVALID_ARGUMENT",
    );
    expect(h.core("n1").state.keys.size).toBe(0);
  });

  it("drops malformed peer messages and messages from non-members without crashing", () => {
    const h = network();
    const c = h.core("n1");
    c.step("n2", { type: "writes", writes: [{ nonsense: true }] } as unknown as CausalMessage);
    c.step("n2", { type: "ack", upTo: -1 });
    c.step("n9", { type: "ack", upTo: 1 });
    // A write claiming another origin than its sender, with a bare string where a stored value ({ v, t }) belongs.
    c.step("n2", {
      type: "writes",
      writes: [{ origin: "n3", seq: 1, deps: {}, key: "x", clock: { entries: [["n3", 1, ["v"]]] } }],
    } as unknown as CausalMessage);
    expect(c.status().counters).toMatchObject({ malformed: 4 });
    expect(get(h, "n1", "x").value).toBeNull();
  });
});

describe("CausalCore: causal delivery", () => {
  it("buffers a write whose predecessor from the same origin is missing, then applies both in order", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "x", value: "1" });
    call(h, "n1", { op: "put", key: "y", value: "1" });
    deliver(h, writesTo("n3", "y"));
    expect(get(h, "n3", "y").value).toBeNull();
    expect(h.core("n3").status()).toMatchObject({ buffered: 1, applied: "" });
    deliver(h, writesTo("n3", "x"));
    expect(get(h, "n3", "x").value).toBe("1");
    expect(get(h, "n3", "y").value).toBe("1");
    expect(h.core("n3").status()).toMatchObject({ buffered: 0, applied: "n1=2" });
  });

  it("buffers a write until a dependency from another origin arrives (COPS dep_check)", () => {
    const h = network();
    // n1 writes the cause; n2 sees it, then writes the effect; n3 gets the effect first.
    call(h, "n1", { op: "put", key: "question", value: "q" });
    deliver(h, writesTo("n2"));
    expect(get(h, "n2", "question").value).toBe("q");
    call(h, "n2", { op: "put", key: "answer", value: "a" });
    deliver(h, writesTo("n3", "answer"));
    expect(get(h, "n3", "answer").value).toBeNull();
    expect(h.core("n3").status().buffered).toBe(1);
    deliver(h, writesTo("n3", "question"));
    expect(get(h, "n3", "question").value).toBe("q");
    expect(get(h, "n3", "answer").value).toBe("a");
  });

  it("the broken variant shows the effect before its cause", () => {
    const h = network(["n1", "n2", "n3"], {}, causalBrokenNoDeps);
    call(h, "n1", { op: "put", key: "question", value: "q" });
    deliver(h, writesTo("n2"));
    call(h, "n2", { op: "put", key: "answer", value: "a" });
    deliver(h, writesTo("n3", "answer"));
    expect(get(h, "n3", "answer").value).toBe("a");
    expect(get(h, "n3", "question").value).toBeNull();
    // Once the cause arrives it still converges: the bug is only in what is visible meanwhile.
    converge(h);
    expect(get(h, "n3", "question").value).toBe("q");
  });

  it("survives loss, duplication and reordering by retransmission and dedupe by dot", () => {
    const h = network();
    for (let i = 0; i < 5; i++) call(h, "n1", { op: "put", key: `k${i}`, value: `v${i}` });
    const copies = h.inflight.slice();
    drop(h, (m) => m.to === "n2" && m.message.type === "writes" && m.message.writes[0]!.seq % 2 === 1);
    h.inflight.reverse();
    h.inflight.push(...copies.filter((m) => m.to === "n3"));
    h.settle();
    expect(h.core("n3").status().counters).toMatchObject({ duplicates: 5 });
    expect(get(h, "n2", "k4").value).toBeNull();
    converge(h);
    for (let i = 0; i < 5; i++) expect(get(h, "n2", `k${i}`).value).toBe(`v${i}`);
    expect(h.core("n1").state.outLog).toEqual([]);
    expect(h.core("n2").state.buffer.size).toBe(0);
  });
});

describe("CausalCore: catching up after a partition", () => {
  it("a peer far behind catches up ack by ack, within one resend interval, not one batch per interval", () => {
    const h = network(["n1", "n2"], { maxBatch: 16, resendMs: 100 });
    // n2 is cut off while n1 takes 200 writes.
    for (let i = 0; i < 200; i++) call(h, "n1", { op: "put", key: `k${i % 10}`, value: `v${i}` });
    drop(h);
    // Heal: one resend interval later n1 sends its oldest batch; every ack brings the next batch at once.
    h.tick(100);
    expect(h.core("n1").state.outLog).toEqual([]);
    for (let i = 190; i < 200; i++) expect(get(h, "n2", `k${i % 10}`).value).toBe(`v${i}`);
  });

  it("keeps a retransmission batch of large values under the frame budget", () => {
    const h = network(["n1", "n2"], { maxBatch: 64 });
    const big = "x".repeat(200 * 1024);
    for (let i = 0; i < 4; i++) call(h, "n1", { op: "put", key: `b${i}`, value: `${i}${big}` });
    drop(h);
    h.advance(1000);
    const batches = h.inflight.filter((m) => m.message.type === "writes");
    expect(batches).toHaveLength(1);
    expect(batches[0]!.message.type === "writes" && batches[0]!.message.writes.length).toBe(1);
    h.settle();
    for (let i = 0; i < 4; i++) expect(get(h, "n2", `b${i}`).value).toBe(`${i}${big}`);
  });
});

describe("CausalCore: siblings and contexts", () => {
  it("concurrent writes become siblings on every node, and a write with their context resolves them", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "k", value: "a" });
    call(h, "n2", { op: "put", key: "k", value: "b" });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["a", "b"]);
    const read = get(h, "n3", "k");
    expect(read.value).toBeUndefined();
    call(h, "n3", { op: "put", key: "k", value: "ab", options: { context: read.context! } });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["ab"]);
  });

  it("a write keeps a concurrent write the serving node had not seen, and both become siblings everywhere", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "k", value: "a" });
    converge(h);
    const read = get(h, "n1", "k");
    expect(read.value).toBe("a");
    call(h, "n2", { op: "put", key: "k", value: "b" });
    call(h, "n1", { op: "put", key: "k", value: "c", options: { context: read.context! } });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["b", "c"]);
  });

  it("a write supersedes everything the serving node holds, even beyond a stale context (its causal past)", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "k", value: "a" });
    const stale = get(h, "n1", "k").context!;
    call(h, "n2", { op: "put", key: "k", value: "b" });
    h.settle();
    expect(values(h, "n1", "k")).toEqual(["a", "b"]);
    call(h, "n1", { op: "put", key: "k", value: "c", options: { context: stale } });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["c"]);
  });

  it("a context read elsewhere makes writes this node has not applied yet obsolete on arrival", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "k", value: "a" });
    call(h, "n2", { op: "put", key: "k", value: "b" });
    drop(h, (m) => m.from === "n2" && m.to === "n1");
    h.settle();
    // n3 saw a and b; n1 saw only a (b is lost on the way to n1 for now).
    const read = get(h, "n3", "k");
    expect(read.values).toEqual(["a", "b"]);
    expect(values(h, "n1", "k")).toEqual(["a"]);
    call(h, "n1", { op: "put", key: "k", value: "ab", options: { context: read.context! } });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["ab"]);
  });

  it("a write without a context supersedes what the serving node holds, not what it has not seen", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "k", value: "a" });
    call(h, "n2", { op: "put", key: "k", value: "b" });
    call(h, "n1", { op: "put", key: "k", value: "a2" });
    expect(values(h, "n1", "k")).toEqual(["a2"]);
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["a2", "b"]);
  });

  it("the context a put returns covers that write, so the client can overwrite it at a node that lacks it", () => {
    const h = network();
    const p = call(h, "n1", { op: "put", key: "k", value: "a" });
    drop(h, writesTo("n3"));
    call(h, "n3", { op: "put", key: "k", value: "a2", options: { context: p.context! } });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["a2"]);
  });

  it("delete leaves a tombstone that hides the value everywhere; a concurrent put survives it", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "k", value: "a" });
    converge(h);
    call(h, "n1", { op: "delete", key: "k" });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toBeNull();
    expect(h.core("n2").dump().has("k")).toBe(false);
    call(h, "n1", { op: "put", key: "k", value: "b" });
    converge(h);
    call(h, "n2", { op: "delete", key: "k" });
    call(h, "n3", { op: "put", key: "k", value: "c" });
    converge(h);
    for (const n of h.ids) expect(values(h, n, "k")).toEqual(["c"]);
    expect(call(h, "n1", { op: "delete", key: "never" }).ok).toBe(true);
  });

  it("identical concurrent values are reported once", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "k", value: "same" });
    call(h, "n2", { op: "put", key: "k", value: "same" });
    converge(h);
    expect(get(h, "n3", "k").value).toBe("same");
    expect(
      h
        .core("n3")
        .state.keys.get("k")!
        .entries.map((e) => e[2].length),
    ).toEqual([1, 1]);
  });
});

describe("CausalCore: resolve=lww", () => {
  it("every node reads the same one winner of concurrent writes: the higher Lamport time, then node id", () => {
    const h = network(["n1", "n2", "n3"], { resolve: "lww" });
    call(h, "n1", { op: "put", key: "k", value: "a" });
    call(h, "n2", { op: "put", key: "k", value: "b" });
    call(h, "n1", { op: "put", key: "j", value: "x" });
    call(h, "n1", { op: "put", key: "k", value: "a2" });
    converge(h);
    // a2 has Lamport time 3 at n1, b has 1 at n2.
    for (const n of h.ids) expect(get(h, n, "k")).toMatchObject({ value: "a2" });
    for (const n of h.ids) expect(h.core(n).dump().get("k")).toEqual(["a2"]);
    // The loser is still held (a later read-modify-write covers it), just not shown.
    expect(
      h
        .core("n3")
        .state.keys.get("k")!
        .entries.map((e) => e[2].length),
    ).toEqual([1, 1]);
    call(h, "n2", { op: "put", key: "t", value: "tie-n2" });
    call(h, "n3", { op: "put", key: "t", value: "tie-n3" });
    converge(h);
    for (const n of h.ids) expect(get(h, n, "t").value).toBe("tie-n3");
  });

  it("a write after a read wins over what it read, and cas compares against the winner", () => {
    const h = network(["n1", "n2", "n3"], { resolve: "lww" });
    call(h, "n1", { op: "put", key: "k", value: "a" });
    call(h, "n1", { op: "put", key: "k", value: "a2" });
    call(h, "n2", { op: "put", key: "k", value: "b" });
    converge(h);
    expect(call(h, "n3", { op: "cas", key: "k", expected: "a2", value: "c" }).swapped).toBe(true);
    converge(h);
    for (const n of h.ids) expect(get(h, n, "k").value).toBe("c");
    call(h, "n1", { op: "delete", key: "k" });
    converge(h);
    for (const n of h.ids) expect(get(h, n, "k").value).toBeNull();
  });
});

describe("CausalCore: cas", () => {
  it("compares against the local value; null means absent", () => {
    const h = network();
    expect(call(h, "n1", { op: "cas", key: "c", expected: null, value: "a" }).swapped).toBe(true);
    expect(call(h, "n1", { op: "cas", key: "c", expected: null, value: "b" }).swapped).toBe(false);
    expect(call(h, "n1", { op: "cas", key: "c", expected: "x", value: "b" }).swapped).toBe(false);
    expect(call(h, "n1", { op: "cas", key: "c", expected: "a", value: "b" }).swapped).toBe(true);
    expect(values(h, "n1", "c")).toEqual(["b"]);
    call(h, "n1", { op: "delete", key: "c" });
    expect(call(h, "n1", { op: "cas", key: "c", expected: null, value: "d" }).swapped).toBe(true);
  });

  it("never matches a key with distinct siblings, and a swap on agreeing siblings supersedes them all", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "c", value: "a" });
    call(h, "n2", { op: "put", key: "c", value: "b" });
    converge(h);
    expect(call(h, "n3", { op: "cas", key: "c", expected: "a", value: "z" }).swapped).toBe(false);
    expect(call(h, "n3", { op: "cas", key: "c", expected: null, value: "z" }).swapped).toBe(false);
    call(h, "n1", { op: "put", key: "d", value: "same" });
    call(h, "n2", { op: "put", key: "d", value: "same" });
    converge(h);
    expect(call(h, "n3", { op: "cas", key: "d", expected: "same", value: "next" }).swapped).toBe(true);
    converge(h);
    for (const n of h.ids) expect(values(h, n, "d")).toEqual(["next"]);
  });

  it("is not atomic across nodes: two nodes swap from the same value and the results become siblings", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "c", value: "0" });
    converge(h);
    expect(call(h, "n1", { op: "cas", key: "c", expected: "0", value: "1" }).swapped).toBe(true);
    expect(call(h, "n2", { op: "cas", key: "c", expected: "0", value: "2" }).swapped).toBe(true);
    converge(h);
    for (const n of h.ids) expect(values(h, n, "c")).toEqual(["1", "2"]);
  });
});

describe("CausalCore: sessions", () => {
  const session = (token: string | undefined) => ({ clientId: "c", seq: 1, ...(token ? { token } : {}) });

  it("wait: a node behind the session token holds the request until it catches up (read-your-writes)", () => {
    const h = network();
    const put = call(h, "n1", { op: "put", key: "x", value: "mine" });
    const id = h.request("n2", { op: "get", key: "x", session: session(put.token) });
    expect(h.reply(id)).toBeUndefined();
    expect(h.core("n2").status().waiting).toBe(1);
    deliver(h, writesTo("n2"));
    expect(h.reply(id)).toMatchObject({ ok: true, value: "mine" });
    expect(vvDecode(h.reply(id)!.token!)).toEqual({ n1: 1 });
  });

  it("wait: gives up with KV_UNAVAILABLE after sessionWaitMs, explaining what is missing", () => {
    const h = network(["n1", "n2", "n3"], { sessionWaitMs: 300 });
    const put = call(h, "n1", { op: "put", key: "x", value: "mine" });
    drop(h);
    const id = h.request("n2", { op: "get", key: "x", session: session(put.token) });
    h.now = 0;
    h.core("n2").tick(299);
    h.flush("n2");
    expect(h.reply(id)).toBeUndefined();
    h.core("n2").tick(300);
    h.flush("n2");
    expect(h.reply(id)?.error?.code).toBe("KV_UNAVAILABLE");
    expect(h.reply(id)?.error?.message).toContain("n1 0/1");
    expect(h.core("n2").status().waiting).toBe(0);
  });

  it("refuse: a node behind the token refuses at once; once caught up it serves", () => {
    const h = network(["n1", "n2", "n3"], { session: "refuse" });
    const put = call(h, "n1", { op: "put", key: "x", value: "mine" });
    expect(call(h, "n2", { op: "get", key: "x", session: session(put.token) }).error?.code).toBe(
      "KV_UNAVAILABLE",
    );
    h.settle();
    expect(call(h, "n2", { op: "get", key: "x", session: session(put.token) }).value).toBe("mine");
  });

  it("monotonic reads: after reading a value at one node, a lagging node does not serve an older state", () => {
    const h = network(["n1", "n2", "n3"], { session: "refuse" });
    call(h, "n1", { op: "put", key: "x", value: "new" });
    deliver(h, writesTo("n2"));
    const read = get(h, "n2", "x");
    expect(read.value).toBe("new");
    expect(call(h, "n3", { op: "get", key: "x", session: session(read.token) }).error?.code).toBe(
      "KV_UNAVAILABLE",
    );
  });

  it("monotonic writes and writes-follow-reads: a write at another node waits for what the session saw", () => {
    const h = network();
    const w1 = call(h, "n1", { op: "put", key: "x", value: "first" });
    const id = h.request("n2", { op: "put", key: "y", value: "second", session: session(w1.token) });
    expect(h.reply(id)).toBeUndefined();
    deliver(h, writesTo("n2"));
    expect(h.reply(id)?.ok).toBe(true);
    // The second write depends on the first, so n3 can never show y without x.
    deliver(h, writesTo("n3", "y"));
    expect(get(h, "n3", "y").value).toBeNull();
    converge(h);
    expect(get(h, "n3", "y").value).toBe("second");
    expect(get(h, "n3", "x").value).toBe("first");
  });

  it("a request without a token is always served locally (availability under partition)", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "x", value: "1" });
    drop(h);
    expect(call(h, "n2", { op: "put", key: "x", value: "2" }).ok).toBe(true);
    expect(get(h, "n3", "x").value).toBeNull();
  });
});

describe("CausalCore: durability and bounded metadata", () => {
  it("a write acknowledged but not yet replicated survives a crash and is replicated after restart", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "x", value: "acked" });
    drop(h);
    h.crash("n1");
    h.restart("n1");
    expect(get(h, "n1", "x").value).toBe("acked");
    expect(h.core("n1").state.outLog.map((w) => w.seq)).toEqual([1]);
    converge(h);
    expect(get(h, "n3", "x").value).toBe("acked");
    // Its next write continues the same stream, so peers do not take it for a duplicate.
    call(h, "n1", { op: "put", key: "x", value: "after" });
    converge(h);
    expect(get(h, "n2", "x").value).toBe("after");
  });

  it("a receiver that crashes with writes buffered gets them again", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "a", value: "1" });
    call(h, "n1", { op: "put", key: "b", value: "2" });
    deliver(h, writesTo("n3", "b"));
    expect(h.core("n3").status().buffered).toBe(1);
    h.crash("n3");
    h.restart("n3");
    converge(h);
    expect(values(h, "n3", "b")).toEqual(["2"]);
    expect(values(h, "n3", "a")).toEqual(["1"]);
  });

  it("vectors and clocks stay sized by nodes however many clients write", () => {
    const h = network();
    let token: string | undefined;
    for (let c = 0; c < 60; c++) {
      const node = h.ids[c % 3]!;
      const r = call(h, node, {
        op: "put",
        key: "k",
        value: `c${c}`,
        session: { clientId: `client-${c}`, seq: 1 },
      });
      token = r.token;
      if (c % 7 === 0) converge(h, 2);
    }
    converge(h);
    for (const n of h.ids) {
      const st = h.core(n).state;
      expect(Object.keys(st.applied).length).toBeLessThanOrEqual(3);
      expect(st.keys.get("k")!.entries.length).toBeLessThanOrEqual(3);
      expect(st.outLog).toEqual([]);
      expect(st.buffer.size).toBe(0);
      expect([...h.disks.get(n)!.keys()].filter((k) => k.startsWith("o/"))).toEqual([]);
    }
    expect(Object.keys(vvDecode(token!)).length).toBeLessThanOrEqual(3);
  });

  it("state is plain data: it survives structuredClone", () => {
    const h = network();
    call(h, "n1", { op: "put", key: "x", value: "1" });
    deliver(h, writesTo("n2"));
    const st = h.core("n2").state;
    expect(structuredClone(st)).toEqual(st);
  });
});

describe("CausalCore: random runs converge", () => {
  it("after faults stop, every node holds the same siblings for every key (50 seeds)", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rng = new Rng(seed);
      const h = network();
      const written = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const node = rng.pick(h.ids);
        const key = `k${rng.int(3)}`;
        const roll = rng.next();
        if (roll < 0.4) {
          const value = `v${i}`;
          written.add(value);
          call(h, node, { op: "put", key, value });
        } else if (roll < 0.5) call(h, node, { op: "delete", key });
        else if (roll < 0.6) {
          const value = `v${i}`;
          if (call(h, node, { op: "cas", key, expected: get(h, node, key).value ?? null, value }).swapped)
            written.add(value);
        } else if (roll < 0.7) {
          const r = get(h, node, key);
          const value = `v${i}`;
          written.add(value);
          call(h, rng.pick(h.ids), { op: "put", key, value, options: { context: r.context! } });
        } else if (roll < 0.85) {
          // Network chaos: lose, duplicate or reorder what is in flight, or deliver part of it.
          const mode = rng.int(4);
          if (mode === 0) drop(h, () => rng.chance(0.5));
          else if (mode === 1) h.inflight.push(...h.inflight.filter(() => rng.chance(0.5)));
          else if (mode === 2) rng.shuffle(h.inflight);
          else deliver(h, () => rng.chance(0.5));
        } else if (roll < 0.9) {
          const victim = rng.pick(h.ids);
          h.crash(victim);
          h.restart(victim);
        } else h.advance(rng.range(1, 150));
      }
      converge(h);
      const dumps = h.ids.map((n) => Object.fromEntries(h.core(n).dump()));
      try {
        expect(dumps[1]).toEqual(dumps[0]);
        expect(dumps[2]).toEqual(dumps[0]);
        for (const vs of Object.values(dumps[0]!)) for (const v of vs) expect(written.has(v)).toBe(true);
        for (const n of h.ids) expect(h.core(n).state.outLog).toEqual([]);
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`);
      }
    }
  });
});

describe("CausalCore: cloneable state", () => {
  it("a clone of every core taken mid-run produces the same Readys as the original for the same inputs", () => {
    const a = network(["n1", "n2", "n3"], { sessionWaitMs: 300 });
    call(a, "n1", { op: "put", key: "q", value: "1" });
    deliver(a, writesTo("n2"));
    const w = call(a, "n2", { op: "put", key: "a", value: "2", session: { clientId: "s", seq: 1 } });
    deliver(a, writesTo("n3", "a"));
    a.request("n3", { op: "get", key: "a", session: { clientId: "s", seq: 2, token: w.token! } });
    a.advance(50);
    // Mid-run: n3 buffers a write waiting for its dependency and holds a session read; writes are in flight.
    const b = a.clone();
    const script: ((h: Net) => void)[] = [
      (h) => call(h, "n3", { op: "put", key: "a", value: "3" }),
      (h) => deliver(h, writesTo("n3", "q")),
      (h) => drop(h, (m) => m.to === "n1"),
      (h) => h.advance(150),
      (h) => h.settle(),
      (h) => call(h, "n1", { op: "cas", key: "a", expected: "2", value: "4" }),
      (h) => converge(h, 3),
    ];
    // What a clone test compares: the Readys drained since the last look and every fingerprint.
    const readys = new Map<Net, string[]>();
    for (const h of [a, b]) {
      const log: string[] = [];
      readys.set(h, log);
      h.onReady = (id, rd) => log.push(`${id} ${JSON.stringify(rd)}`);
    }
    let observed = 0;
    const observe = (h: Net) => {
      const drained = readys.get(h)!.splice(0);
      if (h === a) observed += drained.length;
      return JSON.stringify([drained, [...h.cores.values()].map((c) => c.fingerprint())]);
    };
    const cloneOnly = (h: Net) => call(h, "n1", { op: "put", key: "clone-only", value: "x" });
    expect(lockstep(a, b, script, observe, cloneOnly)).toBeUndefined();
    expect(observed).toBeGreaterThan(20);
  });
});
