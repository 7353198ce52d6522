import {
  type ClientReply,
  type ClientRequest,
  type EngineDefinition,
  type EngineOptions,
  lockstep,
  Rng,
  resolveOptions,
  vvDecode,
} from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { causalBrokenNoDeps, causalEngine } from "../engines.js";
import type { CausalCore } from "./causal-core.js";
import type { CausalMessage } from "./messages.js";
import { CAUSAL_OPTIONS } from "./options.js";

type Req = Omit<ClientRequest, "id">;
interface InFlight {
  from: string;
  to: string;
  message: CausalMessage;
}

/**
 * Hand drives causal cores step by step, the way etcd-io/raft's tests drive `RawNode`: requests in, `ready()`
 * drained (persist to a per-node disk first, then sends and replies), and messages delivered only when the test says
 * so. Messages are structuredCloned on the way, as a real wire would, so a core that shares state with a message is
 * caught.
 */
class Hand {
  readonly cores = new Map<string, CausalCore | undefined>();
  readonly disks = new Map<string, Map<string, unknown>>();
  inflight: InFlight[] = [];
  readonly replies = new Map<string, ClientReply>();
  now = 0;
  /** Once set, every Ready drained is recorded here as JSON (clone tests compare them). */
  readys: string[] | undefined;
  observed = 0;
  private nextId = 0;

  constructor(
    readonly ids: string[] = ["n1", "n2", "n3"],
    readonly options: Record<string, string | number> = {},
    readonly engine: EngineDefinition<CausalMessage> = causalEngine,
  ) {
    for (const id of ids) {
      this.disks.set(id, new Map());
      this.start(id);
    }
  }

  private start(id: string): void {
    const options: EngineOptions = resolveOptions(CAUSAL_OPTIONS, this.options);
    const core = this.engine.create({
      id,
      peers: this.ids,
      rng: new Rng(1),
      options,
      now: this.now,
      records: new Map(this.disks.get(id)!),
    }) as CausalCore;
    this.cores.set(id, core);
  }

  core(id: string): CausalCore {
    const c = this.cores.get(id);
    if (!c) throw new Error(`${id} is down`);
    return c;
  }

  /** observe is what a clone test compares: the Readys recorded since the last look and every fingerprint. */
  observe(): string {
    const readys = this.readys?.splice(0) ?? [];
    this.observed += readys.length;
    return JSON.stringify([readys, [...this.cores.values()].map((c) => c?.fingerprint())]);
  }

  /** clone is an independent copy of the whole network: every core cloned, disks and in-flight messages copied. */
  clone(): Hand {
    const b = new Hand(this.ids, this.options, this.engine);
    for (const [id, c] of this.cores) b.cores.set(id, c?.clone());
    for (const [id, d] of this.disks) b.disks.set(id, structuredClone(d));
    b.inflight = structuredClone(this.inflight);
    for (const [id, r] of this.replies) b.replies.set(id, structuredClone(r));
    b.now = this.now;
    b.nextId = this.nextId;
    return b;
  }

  drain(id: string): void {
    const r = this.core(id).ready();
    this.readys?.push(`${id} ${JSON.stringify(r)}`);
    const disk = this.disks.get(id)!;
    for (const p of r.persist) {
      if (p.type === "put") disk.set(p.key, structuredClone(p.value));
      else disk.delete(p.key);
    }
    for (const e of r.send) this.inflight.push({ from: id, to: e.to, message: structuredClone(e.message) });
    for (const reply of r.replies) this.replies.set(reply.id, reply);
  }

  /** submit sends a request and returns its id; `reply(id)` has the answer once one was produced. */
  submit(node: string, req: Req): string {
    const id = `r${++this.nextId}`;
    this.core(node).request({ id, ...req });
    this.drain(node);
    return id;
  }

  reply(id: string): ClientReply | undefined {
    return this.replies.get(id);
  }

  /** call sends a request that must be answered at once (no session wait) and returns the reply. */
  call(node: string, req: Req): ClientReply {
    const r = this.reply(this.submit(node, req));
    if (!r) throw new Error(`no immediate reply from ${node} to ${JSON.stringify(req)}`);
    return r;
  }

  get(node: string, key: string, token?: string): ClientReply {
    return this.call(node, {
      op: "get",
      key,
      ...(token ? { session: { clientId: "c", seq: 0, token } } : {}),
    });
  }

  /** deliver hands over in-flight messages matching `pred` (all by default), in order, and drains each target. */
  deliver(pred: (m: InFlight) => boolean = () => true): number {
    const now = this.inflight.filter(pred);
    this.inflight = this.inflight.filter((m) => !pred(m));
    for (const m of now) {
      const target = this.cores.get(m.to);
      if (!target) continue;
      target.step(m.from, m.message);
      this.drain(m.to);
    }
    return now.length;
  }

  /** deliverAll delivers until nothing is in flight (acks included). */
  deliverAll(max = 100): void {
    for (let i = 0; i < max && this.inflight.length > 0; i++) this.deliver();
  }

  drop(pred: (m: InFlight) => boolean = () => true): void {
    this.inflight = this.inflight.filter((m) => !pred(m));
  }

  tick(ms: number): void {
    this.now += ms;
    for (const id of this.ids) {
      const c = this.cores.get(id);
      if (!c) continue;
      c.tick(this.now);
      this.drain(id);
    }
  }

  crash(id: string): void {
    this.cores.set(id, undefined);
    this.inflight = this.inflight.filter((m) => m.to !== id);
  }

  restart(id: string): void {
    this.start(id);
  }

  /** settle ticks and delivers everything until no message is in flight. */
  settle(rounds = 20): void {
    for (let i = 0; i < rounds; i++) {
      this.tick(200);
      this.deliverAll();
    }
  }

  values(node: string, key: string): string[] | null {
    const r = this.get(node, key);
    return r.values ?? (r.value === null || r.value === undefined ? null : [r.value]);
  }
}

const writesTo = (to: string, key?: string) => (m: InFlight) =>
  m.to === to &&
  m.message.type === "writes" &&
  (key === undefined || m.message.writes.some((w) => w.key === key));

describe("CausalCore: local service", () => {
  it("answers a write at once, after persisting it, and reads it back locally", () => {
    const h = new Hand();
    const put = h.call("n1", { op: "put", key: "x", value: "1" });
    expect(put.ok).toBe(true);
    expect(put.meta?.node).toBe("n1");
    expect(vvDecode(put.token!)).toEqual({ n1: 1 });
    const disk = h.disks.get("n1")!;
    expect([...disk.keys()].sort()).toEqual(["applied", "k/x", "o/0000000000000001"]);
    expect(h.get("n1", "x").value).toBe("1");
    // Not yet replicated: another node does not have it, and says so without waiting.
    expect(h.get("n2", "x").value).toBeNull();
    expect(h.inflight.filter((m) => m.message.type === "writes").map((m) => m.to)).toEqual(["n2", "n3"]);
  });

  it("replicates to every peer, and garbage-collects the out-log once every peer acknowledged", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "x", value: "1" });
    h.deliverAll();
    expect(h.get("n2", "x").value).toBe("1");
    expect(h.get("n3", "x").value).toBe("1");
    expect(h.core("n1").state.outLog).toEqual([]);
    expect([...h.disks.get("n1")!.keys()].filter((k) => k.startsWith("o/"))).toEqual([]);
    expect(h.core("n1").status()).toMatchObject({ unacked: 0, buffered: 0, applied: "n1=1" });
  });

  it("keeps the out-log while one peer has not acknowledged", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "x", value: "1" });
    h.drop((m) => m.to === "n3");
    h.deliverAll();
    expect(h.core("n1").state.outLog.map((w) => w.seq)).toEqual([1]);
    h.settle();
    expect(h.core("n1").state.outLog).toEqual([]);
    expect(h.get("n3", "x").value).toBe("1");
  });

  it("refuses invalid requests with their codes, including a bad token or context", () => {
    const h = new Hand();
    expect(h.call("n1", { op: "get", key: "" }).error?.code).toBe("KV_INVALID_KEY");
    expect(h.call("n1", { op: "put", key: "k" }).error?.code).toBe("KV_INVALID_VALUE");
    const badToken = { clientId: "c", seq: 1, token: "garbage" };
    expect(h.call("n1", { op: "get", key: "k", session: badToken }).error?.code).toBe("KV_INVALID_ARGUMENT");
    const stranger = { clientId: "c", seq: 1, token: "n9=1" };
    expect(h.call("n1", { op: "get", key: "k", session: stranger }).error?.code).toBe("KV_INVALID_ARGUMENT");
    expect(h.call("n1", { op: "put", key: "k", value: "v", options: { context: "n1=x" } }).error?.code).toBe(
      "KV_INVALID_ARGUMENT",
    );
    expect(h.core("n1").state.keys.size).toBe(0);
  });

  it("drops malformed peer messages and messages from non-members without crashing", () => {
    const h = new Hand();
    const c = h.core("n1");
    c.step("n2", { type: "writes", writes: [{ nonsense: true }] } as unknown as CausalMessage);
    c.step("n2", { type: "ack", upTo: -1 });
    c.step("n9", { type: "ack", upTo: 1 });
    c.step("n2", {
      type: "writes",
      writes: [{ origin: "n3", seq: 1, deps: {}, key: "x", clock: { entries: [["n3", 1, ["v"]]] } }],
    });
    expect(c.status().counters).toMatchObject({ malformed: 4 });
    expect(h.get("n1", "x").value).toBeNull();
  });
});

describe("CausalCore: causal delivery", () => {
  it("buffers a write whose predecessor from the same origin is missing, then applies both in order", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "x", value: "1" });
    h.call("n1", { op: "put", key: "y", value: "1" });
    h.deliver(writesTo("n3", "y"));
    expect(h.get("n3", "y").value).toBeNull();
    expect(h.core("n3").status()).toMatchObject({ buffered: 1, applied: "" });
    h.deliver(writesTo("n3", "x"));
    expect(h.get("n3", "x").value).toBe("1");
    expect(h.get("n3", "y").value).toBe("1");
    expect(h.core("n3").status()).toMatchObject({ buffered: 0, applied: "n1=2" });
  });

  it("buffers a write until a dependency from another origin arrives (COPS dep_check)", () => {
    const h = new Hand();
    // n1 writes the cause; n2 sees it, then writes the effect; n3 gets the effect first.
    h.call("n1", { op: "put", key: "question", value: "q" });
    h.deliver(writesTo("n2"));
    expect(h.get("n2", "question").value).toBe("q");
    h.call("n2", { op: "put", key: "answer", value: "a" });
    h.deliver(writesTo("n3", "answer"));
    expect(h.get("n3", "answer").value).toBeNull();
    expect(h.core("n3").status().buffered).toBe(1);
    h.deliver(writesTo("n3", "question"));
    expect(h.get("n3", "question").value).toBe("q");
    expect(h.get("n3", "answer").value).toBe("a");
  });

  it("the broken variant shows the effect before its cause", () => {
    const h = new Hand(["n1", "n2", "n3"], {}, causalBrokenNoDeps);
    h.call("n1", { op: "put", key: "question", value: "q" });
    h.deliver(writesTo("n2"));
    h.call("n2", { op: "put", key: "answer", value: "a" });
    h.deliver(writesTo("n3", "answer"));
    expect(h.get("n3", "answer").value).toBe("a");
    expect(h.get("n3", "question").value).toBeNull();
    // Once the cause arrives it still converges: the bug is only in what is visible meanwhile.
    h.settle();
    expect(h.get("n3", "question").value).toBe("q");
  });

  it("survives loss, duplication and reordering by retransmission and dedupe by dot", () => {
    const h = new Hand();
    for (let i = 0; i < 5; i++) h.call("n1", { op: "put", key: `k${i}`, value: `v${i}` });
    const copies = h.inflight.slice();
    h.drop((m) => m.to === "n2" && m.message.type === "writes" && m.message.writes[0]!.seq % 2 === 1);
    h.inflight.reverse();
    h.inflight.push(...copies.filter((m) => m.to === "n3"));
    h.deliverAll();
    expect(h.core("n3").status().counters).toMatchObject({ duplicates: 5 });
    expect(h.get("n2", "k4").value).toBeNull();
    h.settle();
    for (let i = 0; i < 5; i++) expect(h.get("n2", `k${i}`).value).toBe(`v${i}`);
    expect(h.core("n1").state.outLog).toEqual([]);
    expect(h.core("n2").state.buffer.size).toBe(0);
  });
});

describe("CausalCore: catching up after a partition", () => {
  it("a peer far behind catches up ack by ack, within one resend interval, not one batch per interval", () => {
    const h = new Hand(["n1", "n2"], { maxBatch: 16, resendMs: 100 });
    // n2 is cut off while n1 takes 200 writes.
    for (let i = 0; i < 200; i++) h.call("n1", { op: "put", key: `k${i % 10}`, value: `v${i}` });
    h.drop();
    // Heal: one resend interval later n1 sends its oldest batch; every ack brings the next batch at once.
    h.tick(100);
    h.deliverAll(1000);
    expect(h.core("n1").state.outLog).toEqual([]);
    for (let i = 190; i < 200; i++) expect(h.get("n2", `k${i % 10}`).value).toBe(`v${i}`);
  });

  it("keeps a retransmission batch of large values under the frame budget", () => {
    const h = new Hand(["n1", "n2"], { maxBatch: 64 });
    const big = "x".repeat(200 * 1024);
    for (let i = 0; i < 4; i++) h.call("n1", { op: "put", key: `b${i}`, value: `${i}${big}` });
    h.drop();
    h.tick(1000);
    const batches = h.inflight.filter((m) => m.message.type === "writes");
    expect(batches).toHaveLength(1);
    expect(batches[0]!.message.type === "writes" && batches[0]!.message.writes.length).toBe(1);
    h.deliverAll(100);
    for (let i = 0; i < 4; i++) expect(h.get("n2", `b${i}`).value).toBe(`${i}${big}`);
  });
});

describe("CausalCore: siblings and contexts", () => {
  it("concurrent writes become siblings on every node, and a write with their context resolves them", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "k", value: "a" });
    h.call("n2", { op: "put", key: "k", value: "b" });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["a", "b"]);
    const read = h.get("n3", "k");
    expect(read.value).toBeUndefined();
    h.call("n3", { op: "put", key: "k", value: "ab", options: { context: read.context! } });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["ab"]);
  });

  it("a write keeps a concurrent write the serving node had not seen, and both become siblings everywhere", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "k", value: "a" });
    h.settle();
    const read = h.get("n1", "k");
    expect(read.value).toBe("a");
    h.call("n2", { op: "put", key: "k", value: "b" });
    h.call("n1", { op: "put", key: "k", value: "c", options: { context: read.context! } });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["b", "c"]);
  });

  it("a write supersedes everything the serving node holds, even beyond a stale context (its causal past)", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "k", value: "a" });
    const stale = h.get("n1", "k").context!;
    h.call("n2", { op: "put", key: "k", value: "b" });
    h.deliverAll();
    expect(h.values("n1", "k")).toEqual(["a", "b"]);
    h.call("n1", { op: "put", key: "k", value: "c", options: { context: stale } });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["c"]);
  });

  it("a context read elsewhere makes writes this node has not applied yet obsolete on arrival", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "k", value: "a" });
    h.call("n2", { op: "put", key: "k", value: "b" });
    h.drop((m) => m.from === "n2" && m.to === "n1");
    h.deliverAll();
    // n3 saw a and b; n1 saw only a (b is lost on the way to n1 for now).
    const read = h.get("n3", "k");
    expect(read.values).toEqual(["a", "b"]);
    expect(h.values("n1", "k")).toEqual(["a"]);
    h.call("n1", { op: "put", key: "k", value: "ab", options: { context: read.context! } });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["ab"]);
  });

  it("a write without a context supersedes what the serving node holds, not what it has not seen", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "k", value: "a" });
    h.call("n2", { op: "put", key: "k", value: "b" });
    h.call("n1", { op: "put", key: "k", value: "a2" });
    expect(h.values("n1", "k")).toEqual(["a2"]);
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["a2", "b"]);
  });

  it("the context a put returns covers that write, so the client can overwrite it at a node that lacks it", () => {
    const h = new Hand();
    const p = h.call("n1", { op: "put", key: "k", value: "a" });
    h.drop(writesTo("n3"));
    h.call("n3", { op: "put", key: "k", value: "a2", options: { context: p.context! } });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["a2"]);
  });

  it("delete leaves a tombstone that hides the value everywhere; a concurrent put survives it", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "k", value: "a" });
    h.settle();
    h.call("n1", { op: "delete", key: "k" });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toBeNull();
    expect(h.core("n2").dump().has("k")).toBe(false);
    h.call("n1", { op: "put", key: "k", value: "b" });
    h.settle();
    h.call("n2", { op: "delete", key: "k" });
    h.call("n3", { op: "put", key: "k", value: "c" });
    h.settle();
    for (const n of h.ids) expect(h.values(n, "k")).toEqual(["c"]);
    expect(h.call("n1", { op: "delete", key: "never" }).ok).toBe(true);
  });

  it("identical concurrent values are reported once", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "k", value: "same" });
    h.call("n2", { op: "put", key: "k", value: "same" });
    h.settle();
    expect(h.get("n3", "k").value).toBe("same");
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
    const h = new Hand(["n1", "n2", "n3"], { resolve: "lww" });
    h.call("n1", { op: "put", key: "k", value: "a" });
    h.call("n2", { op: "put", key: "k", value: "b" });
    h.call("n1", { op: "put", key: "j", value: "x" });
    h.call("n1", { op: "put", key: "k", value: "a2" });
    h.settle();
    // a2 has Lamport time 3 at n1, b has 1 at n2.
    for (const n of h.ids) expect(h.get(n, "k")).toMatchObject({ value: "a2" });
    for (const n of h.ids) expect(h.core(n).dump().get("k")).toEqual(["a2"]);
    // The loser is still held (a later read-modify-write covers it), just not shown.
    expect(
      h
        .core("n3")
        .state.keys.get("k")!
        .entries.map((e) => e[2].length),
    ).toEqual([1, 1]);
    h.call("n2", { op: "put", key: "t", value: "tie-n2" });
    h.call("n3", { op: "put", key: "t", value: "tie-n3" });
    h.settle();
    for (const n of h.ids) expect(h.get(n, "t").value).toBe("tie-n3");
  });

  it("a write after a read wins over what it read, and cas compares against the winner", () => {
    const h = new Hand(["n1", "n2", "n3"], { resolve: "lww" });
    h.call("n1", { op: "put", key: "k", value: "a" });
    h.call("n1", { op: "put", key: "k", value: "a2" });
    h.call("n2", { op: "put", key: "k", value: "b" });
    h.settle();
    expect(h.call("n3", { op: "cas", key: "k", expected: "a2", value: "c" }).swapped).toBe(true);
    h.settle();
    for (const n of h.ids) expect(h.get(n, "k").value).toBe("c");
    h.call("n1", { op: "delete", key: "k" });
    h.settle();
    for (const n of h.ids) expect(h.get(n, "k").value).toBeNull();
  });
});

describe("CausalCore: cas", () => {
  it("compares against the local value; null means absent", () => {
    const h = new Hand();
    expect(h.call("n1", { op: "cas", key: "c", expected: null, value: "a" }).swapped).toBe(true);
    expect(h.call("n1", { op: "cas", key: "c", expected: null, value: "b" }).swapped).toBe(false);
    expect(h.call("n1", { op: "cas", key: "c", expected: "x", value: "b" }).swapped).toBe(false);
    expect(h.call("n1", { op: "cas", key: "c", expected: "a", value: "b" }).swapped).toBe(true);
    expect(h.values("n1", "c")).toEqual(["b"]);
    h.call("n1", { op: "delete", key: "c" });
    expect(h.call("n1", { op: "cas", key: "c", expected: null, value: "d" }).swapped).toBe(true);
  });

  it("never matches a key with distinct siblings, and a swap on agreeing siblings supersedes them all", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "c", value: "a" });
    h.call("n2", { op: "put", key: "c", value: "b" });
    h.settle();
    expect(h.call("n3", { op: "cas", key: "c", expected: "a", value: "z" }).swapped).toBe(false);
    expect(h.call("n3", { op: "cas", key: "c", expected: null, value: "z" }).swapped).toBe(false);
    h.call("n1", { op: "put", key: "d", value: "same" });
    h.call("n2", { op: "put", key: "d", value: "same" });
    h.settle();
    expect(h.call("n3", { op: "cas", key: "d", expected: "same", value: "next" }).swapped).toBe(true);
    h.settle();
    for (const n of h.ids) expect(h.values(n, "d")).toEqual(["next"]);
  });

  it("is not atomic across nodes: two nodes swap from the same value and the results become siblings", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "c", value: "0" });
    h.settle();
    expect(h.call("n1", { op: "cas", key: "c", expected: "0", value: "1" }).swapped).toBe(true);
    expect(h.call("n2", { op: "cas", key: "c", expected: "0", value: "2" }).swapped).toBe(true);
    h.settle();
    for (const n of h.ids) expect(h.values(n, "c")).toEqual(["1", "2"]);
  });
});

describe("CausalCore: sessions", () => {
  const session = (token: string | undefined) => ({ clientId: "c", seq: 1, ...(token ? { token } : {}) });

  it("wait: a node behind the session token holds the request until it catches up (read-your-writes)", () => {
    const h = new Hand();
    const put = h.call("n1", { op: "put", key: "x", value: "mine" });
    const id = h.submit("n2", { op: "get", key: "x", session: session(put.token) });
    expect(h.reply(id)).toBeUndefined();
    expect(h.core("n2").status().waiting).toBe(1);
    h.deliver(writesTo("n2"));
    expect(h.reply(id)).toMatchObject({ ok: true, value: "mine" });
    expect(vvDecode(h.reply(id)!.token!)).toEqual({ n1: 1 });
  });

  it("wait: gives up with KV_UNAVAILABLE after sessionWaitMs, explaining what is missing", () => {
    const h = new Hand(["n1", "n2", "n3"], { sessionWaitMs: 300 });
    const put = h.call("n1", { op: "put", key: "x", value: "mine" });
    h.drop();
    const id = h.submit("n2", { op: "get", key: "x", session: session(put.token) });
    h.now = 0;
    h.core("n2").tick(299);
    h.drain("n2");
    expect(h.reply(id)).toBeUndefined();
    h.core("n2").tick(300);
    h.drain("n2");
    expect(h.reply(id)?.error?.code).toBe("KV_UNAVAILABLE");
    expect(h.reply(id)?.error?.message).toContain("n1 0/1");
    expect(h.core("n2").status().waiting).toBe(0);
  });

  it("refuse: a node behind the token refuses at once; once caught up it serves", () => {
    const h = new Hand(["n1", "n2", "n3"], { session: "refuse" });
    const put = h.call("n1", { op: "put", key: "x", value: "mine" });
    expect(h.call("n2", { op: "get", key: "x", session: session(put.token) }).error?.code).toBe(
      "KV_UNAVAILABLE",
    );
    h.deliverAll();
    expect(h.call("n2", { op: "get", key: "x", session: session(put.token) }).value).toBe("mine");
  });

  it("monotonic reads: after reading a value at one node, a lagging node does not serve an older state", () => {
    const h = new Hand(["n1", "n2", "n3"], { session: "refuse" });
    h.call("n1", { op: "put", key: "x", value: "new" });
    h.deliver(writesTo("n2"));
    const read = h.get("n2", "x");
    expect(read.value).toBe("new");
    expect(h.call("n3", { op: "get", key: "x", session: session(read.token) }).error?.code).toBe(
      "KV_UNAVAILABLE",
    );
  });

  it("monotonic writes and writes-follow-reads: a write at another node waits for what the session saw", () => {
    const h = new Hand();
    const w1 = h.call("n1", { op: "put", key: "x", value: "first" });
    const id = h.submit("n2", { op: "put", key: "y", value: "second", session: session(w1.token) });
    expect(h.reply(id)).toBeUndefined();
    h.deliver(writesTo("n2"));
    expect(h.reply(id)?.ok).toBe(true);
    // The second write depends on the first, so n3 can never show y without x.
    h.deliver(writesTo("n3", "y"));
    expect(h.get("n3", "y").value).toBeNull();
    h.settle();
    expect(h.get("n3", "y").value).toBe("second");
    expect(h.get("n3", "x").value).toBe("first");
  });

  it("a request without a token is always served locally (availability under partition)", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "x", value: "1" });
    h.drop();
    expect(h.call("n2", { op: "put", key: "x", value: "2" }).ok).toBe(true);
    expect(h.get("n3", "x").value).toBeNull();
  });
});

describe("CausalCore: durability and bounded metadata", () => {
  it("a write acknowledged but not yet replicated survives a crash and is replicated after restart", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "x", value: "acked" });
    h.drop();
    h.crash("n1");
    h.restart("n1");
    expect(h.get("n1", "x").value).toBe("acked");
    expect(h.core("n1").state.outLog.map((w) => w.seq)).toEqual([1]);
    h.settle();
    expect(h.get("n3", "x").value).toBe("acked");
    // Its next write continues the same stream, so peers do not take it for a duplicate.
    h.call("n1", { op: "put", key: "x", value: "after" });
    h.settle();
    expect(h.get("n2", "x").value).toBe("after");
  });

  it("a receiver that crashes with writes buffered gets them again", () => {
    const h = new Hand();
    h.call("n1", { op: "put", key: "a", value: "1" });
    h.call("n1", { op: "put", key: "b", value: "2" });
    h.deliver(writesTo("n3", "b"));
    expect(h.core("n3").status().buffered).toBe(1);
    h.crash("n3");
    h.restart("n3");
    h.settle();
    expect(h.values("n3", "b")).toEqual(["2"]);
    expect(h.values("n3", "a")).toEqual(["1"]);
  });

  it("vectors and clocks stay sized by nodes however many clients write", () => {
    const h = new Hand();
    let token: string | undefined;
    for (let c = 0; c < 60; c++) {
      const node = h.ids[c % 3]!;
      const r = h.call(node, {
        op: "put",
        key: "k",
        value: `c${c}`,
        session: { clientId: `client-${c}`, seq: 1 },
      });
      token = r.token;
      if (c % 7 === 0) h.settle(2);
    }
    h.settle();
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
    const h = new Hand();
    h.call("n1", { op: "put", key: "x", value: "1" });
    h.deliver(writesTo("n2"));
    const st = h.core("n2").state;
    expect(structuredClone(st)).toEqual(st);
  });
});

describe("CausalCore: random runs converge", () => {
  it("after faults stop, every node holds the same siblings for every key (50 seeds)", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rng = new Rng(seed);
      const h = new Hand();
      const written = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const node = rng.pick(h.ids);
        const key = `k${rng.int(3)}`;
        const roll = rng.next();
        if (roll < 0.4) {
          const value = `v${i}`;
          written.add(value);
          h.call(node, { op: "put", key, value });
        } else if (roll < 0.5) h.call(node, { op: "delete", key });
        else if (roll < 0.6) {
          const value = `v${i}`;
          if (h.call(node, { op: "cas", key, expected: h.get(node, key).value ?? null, value }).swapped)
            written.add(value);
        } else if (roll < 0.7) {
          const r = h.get(node, key);
          const value = `v${i}`;
          written.add(value);
          h.call(rng.pick(h.ids), { op: "put", key, value, options: { context: r.context! } });
        } else if (roll < 0.85) {
          // Network chaos: lose, duplicate or reorder what is in flight, or deliver part of it.
          const mode = rng.int(4);
          if (mode === 0) h.drop(() => rng.chance(0.5));
          else if (mode === 1) h.inflight.push(...h.inflight.filter(() => rng.chance(0.5)));
          else if (mode === 2) rng.shuffle(h.inflight);
          else h.deliver(() => rng.chance(0.5));
        } else if (roll < 0.9) {
          const victim = rng.pick(h.ids);
          h.crash(victim);
          h.restart(victim);
        } else h.tick(rng.range(1, 150));
      }
      h.settle();
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
    const a = new Hand(["n1", "n2", "n3"], { sessionWaitMs: 300 });
    a.call("n1", { op: "put", key: "q", value: "1" });
    a.deliver(writesTo("n2"));
    const w = a.call("n2", { op: "put", key: "a", value: "2", session: { clientId: "s", seq: 1 } });
    a.deliver(writesTo("n3", "a"));
    a.submit("n3", { op: "get", key: "a", session: { clientId: "s", seq: 2, token: w.token! } });
    a.tick(50);
    // Mid-run: n3 buffers a write waiting for its dependency and holds a session read; writes are in flight.
    const b = a.clone();
    const script: ((h: Hand) => void)[] = [
      (h) => h.call("n3", { op: "put", key: "a", value: "3" }),
      (h) => h.deliver(writesTo("n3", "q")),
      (h) => h.drop((m) => m.to === "n1"),
      (h) => h.tick(150),
      (h) => h.deliverAll(),
      (h) => h.call("n1", { op: "cas", key: "a", expected: "2", value: "4" }),
      (h) => h.settle(3),
    ];
    for (const h of [a, b]) h.readys = [];
    const cloneOnly = (h: Hand) => h.call("n1", { op: "put", key: "clone-only", value: "x" });
    expect(lockstep(a, b, script, (h) => h.observe(), cloneOnly)).toBeUndefined();
    expect(a.observed).toBeGreaterThan(20);
  });
});
