import {
  type ClientReply,
  type ClientRequest,
  type EngineDefinition,
  type HistoryEvent,
  memoryEngine,
  NOTHING,
} from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { runSimulation } from "./run-simulation.js";
import { echoEngine, forwardEngine } from "./testing.js";
import type { SimConfig, SimResult } from "./types.js";

/** wellFormed returns the problems of a history: per process, invoke then exactly one completion, same f/key. */
function wellFormed(r: SimResult, clients: number): string[] {
  const problems: string[] = [];
  const open = new Map<number | string, HistoryEvent>();
  let lastTime = -1;
  for (const e of r.history) {
    if (e.time === undefined || e.time < lastTime)
      problems.push(`time not monotonic at ${JSON.stringify(e)}`);
    lastTime = e.time ?? lastTime;
    const final = e.meta?.final === true;
    if (final !== (typeof e.process === "number" && e.process >= clients))
      problems.push(`process/final mismatch ${JSON.stringify(e)}`);
    const inv = open.get(e.process);
    if (e.type === "invoke") {
      if (inv) problems.push(`process ${e.process} invoked twice`);
      open.set(e.process, e);
    } else {
      if (!inv) problems.push(`completion without invoke ${JSON.stringify(e)}`);
      else if (inv.f !== e.f || inv.key !== e.key)
        problems.push(`completion does not match its invoke ${JSON.stringify(e)}`);
      if (e.type === "ok" && e.f === "read" && e.value === undefined && e.values === undefined)
        problems.push("read ok without value");
      if (e.type !== "ok" && e.f !== "cas" && e.error === undefined)
        problems.push(`fail/info without error ${JSON.stringify(e)}`);
      open.delete(e.process);
    }
  }
  if (open.size > 0) problems.push(`ops left open: ${[...open.keys()].join(",")}`);
  return problems;
}

function writtenValues(r: SimResult): string[] {
  return r.history
    .filter((e) => e.type === "invoke" && (e.f === "write" || e.f === "cas"))
    .map((e) => `${e.key}=${e.f === "write" ? e.value : (e.value as unknown[])[1]}`);
}

/** Seeds per config: a small fixed sample by default, hundreds under `pnpm soak`. */
const SEEDS = process.env.CLAB_SOAK ? 300 : 6;

describe("runSimulation", () => {
  const configs: [string, (seed: number) => SimConfig][] = [
    ["echo, all faults", (seed) => ({ engine: echoEngine, seed, faults: "all", workload: { ops: 120 } })],
    [
      "memory, no faults",
      (seed) => ({
        engine: memoryEngine,
        seed,
        workload: { ops: 120, mix: { read: 1, write: 1, cas: 1, delete: 1 } },
      }),
    ],
    [
      "forward, crash+pause",
      (seed) => ({
        engine: forwardEngine,
        seed,
        nodes: 5,
        faults: ["crash", "pause"],
        workload: { ops: 120 },
      }),
    ],
  ];
  for (const [name, make] of configs) {
    it(`records well-formed histories with unique written values (${name})`, () => {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const config = make(seed);
        const r = runSimulation(config);
        const clients = r.workload.clients;
        expect(wellFormed(r, clients), `seed ${seed}`).toEqual([]);
        const written = writtenValues(r);
        expect(new Set(written).size, `seed ${seed}`).toBe(written.length);
        const invokes = r.history.filter((e) => e.type === "invoke" && e.meta?.final !== true).length;
        expect(invokes, `seed ${seed}`).toBe(120);
        expect(r.stats.ok + r.stats.fail + r.stats.info).toBe(r.history.length / 2);
        // Final reads: one per key per live node.
        const finals = r.history.filter((e) => e.type === "invoke" && e.meta?.final === true).length;
        expect(finals, `seed ${seed}`).toBe(r.nodes.length * 3);
      }
    });
  }

  it("is deterministic: same config, same history and trace hash; another seed differs", () => {
    const config: SimConfig = { engine: echoEngine, seed: 21, faults: "all", workload: { ops: 150 } };
    const a = runSimulation(config);
    const b = runSimulation({ ...config });
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.history).toEqual(a.history);
    expect(b.faults).toEqual(a.faults);
    expect(runSimulation({ ...config, seed: 22 }).traceHash).not.toBe(a.traceHash);
  });

  it("reads the last write on the one-node reference engine (a sequential check of the recorder)", () => {
    const r = runSimulation({
      engine: memoryEngine,
      seed: 3,
      workload: { clients: 1, ops: 200, mix: { read: 2, write: 1, cas: 1, delete: 1 } },
    });
    const state = new Map<string, string | null>();
    const inv = new Map<number | string, HistoryEvent>();
    for (const e of r.history) {
      if (e.type === "invoke") {
        inv.set(e.process, e);
        continue;
      }
      const i = inv.get(e.process)!;
      const key = e.key!;
      if (e.f === "read" && e.type === "ok")
        expect(e.value, `seed 3 at ${e.time}`).toBe(state.get(key) ?? null);
      if (e.f === "write" && e.type === "ok") state.set(key, i.value as string);
      if (e.f === "delete" && e.type === "ok") state.set(key, null);
      if (e.f === "cas") {
        const [expected, next] = i.value as [string | null, string];
        expect(e.type, `cas at ${e.time}`).toBe((state.get(key) ?? null) === expected ? "ok" : "fail");
        if (e.type === "ok") state.set(key, next);
      }
    }
    expect(r.history.some((e) => e.f === "cas" && e.type === "ok")).toBe(true);
    expect(r.finalState.n1).toEqual(
      Object.fromEntries(
        [...state]
          .filter(([, v]) => v !== null)
          .sort()
          .map(([k, v]) => [k, [v]]),
      ),
    );
  });

  it("follows KV_NOT_LEADER hints to the leader within the op", () => {
    const r = runSimulation({ engine: echoEngine, seed: 4, workload: { ops: 60, switchNodeRate: 0.5 } });
    const work = r.history.filter((e) => e.type !== "invoke" && e.meta?.final !== true);
    expect(work.length).toBe(60);
    expect(work.every((e) => e.node === "n1")).toBe(true);
    expect(work.some((e) => e.error === "KV_NOT_LEADER")).toBe(false);
  });

  it("records ops whose deadline passes as info with KV_TIMEOUT", () => {
    const r = runSimulation({
      engine: echoEngine,
      seed: 5,
      workload: { ops: 50, deadlineMs: 100 },
      faults: [{ at: 0, pause: { node: "n1", ms: 60_000 } }],
    });
    const work = r.history.filter((e) => e.type !== "invoke" && e.meta?.final !== true);
    expect(work.length).toBe(50);
    expect(work.every((e) => e.type === "info" && e.error === "KV_TIMEOUT")).toBe(true);
    // Recovery ends the pause, so the final reads at the leader succeed.
    expect(r.history.some((e) => e.meta?.final === true && e.type === "ok" && e.node === "n1")).toBe(true);
    expect(r.stats.faultsApplied).toBe(1);
  });

  it("fails ops definitely when only a crashed leader could serve them, as refused connections do", () => {
    const r = runSimulation({
      engine: echoEngine,
      seed: 5,
      workload: { ops: 50, deadlineMs: 100 },
      faults: [{ at: 0, crash: "n1" }],
    });
    const work = r.history.filter((e) => e.type !== "invoke" && e.meta?.final !== true);
    expect(work.length).toBe(50);
    // Nothing succeeds. An op whose attempts were all refused — by the down node (connection refused) or a
    // follower (not leader) — certainly did not happen: a definite fail with that code. Only an op whose last
    // attempt was still travelling at its deadline has an unknown outcome.
    expect(work.some((e) => e.type === "ok")).toBe(false);
    const fails = work.filter((e) => e.type === "fail");
    expect(fails.length).toBeGreaterThan(25);
    expect(fails.every((e) => ["KV_UNAVAILABLE", "KV_NOT_LEADER"].includes(e.error!))).toBe(true);
    expect(work.filter((e) => e.type === "info").every((e) => e.error === "KV_TIMEOUT")).toBe(true);
    expect(r.history.some((e) => e.meta?.final === true && e.type === "ok" && e.node === "n1")).toBe(true);
  });

  it("moves a client to another node after a timeout", () => {
    const r = runSimulation({
      engine: forwardEngine,
      seed: 12,
      workload: { clients: 3, ops: 30, switchNodeRate: 0, deadlineMs: 200 },
      faults: [{ at: 0, pause: { node: "n2", ms: 60_000 } }],
    });
    const p1 = r.history.filter((e) => e.process === 1 && e.type !== "invoke");
    expect(p1).toHaveLength(10);
    expect(p1[0]).toMatchObject({ type: "info", error: "KV_TIMEOUT", node: "n2" });
    expect(p1.slice(1).every((e) => e.type !== "info" && e.node !== "n2")).toBe(true);
  });

  it("skips a 'leader' fault when nobody leads and records it", () => {
    const r = runSimulation({
      engine: echoEngine,
      seed: 6,
      workload: { ops: 10 },
      faults: [
        { at: 0, crash: "n1" },
        { at: 1, crash: "leader" },
      ],
    });
    expect(r.stats.faultsApplied).toBe(1);
    expect(r.stats.faultsSkipped).toBe(1);
  });

  it("materializes randomized faults into a replayable schedule ending with heal and restart", () => {
    const r = runSimulation({ engine: echoEngine, seed: 8, faults: "all", workload: { ops: 100 } });
    expect(r.faults.length).toBeGreaterThanOrEqual(2);
    expect(r.faults.slice(-2)).toEqual([
      { at: expect.any(Number), heal: true },
      { at: expect.any(Number), restart: "*" },
    ]);
    expect(r.stats.faultsApplied + r.stats.faultsSkipped).toBe(r.faults.length);
    const again = runSimulation({
      engine: echoEngine,
      seed: 8,
      faults: r.faults,
      network: r.network,
      workload: r.workload,
      plan: r.plan,
      persistLatencyMs: r.persistLatencyMs,
    });
    expect(again.traceHash).toBe(r.traceHash);
  });

  it("records siblings as values and passes the causal context and session token back", () => {
    const seen: ClientRequest[] = [];
    let n = 0;
    const siblings: EngineDefinition = {
      name: "siblings",
      description: "test: every get returns two siblings",
      options: [],
      defaultNodes: 1,
      supports: () => NOTHING,
      create: (init) => {
        let replies: ClientReply[] = [];
        return {
          id: init.id,
          step() {},
          tick() {},
          request(req: ClientRequest) {
            seen.push(req);
            const token = `t${++n}`;
            replies.push(
              req.op === "get"
                ? { id: req.id, ok: true, values: ["a", "b"], context: `ctx-${req.key}`, token }
                : { id: req.id, ok: true, swapped: true, token },
            );
          },
          ready() {
            const r = { persist: [], send: [], replies };
            replies = [];
            return r;
          },
          status: () => ({ id: init.id, role: "replica" }),
        };
      },
    };
    const plan = {
      clients: [
        [
          { op: "get" as const, key: "k0" },
          { op: "put" as const, key: "k0", value: "0-1" },
          { op: "put" as const, key: "k1", value: "0-2" },
        ],
      ],
    };
    const r = runSimulation({ engine: siblings, seed: 1, plan, workload: { clients: 1, keys: 2 } });
    const read = r.history.find((e) => e.type === "ok" && e.f === "read")!;
    expect(read.values).toEqual(["a", "b"]);
    expect("value" in read).toBe(false);
    const work = seen.filter((q) => q.session?.clientId === "c0");
    expect(work.map((q) => q.options?.context)).toEqual([undefined, "ctx-k0", undefined]);
    expect(work.map((q) => q.session?.token)).toEqual([undefined, "t1", "t2"]);
    expect(work.map((q) => q.session?.seq)).toEqual([1, 2, 3]);
  });
});

describe("runSimulation workload valueBytes", () => {
  it("pads written values to valueBytes, keeping them unique", () => {
    const r = runSimulation({
      engine: memoryEngine,
      seed: 5,
      faults: "none",
      workload: { ops: 40, valueBytes: 300, mix: { write: 1 } },
    });
    const written = r.history.filter((e) => e.type === "invoke" && e.f === "write").map((e) => e.value);
    expect(written.length).toBe(40);
    for (const v of written) expect(v).toHaveLength(300);
    expect(new Set(written).size).toBe(40);
  });
});
