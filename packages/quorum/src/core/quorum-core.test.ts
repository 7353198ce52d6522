import { checkLinearizableSync, parseHistory } from "@consistency-lab/checker";
import { type EngineDefinition, lockstep, type OptionValue } from "@consistency-lab/kv";
import { HandNetwork, type Wire } from "@consistency-lab/sim/testing";
import { describe, expect, it } from "vitest";
import { quorumBrokenDropHints, quorumBrokenReadRepair, quorumEngine } from "../engines.js";
import type { QuorumMessage } from "./messages.js";
import type { QuorumCore } from "./quorum-core.js";
import { preferenceList, ringNew } from "./ring.js";

/**
 * The tests drive cores by hand on sim's HandNetwork: every Ready is drained into a durable disk and the network's
 * FIFO of messages in flight, and the test decides which messages are delivered, in what order, and which are
 * dropped. The helpers below are what these tests need beyond it.
 */
type Net = HandNetwork<QuorumMessage, QuorumCore>;
type Sent = Wire<QuorumMessage>;

const network = (
  nodes: string[],
  options: Record<string, OptionValue> = {},
  engine: EngineDefinition<QuorumMessage> = quorumEngine,
): Net => new HandNetwork<QuorumMessage, QuorumCore>({ engine, nodes, options });

/** take removes and returns the messages in flight matching `pred`. */
function take(net: Net, pred: (s: Sent) => boolean): Sent[] {
  const hit = net.inflight.filter(pred);
  net.inflight = net.inflight.filter((s) => !pred(s));
  return hit;
}

/** deliver hands one message to its target now, ahead of what is in flight, and drains the target. */
function deliver(net: Net, s: Sent): void {
  net.inflight.unshift(s);
  net.deliverOne();
}

/** dropping runs `f` with every message `drop` matches lost when its turn to be delivered comes. */
function dropping(net: Net, drop: (s: Sent) => boolean, f: () => void): void {
  net.filter = (s) => !drop(s);
  try {
    f();
  } finally {
    net.filter = null;
  }
}

/** settleDropping delivers until nothing is in flight, losing the messages `drop` matches. */
const settleDropping = (net: Net, drop: (s: Sent) => boolean) => dropping(net, drop, () => net.settle());

/** runForDropping advances time in 10 ms ticks, each followed by delivery, losing the messages `drop` matches. */
const runForDropping = (net: Net, ms: number, drop: (s: Sent) => boolean) =>
  dropping(net, drop, () => net.runFor(ms));

const three = ["n1", "n2", "n3"];
const five = ["n1", "n2", "n3", "n4", "n5"];
const isType = (t: QuorumMessage["type"]) => (s: Sent) => s.message.type === t;

describe("quorum core: W and R counting", () => {
  it("a write is stored locally, sent to the other N-1 replicas, and acknowledged after W acks", () => {
    const net = network(three);
    const id = net.request("n1", { op: "put", key: "k", value: "v" });
    // The coordinator's own copy is in its persisted batch before anything else happens.
    expect(net.disks.get("n1")!.has("k/k")).toBe(true);
    const stores = take(net, isType("store"));
    expect(stores.map((s) => s.to).sort()).toEqual(["n2", "n3"]);
    expect(net.reply(id)).toBeUndefined();
    deliver(net, stores[0]!);
    // The replica persisted before its ack left (same Ready: persist first, then send).
    expect(net.disks.get(stores[0]!.to)!.has("k/k")).toBe(true);
    expect(net.reply(id)).toBeUndefined();
    net.settle(); // the ack
    expect(net.reply(id)).toMatchObject({ ok: true });
    expect(net.reply(id)!.context).toMatch(/^s:/);
  });

  it("w=3 per request waits for every replica; w=1 answers at once", () => {
    const net = network(three);
    const a = net.request("n1", { op: "put", key: "k", value: "v", options: { w: 1 } });
    expect(net.reply(a)).toMatchObject({ ok: true });
    const b = net.request("n1", { op: "put", key: "k", value: "v2", options: { w: 3 } });
    settleDropping(net, (s) => s.message.type === "store-ack" && s.from === "n3");
    expect(net.reply(b)).toBeUndefined();
  });

  it("a read replies after R replies and returns the merged state", () => {
    const net = network(three);
    net.request("n1", { op: "put", key: "k", value: "v", options: { w: 3 } });
    net.settle();
    const id = net.request("n2", { op: "get", key: "k" });
    const fetches = take(net, isType("fetch"));
    expect(fetches.length).toBe(2);
    deliver(net, fetches[0]!);
    net.settle();
    expect(net.reply(id)).toMatchObject({ ok: true, value: "v" });
  });

  it("validates r and w per request against n", () => {
    const net = network(three);
    for (const options of [{ r: 4 }, { w: 4 }, { r: 0 }]) {
      const id = net.request("n1", { op: "get", key: "k", options });
      expect(net.reply(id)?.error?.code).toBe("KV_INVALID_ARGUMENT");
    }
    const bad = net.request("n1", { op: "put", key: "k", value: "v", options: { context: "garbage" } });
    expect(net.reply(bad)?.error?.code).toBe("KV_INVALID_ARGUMENT");
  });

  it("refuses up front with KV_UNAVAILABLE (nothing sent, nothing stored) when fewer than W primaries are up", () => {
    const net = network(three);
    // n2 and n3 fall silent: n1's failure detector suspects them after three heartbeat periods.
    runForDropping(net, 500, (s) => s.from !== "n1");
    net.inflight = [];
    const id = net.request("n1", { op: "put", key: "k", value: "v" });
    expect(net.reply(id)?.error?.code).toBe("KV_UNAVAILABLE");
    expect(net.inflight).toEqual([]);
    expect(net.disks.get("n1")!.has("k/k")).toBe(false);
  });

  it("a write that was sent but not acknowledged in time is KV_TIMEOUT (it may have been applied)", () => {
    const net = network(three);
    const id = net.request("n1", { op: "put", key: "k", value: "v" });
    // The replicas store the write but every ack is lost.
    runForDropping(net, 1000, (s) => s.message.type === "store-ack");
    expect(net.reply(id)?.error?.code).toBe("KV_TIMEOUT");
    expect(net.disks.get("n2")!.has("k/k")).toBe(true);
  });

  it("a read that misses R replies fails definitely with KV_UNAVAILABLE", () => {
    const net = network(three);
    const id = net.request("n1", { op: "get", key: "k" });
    runForDropping(net, 1000, (s) => s.message.type === "fetch-reply");
    expect(net.reply(id)?.error?.code).toBe("KV_UNAVAILABLE");
  });
});

describe("quorum core: siblings and context", () => {
  it("blind concurrent writes become siblings; a write with the read's context resolves them", () => {
    const net = network(three);
    const a = net.request("n1", { op: "put", key: "k", value: "a" });
    const b = net.request("n2", { op: "put", key: "k", value: "b" });
    net.settle();
    expect(net.reply(a)?.ok && net.reply(b)?.ok).toBe(true);
    const g = net.request("n3", { op: "get", key: "k" });
    net.settle();
    const read = net.reply(g)!;
    expect(read.values).toEqual(["a", "b"]);
    expect(read.value).toBeUndefined();
    const w = net.request("n3", { op: "put", key: "k", value: "ab", options: { context: read.context! } });
    net.settle();
    expect(net.reply(w)?.ok).toBe(true);
    const g2 = net.request("n1", { op: "get", key: "k", options: { r: 3 } });
    net.settle();
    expect(net.reply(g2)).toMatchObject({ value: "ab" });
  });

  it("a put without a context supersedes what the coordinator holds, or with blindWrites=sibling adds a sibling", () => {
    for (const [blindWrites, expected] of [
      ["supersede", { value: "b" }],
      ["sibling", { values: ["b", "a"] }], // newest first for one coordinator
    ] as const) {
      const net = network(three, { blindWrites });
      net.request("n1", { op: "put", key: "k", value: "a", options: { w: 3 } });
      net.settle();
      net.request("n1", { op: "put", key: "k", value: "b", options: { w: 3 } });
      net.settle();
      const g = net.request("n2", { op: "get", key: "k" });
      net.settle();
      expect(net.reply(g)).toMatchObject(expected);
    }
  });

  it("refuses a write past maxSiblings with KV_TOO_MANY_SIBLINGS and stores nothing", () => {
    const net = network(three, { maxSiblings: 2, blindWrites: "sibling" });
    net.request("n1", { op: "put", key: "k", value: "a", options: { w: 3 } });
    net.settle();
    net.request("n1", { op: "put", key: "k", value: "b", options: { w: 3 } });
    net.settle();
    const before = JSON.stringify(net.core("n1").stateOf("k"));
    const id = net.request("n1", { op: "put", key: "k", value: "c" });
    expect(net.reply(id)?.error?.code).toBe("KV_TOO_MANY_SIBLINGS");
    expect(JSON.stringify(net.core("n1").stateOf("k"))).toBe(before);
    expect(net.inflight).toEqual([]);
  });

  it("cas compares the value read at R, then writes at W with that read's context", () => {
    const net = network(three);
    const c1 = net.request("n1", { op: "cas", key: "c", expected: null, value: "x" });
    net.settle();
    expect(net.reply(c1)).toMatchObject({ ok: true, swapped: true });
    const c2 = net.request("n2", { op: "cas", key: "c", expected: "y", value: "z" });
    net.settle();
    expect(net.reply(c2)).toMatchObject({ ok: true, swapped: false });
    const c3 = net.request("n3", { op: "cas", key: "c", expected: "x", value: "z" });
    net.settle();
    expect(net.reply(c3)).toMatchObject({ ok: true, swapped: true });
    const g = net.request("n1", { op: "get", key: "c", options: { r: 3 } });
    net.settle();
    expect(net.reply(g)).toMatchObject({ value: "z" });
  });

  it("a write that reaches a node outside the key's replicas is forwarded to one of them", () => {
    const net = network(five);
    const ring = ringNew(five, 8);
    const key = "fwd-key";
    const outsider = five.find((n) => !preferenceList(ring, key, 3).includes(n))!;
    const id = net.request(outsider, { op: "put", key, value: "v" });
    expect(net.inflight.map((s) => s.message.type)).toEqual(["forward"]);
    net.settle();
    expect(net.reply(id)).toMatchObject({ ok: true });
    expect(net.disks.get(outsider)!.has(`k/${key}`)).toBe(false);
    expect(preferenceList(ring, key, 3)).toContain(net.reply(id)!.meta?.coordinator);
  });
});

describe("quorum core: read repair", () => {
  it("background read repair brings a stale replica up to date after replying", () => {
    const net = network(three);
    // The write reaches n1 and n2 only.
    net.request("n1", { op: "put", key: "k", value: "v" });
    settleDropping(net, (s) => s.to === "n3");
    expect(net.core("n3").stateOf("k")).toBeUndefined();
    const id = net.request("n1", { op: "get", key: "k", options: { r: 3 } });
    net.settle();
    expect(net.reply(id)).toMatchObject({ value: "v" });
    expect(net.core("n3").dump().get("k")).toEqual(["v"]);
  });

  it("blocking read repair replies only after N - R + 1 replicas hold the merged state", () => {
    const net = network(three, { readRepair: "blocking" });
    net.request("n1", { op: "put", key: "k", value: "v", options: { w: 1 } });
    net.inflight = []; // the write reached n1 only
    // r=2 answered by n1 (has it) and n3 (does not): the reply waits for n3 to store it.
    const id = net.request("n3", { op: "get", key: "k" });
    settleDropping(net, (s) => s.message.type === "fetch" && s.to === "n2");
    expect(net.reply(id)).toMatchObject({ value: "v" });
    expect(net.core("n3").dump().get("k")).toEqual(["v"]);
    const held = three.filter((n) => net.core(n).dump().has("k")).length;
    expect(held).toBeGreaterThanOrEqual(2);
  });

  it("blocking read repair withholds the reply while repairs are unacknowledged", () => {
    const net = network(three, { readRepair: "blocking" });
    net.request("n1", { op: "put", key: "k", value: "v", options: { w: 1 } });
    net.inflight = [];
    // r=1 answered by n1 alone: the value must reach N - R + 1 = 3 replicas first. Every repair ack is lost.
    const id = net.request("n1", { op: "get", key: "k", options: { r: 1 } });
    settleDropping(net, (s) => s.message.type === "store-ack");
    expect(net.reply(id)).toBeUndefined();
    expect(net.core("n2").dump().get("k")).toEqual(["v"]);
    runForDropping(net, 1000, (s) => s.message.type === "store-ack");
    expect(net.reply(id)?.error?.code).toBe("KV_UNAVAILABLE");
  });

  it("the broken variant copies the oldest reply over the newer replica", () => {
    const net = network(three, {}, quorumBrokenReadRepair);
    net.request("n1", { op: "put", key: "k", value: "old", options: { w: 3 } });
    net.settle();
    const ctx = net.replies.at(-1)!.context!;
    net.request("n1", { op: "put", key: "k", value: "new", options: { w: 1, context: ctx } });
    net.inflight = []; // only n1 has "new"
    const id = net.request("n2", { op: "get", key: "k", options: { r: 3 } });
    net.settle();
    expect(net.reply(id)).toMatchObject({ value: "new" });
    expect(net.core("n1").dump().get("k")).toEqual(["old"]);
  });
});

describe("quorum core: sloppy quorum and hinted handoff", () => {
  it("a write with a primary down goes to a fallback with a hint, which hands it back when the owner returns", () => {
    const net = network(five, { sloppy: true });
    const ring = ringNew(five, 8);
    const key = "hk";
    const [p1, p2, p3] = preferenceList(ring, key, 3) as [string, string, string];
    // p3 is cut off long enough to be suspected by everyone.
    net.isolate(p3);
    net.runFor(500);
    const id = net.request(p1, { op: "put", key, value: "v", options: { w: 3 } });
    const stores = take(net, isType("store"));
    const hinted = stores.find((s) => s.message.type === "store" && s.message.hintFor === p3)!;
    expect(hinted).toBeDefined();
    expect([p2, p3]).not.toContain(hinted.to);
    for (const s of stores) deliver(net, s);
    net.settle();
    expect(net.reply(id)).toMatchObject({ ok: true });
    const fallback = hinted.to;
    expect(net.core(fallback).hintedKeys()).toEqual([`${p3}/${key}`]);
    // The hinted copy is durable at the fallback, and is not the fallback's own data.
    expect([...net.disks.get(fallback)!.keys()].some((k) => k.startsWith("h/"))).toBe(true);
    expect(net.core(fallback).dump().has(key)).toBe(false);
    // p3 returns: heartbeats resume, the fallback hands the hint off and forgets it once acknowledged.
    net.heal();
    net.runFor(1000);
    expect(net.core(p3).dump().get(key)).toEqual(["v"]);
    expect(net.core(fallback).hintedKeys()).toEqual([]);
    expect([...net.disks.get(fallback)!.keys()].some((k) => k.startsWith("h/"))).toBe(false);
  });

  /**
   * hintedWrite cuts off the third primary of `key` until it is suspected, writes `key` at its first primary (a
   * fallback takes the hinted copy), and heals the cut: advancing time lets the primary back in.
   */
  function hintedWrite(key: string, engine = quorumEngine) {
    const net = network(five, { sloppy: true, antiEntropyMs: 0 }, engine);
    const [p1, , p3] = preferenceList(ringNew(five, 8), key, 3) as [string, string, string];
    net.isolate(p3);
    net.runFor(500);
    net.request(p1, { op: "put", key, value: "v" });
    const hinted = net.inflight.find((s) => s.message.type === "store" && s.message.hintFor === p3)!;
    net.settle();
    net.heal();
    return { net, p3, fallback: hinted.to };
  }

  it("a hint survives the fallback's crash and is delivered after restart", () => {
    const key = "hk2";
    const { net, p3, fallback } = hintedWrite(key);
    net.crash(fallback); // and restart from its disk
    net.restart(fallback);
    expect(net.core(fallback).hintedKeys()).toEqual([`${p3}/${key}`]);
    net.runFor(1000);
    expect(net.core(p3).dump().get(key)).toEqual(["v"]);
  });

  it("the drop-hints variant acknowledges a hinted write and never delivers it", () => {
    const key = "hk3";
    const { net, p3, fallback } = hintedWrite(key, quorumBrokenDropHints);
    expect(net.core(fallback).hintedKeys()).toEqual([]);
    net.runFor(1000);
    expect(net.core(p3).dump().has(key)).toBe(false);
  });
});

describe("quorum core: deletes and tombstones", () => {
  it("a delete without a context reads first and supersedes what it read; the value does not come back", () => {
    const net = network(three, { antiEntropyMs: 0 });
    net.request("n1", { op: "put", key: "k", value: "v", options: { w: 3 } });
    net.settle();
    const stale = structuredClone(net.core("n3").stateOf("k")!);
    const d = net.request("n1", { op: "delete", key: "k" });
    net.settle();
    expect(net.reply(d)?.ok).toBe(true);
    // A late copy of the old value (a delayed repair, a hint) arrives after the delete.
    net.core("n2").step("n3", { type: "store", op: "", key: "k", state: stale });
    net.flush("n2");
    const g = net.request("n2", { op: "get", key: "k", options: { r: 3 } });
    net.settle();
    expect(net.reply(g)).toMatchObject({ value: null });
  });

  it("a delete with a stale context still hides values written before it (it reads first)", () => {
    const net = network(three);
    const w1 = net.request("n1", { op: "put", key: "k", value: "mine", options: { w: 3 } });
    net.settle();
    const stale = net.reply(w1)!.context!;
    // Another client's blind write at another coordinator: concurrent with "mine" as far as DVVs can tell.
    net.request("n2", { op: "put", key: "k", value: "theirs", options: { w: 3, context: "s:" } });
    net.settle();
    const d = net.request("n1", { op: "delete", key: "k", options: { context: stale } });
    net.settle();
    expect(net.reply(d)?.ok).toBe(true);
    const g = net.request("n3", { op: "get", key: "k", options: { r: 3 } });
    net.settle();
    expect(net.reply(g)).toMatchObject({ value: null });
  });

  it("reaps tombstones after the delay but keeps the causal context, so older copies stay dead", () => {
    const net = network(three, { tombstoneReapMs: 1000, antiEntropyMs: 0 });
    net.request("n1", { op: "put", key: "k", value: "v", options: { w: 3 } });
    net.settle();
    const stale = structuredClone(net.core("n3").stateOf("k")!);
    net.request("n1", { op: "delete", key: "k", options: { w: 3 } });
    net.settle();
    const dead = JSON.stringify(net.core("n1").stateOf("k"));
    expect(dead).toContain("null");
    net.runFor(1500);
    const reaped = net.core("n1").stateOf("k")!;
    expect(JSON.stringify(reaped)).not.toContain("null");
    net.core("n1").step("n3", { type: "store", op: "", key: "k", state: stale });
    net.flush("n1");
    expect(net.core("n1").dump().has("k")).toBe(false);
  });
});

describe("quorum core: anti-entropy and durability", () => {
  it("anti-entropy converges replicas of keys nobody reads", () => {
    const net = network(five, { antiEntropyMs: 200 });
    for (let i = 0; i < 20; i++)
      net.request("n1", { op: "put", key: `k${i}`, value: `v${i}`, options: { w: 1 } });
    // Every replication message is lost: only the coordinators (or first replica) hold the writes.
    settleDropping(net, (s) => s.message.type === "store" || s.message.type === "forward-reply");
    net.runFor(3000);
    const ring = ringNew(five, 8);
    for (let i = 0; i < 20; i++) {
      const replicas = preferenceList(ring, `k${i}`, 3);
      for (const r of replicas) expect(net.core(r).dump().get(`k${i}`), `k${i} at ${r}`).toEqual([`v${i}`]);
    }
  });

  it("a slow link carries one anti-entropy exchange at a time, and the replicas still converge", () => {
    const net = network(three, { antiEntropyMs: 200 });
    for (let i = 0; i < 30; i++)
      net.request("n1", { op: "put", key: `k${i}`, value: `${i}`.padEnd(200_000, "."), options: { w: 1 } });
    settleDropping(net, (s) => s.message.type === "store");
    // Every message takes 450 ms, longer than two anti-entropy periods: each period used to start another
    // exchange beside the running ones, all shipping the same first differing keys.
    const inFlight: { s: Sent; at: number }[] = [];
    let worst = 0;
    for (let t = 10; t <= 20_000; t += 10) {
      net.now = t;
      for (const id of three) {
        net.core(id).tick(t);
        net.flush(id);
      }
      for (const s of net.inflight.splice(0)) inFlight.push({ s, at: t + 450 });
      const open = new Map<string, number>();
      for (const f of inFlight) {
        // A tree or a key list is one step of one exchange: their count is the number of exchanges running.
        if (f.s.message.type !== "ae-tree" && f.s.message.type !== "ae-keys") continue;
        const pair = [f.s.from, f.s.to].sort().join("-");
        open.set(pair, (open.get(pair) ?? 0) + 1);
      }
      worst = Math.max(worst, ...open.values());
      while (inFlight.length > 0 && inFlight[0]!.at <= t) deliver(net, inFlight.shift()!.s);
    }
    // At most one exchange started from each end (both may start before either hears the other).
    expect(worst).toBeLessThanOrEqual(2);
    for (const n of ["n2", "n3"]) expect(net.core(n).dump(), n).toEqual(net.core("n1").dump());
  });

  it("a restarted node keeps what it acknowledged", () => {
    const net = network(three);
    const id = net.request("n1", { op: "put", key: "k", value: "v" });
    net.settle();
    expect(net.reply(id)?.ok).toBe(true);
    for (const n of three) {
      net.crash(n);
      net.restart(n);
    }
    const g = net.request("n2", { op: "get", key: "k", options: { r: 3 } });
    net.settle();
    expect(net.reply(g)).toMatchObject({ value: "v" });
  });

  it("LWW keeps the write with the greatest HLC stamp on every replica", () => {
    const net = network(three, { conflicts: "lww" });
    net.runFor(10);
    const a = net.request("n1", { op: "put", key: "k", value: "a" });
    net.runFor(10);
    const b = net.request("n2", { op: "put", key: "k", value: "b" });
    net.settle();
    expect(net.reply(a)?.ok && net.reply(b)?.ok).toBe(true);
    for (const n of three) expect(net.core(n).dump().get("k")).toEqual(["b"]);
  });
});

describe("quorum core: strict quorums are not linearizable (DDIA Figure 9-6)", () => {
  it("a read sees a write in flight, a later read misses it, and the checker rejects the history", () => {
    const net = network(three);
    const w0 = net.request("n1", { op: "put", key: "x", value: "old", options: { w: 3 } });
    net.settle();
    const ctx = net.reply(w0)!.context!;
    // The writer's new value is stored at n1; its copies to n2 and n3 are slow (held back).
    net.request("n1", { op: "put", key: "x", value: "new", options: { context: ctx } });
    const slow = take(net, isType("store"));
    expect(slow.length).toBe(2);
    // Reader A (at n1, R=2 with n2) sees the new value; its read repair to n2 is slow too.
    const a = net.request("n1", { op: "get", key: "x" });
    take(net, (s) => s.message.type === "fetch" && s.to === "n3");
    settleDropping(net, (s) => s.message.type === "store");
    expect(net.reply(a)).toMatchObject({ value: "new" });
    // Reader B starts after A finished, at n3 with n2: both still hold the old value.
    const b = net.request("n3", { op: "get", key: "x" });
    take(net, (s) => s.message.type === "fetch" && s.to === "n1");
    settleDropping(net, (s) => s.message.type === "store");
    expect(net.reply(b)).toMatchObject({ value: "old" });
    const history = parseHistory([
      { process: 0, type: "invoke", f: "write", key: "x", value: "old", time: 1 },
      { process: 0, type: "ok", f: "write", key: "x", value: "old", time: 2 },
      { process: 1, type: "invoke", f: "write", key: "x", value: "new", time: 3 },
      { process: 2, type: "invoke", f: "read", key: "x", time: 4 },
      { process: 2, type: "ok", f: "read", key: "x", value: "new", time: 5 },
      { process: 3, type: "invoke", f: "read", key: "x", time: 6 },
      { process: 3, type: "ok", f: "read", key: "x", value: "old", time: 7 },
    ]);
    expect(checkLinearizableSync(history).verdict).toBe("violation");
  });
});

describe("quorum core: malformed peer messages", () => {
  it("drops messages without the expected shape instead of throwing", () => {
    const net = network(three);
    const junk: unknown[] = [
      null,
      42,
      { type: "nope" },
      { type: "store", op: "", key: "k", state: { t: "s", set: { entries: [["n1", 0, ["x"]]] } } },
      { type: "store", op: 1, key: "k" },
      { type: "forward", fwd: "f", req: null, timeoutMs: 5 },
      { type: "forward", fwd: "f", req: { id: "x", op: "put", key: "" }, timeoutMs: 5 },
      { type: "ae-tree", group: "n1,n2,n3", tree: { leaves: 3, nodes: [] } },
      { type: "ae-keys", group: "n1,n2,n3", buckets: [0], digests: [[1, 2]], more: true },
      { type: "ae-want", group: "n1,n2,n3", keys: [1, null] },
      { type: "ae-states", group: "n1,n2,n3", states: [[1, 2], null, "x"], more: false },
      { type: "handoff", key: "k", digest: "d", state: "nope" },
      { type: "fetch-reply", op: "x", key: "k", state: { t: "l" } },
    ];
    for (const m of junk) expect(() => net.core("n1").step("n2", m as QuorumMessage)).not.toThrow();
    net.flush("n1");
    expect(net.core("n1").dump().size).toBe(0);
  });
});

describe("quorum core: duplicated messages", () => {
  it("runs a duplicated forward once: a cas is not executed twice", () => {
    const net = network(five);
    const ring = ringNew(five, 8);
    const key = "dup-key";
    const outsider = five.find((n) => !preferenceList(ring, key, 3).includes(n))!;
    const id = net.request(outsider, { op: "cas", key, expected: null, value: "x" });
    const [fwd] = take(net, isType("forward"));
    deliver(net, fwd!);
    deliver(net, fwd!);
    // One read phase: the replica asked its two peers once, not twice.
    expect(net.inflight.filter((s) => s.message.type === "fetch").length).toBe(2);
    net.settle();
    expect(net.reply(id)).toMatchObject({ ok: true, swapped: true });
    expect(net.inflight).toEqual([]);
    const g = net.request(outsider, { op: "get", key, options: { r: 3 } });
    net.settle();
    expect(net.reply(g)).toMatchObject({ value: "x" });
  });
});

describe("quorum core: cloneable state", () => {
  for (const engine of [quorumEngine, quorumBrokenReadRepair, quorumBrokenDropHints]) {
    it(`${engine.name}: a clone and its original give equal Readys for the same inputs`, () => {
      const net = network(five, { sloppy: true, antiEntropyMs: 200, tombstoneReapMs: 300 }, engine);
      const cut = (s: Sent) => s.from === "n5" || s.to === "n5";
      net.runFor(50);
      for (let i = 0; i < 6; i++) net.request(five[i % 5]!, { op: "put", key: `k${i}`, value: `a${i}` });
      net.settle();
      // n5 is cut off until it is suspected: writes of its keys go to fallbacks with hints.
      runForDropping(net, 500, cut);
      for (let i = 0; i < 6; i++)
        net.request(five[(i + 2) % 5]!, { op: "put", key: `k${i}`, value: `b${i}` });
      net.request("n1", { op: "delete", key: "k1" });
      net.request("n2", { op: "cas", key: "k2", expected: "b2", value: "c2" });
      net.request("n3", { op: "get", key: "k3" });
      // Half of what is in flight is delivered: requests are left pending, messages in flight.
      for (const s of net.inflight.splice(0, Math.floor(net.inflight.length / 2)))
        if (!cut(s)) deliver(net, s);
      expect([...net.cores.values()].some((c) => (c.status().pending as number) > 0)).toBe(true);
      expect([...net.cores.values()].some((c) => (c.status().hints as number) > 0)).toBe(
        engine !== quorumBrokenDropHints,
      );

      // The whole network is cloned (every core through its own clone()), and both copies are driven alike.
      const twin = net.clone();
      for (const id of five) {
        expect(twin.core(id)).not.toBe(net.core(id));
        expect(Object.getPrototypeOf(twin.core(id))).toBe(Object.getPrototypeOf(net.core(id)));
        expect(twin.core(id).fingerprint()).toBe(net.core(id).fingerprint());
      }
      // Every Ready either drains, with its core's fingerprint right after, must be the same in both.
      const logs = new Map<Net, string[]>();
      for (const n of [net, twin]) {
        const log: string[] = [];
        logs.set(n, log);
        n.onReady = (id, rd) => log.push(`${id} ${JSON.stringify(rd)} ${n.core(id).fingerprint()}`);
      }
      let compared = 0;
      const observe = (n: Net) => {
        const readys = logs.get(n)!.splice(0);
        if (n === net) compared += readys.length;
        return JSON.stringify([readys, [...n.cores.values()].map((c) => c.fingerprint())]);
      };
      // The same further inputs: the rest of the messages, more requests, the heal, handoff, anti-entropy, reaping
      // and deadlines.
      const seen = new Set<string>();
      const track = (s: Sent) => {
        seen.add(s.message.type);
        return false;
      };
      const [p1] = preferenceList(ringNew(five, 8), "k9", 3);
      const script: ((n: Net) => void)[] = [
        (n) => settleDropping(n, track),
        (n) => n.request("n4", { op: "get", key: "k1", options: { r: 3 } }),
        // A write that reaches its coordinator only: anti-entropy has a difference to find.
        (n) => {
          n.request(p1!, { op: "put", key: "k9", value: "e9", options: { w: 1 } });
          take(n, isType("store"));
        },
        (n) => runForDropping(n, 300, (s) => cut(s) || track(s)),
        (n) => n.request("n2", { op: "get", key: "k0", options: { blockingReadRepair: true } }),
        (n) => runForDropping(n, 2000, track),
      ];
      expect(lockstep(net, twin, script, observe)).toBeUndefined();
      const handoff = engine === quorumBrokenDropHints ? [] : ["handoff"];
      for (const t of ["store", "fetch", "ae-tree", "ae-keys", "ae-states", ...handoff])
        expect(seen, t).toContain(t);
      expect(compared).toBeGreaterThan(500);
    });
  }

  it("a clone is independent: changing it does not change the original", () => {
    const net = network(three);
    net.request("n1", { op: "put", key: "k", value: "v" });
    net.settle();
    const original = net.core("n1");
    const before = original.fingerprint();
    const c = original.clone();
    c.request({ id: "x", op: "put", key: "k", value: "changed" });
    c.step("n2", { type: "store", op: "", key: "j", state: structuredClone(original.stateOf("k")!) });
    c.tick(5000);
    expect(c.ready().send.length).toBeGreaterThan(0);
    expect(c.fingerprint()).not.toBe(before);
    expect(original.fingerprint()).toBe(before);
    expect(original.dump()).toEqual(new Map([["k", ["v"]]]));
    expect(original.ready()).toEqual({ persist: [], send: [], replies: [] });
  });
});
