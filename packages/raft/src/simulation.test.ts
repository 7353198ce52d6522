import { checkResult, simConfig } from "@consistency-lab/conformance";
import { type ClientReply, type ClientRequest, resolveOptions } from "@consistency-lab/kv";
import { isTimeout, runSimulation, SimCluster } from "@consistency-lab/sim";
import { describe, expect, it } from "vitest";
import { raftEngine } from "./index.js";

// SimCluster tests: whole clusters under the simulator's faults. Each prints its seed on failure.
const SEEDS = [1, 2, 3, 4, 5];

function cluster(seed: number, nodes = 3, options: Record<string, string | number | boolean> = {}) {
  const c = new SimCluster({ engine: raftEngine, seed, nodes, options });
  expect(
    c.runUntil(() => c.leader() !== undefined, 3000),
    `seed ${seed}: no leader`,
  ).toBe(true);
  return c;
}

function call(
  c: SimCluster,
  node: string,
  req: Omit<ClientRequest, "id">,
  deadlineMs = 2000,
): ClientReply | undefined {
  // Follow leader hints like a client does.
  let target = node;
  for (let i = 0; i < 5; i++) {
    const r = c.request(target, req, { deadlineMs });
    if (isTimeout(r)) return undefined;
    if (r.error?.code === "KV_NOT_LEADER" && r.error.leader) {
      target = r.error.leader;
      continue;
    }
    return r;
  }
  return undefined;
}

describe("raft in the simulator", () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: an isolated leader is replaced; the majority keeps committing; the old leader rejoins`, () => {
      const c = cluster(seed);
      const l1 = c.leader()!;
      expect(call(c, l1, { op: "put", key: "x", value: "1" })?.ok, `seed ${seed}`).toBe(true);
      const rest = c.nodes.filter((n) => n !== l1);
      c.partition([[l1], rest]);
      expect(
        c.runUntil(() => rest.some((n) => c.status(n).role === "leader"), 3000),
        `seed ${seed}`,
      ).toBe(true);
      const l2 = rest.find((n) => c.status(n).role === "leader")!;
      expect(call(c, l2, { op: "put", key: "x", value: "2" })?.ok, `seed ${seed}`).toBe(true);
      // The old leader cannot commit or confirm a read on its own.
      const stale = c.request(l1, { op: "get", key: "x" }, { deadlineMs: 500 });
      expect(
        isTimeout(stale) || stale.ok === false,
        `seed ${seed}: isolated node answered a linearizable read`,
      ).toBe(true);
      c.heal();
      c.runFor(1000);
      expect(c.status(l1).role, `seed ${seed}`).not.toBe("leader");
      expect(c.core(l1)!.dump!().get("x"), `seed ${seed}`).toEqual(["2"]);
    });

    it(`seed ${seed}: a follower crashes and restarts and catches up (snapshot + log tail)`, () => {
      const c = cluster(seed, 3, { snapshotEvery: 10 });
      const l = c.leader()!;
      const f = c.nodes.find((n) => n !== l)!;
      c.crash(f);
      for (let i = 0; i < 30; i++)
        expect(call(c, l, { op: "put", key: `k${i % 4}`, value: String(i) })?.ok, `seed ${seed}`).toBe(true);
      c.restart(f);
      c.runFor(1000);
      expect(c.core(f)!.dump!(), `seed ${seed}`).toEqual(c.core(c.leader()!)!.dump!());
    });

    it(`seed ${seed}: liveness: after a majority crash and a heal, a leader is elected and pending writes complete`, () => {
      const c = cluster(seed, 5);
      const [a, b, d] = c.nodes;
      c.crash(a!);
      c.crash(b!);
      c.crash(d!);
      const replies: ClientReply[] = [];
      const live = c.nodes.filter((n) => !c.isCrashed(n));
      for (let i = 0; i < 5; i++)
        c.submit(
          live[i % live.length]!,
          { op: "put", key: `p${i}`, value: "v", session: { clientId: `c${i}`, seq: 1 } },
          (r) => replies.push(r),
        );
      c.runFor(500);
      expect(
        replies.filter((r) => r.ok),
        `seed ${seed}: wrote without a majority`,
      ).toHaveLength(0);
      for (const n of [a!, b!, d!]) c.restart(n);
      // Retry what was refused, like a client would, with the same session seq (exactly-once).
      const done = c.runUntil(() => c.leader() !== undefined, 2000);
      expect(done, `seed ${seed}: no leader after restart`).toBe(true);
      for (let i = 0; i < 5; i++) {
        expect(
          call(
            c,
            c.leader()!,
            { op: "put", key: `p${i}`, value: "v", session: { clientId: `c${i}`, seq: 1 } },
            2000,
          )?.ok,
          `seed ${seed}`,
        ).toBe(true);
      }
    });

    it(`seed ${seed}: a one-way partition that silences the leader's followers makes it step down`, () => {
      const c = cluster(seed);
      const l = c.leader()!;
      const rest = c.nodes.filter((n) => n !== l);
      c.partitionOneWay(rest, [l]);
      c.runFor(2000);
      expect(c.status(l).role, `seed ${seed}`).not.toBe("leader");
      c.heal();
      expect(
        c.runUntil(() => c.leader() !== undefined, 2000),
        `seed ${seed}`,
      ).toBe(true);
      expect(call(c, c.leader()!, { op: "put", key: "y", value: "1" })?.ok, `seed ${seed}`).toBe(true);
    });
  }

  it("writes survive every node crashing and restarting", () => {
    const c = cluster(9, 3, { snapshotEvery: 5 });
    for (let i = 0; i < 12; i++)
      expect(call(c, c.leader()!, { op: "put", key: `k${i}`, value: String(i) })?.ok).toBe(true);
    for (const n of c.nodes) c.crash(n);
    for (const n of c.nodes) c.restart(n);
    expect(c.runUntil(() => c.leader() !== undefined, 3000)).toBe(true);
    for (let i = 0; i < 12; i++)
      expect(call(c, c.leader()!, { op: "get", key: `k${i}` })?.value).toBe(String(i));
  });

  it("membership through admin commands: add a learner, promote it, remove an old voter", () => {
    const c = new SimCluster({ engine: raftEngine, seed: 4, nodes: 4, options: { voters: 3 } });
    expect(c.runUntil(() => c.leader() !== undefined, 3000)).toBe(true);
    const l = c.leader()!;
    expect(call(c, l, { op: "put", key: "m", value: "1" })?.ok).toBe(true);
    const add = c.admin(l, { command: "add-learner", args: { node: "n4" } });
    expect(isTimeout(add) ? add : add.ok).toBe(true);
    c.runFor(500);
    expect(c.status("n4").role).toBe("learner");
    const pro = c.admin(c.leader()!, { command: "promote", args: { node: "n4" } });
    expect(isTimeout(pro) ? pro : pro.ok).toBe(true);
    const victim = c.nodes.find((n) => n !== c.leader() && n !== "n4")!;
    const rm = c.admin(c.leader()!, { command: "remove-member", args: { node: victim } });
    expect(isTimeout(rm) ? rm : rm.ok).toBe(true);
    c.crash(victim);
    expect(call(c, c.leader()!, { op: "put", key: "m", value: "2" })?.ok).toBe(true);
    expect(c.status(c.leader()!).voters).toHaveLength(3);
  });

  it("same seed, same trace hash", () => {
    const run = () => {
      const c = cluster(11);
      call(c, c.leader()!, { op: "put", key: "x", value: "1" });
      c.partition([[c.nodes[0]!], c.nodes.slice(1)]);
      c.runFor(1000);
      return c.traceHash();
    };
    expect(run()).toBe(run());
  });
});

describe("raft with a slow disk (persistLatencyMs): the sendEarly path under faults", () => {
  // Appends leave before the leader's own write is durable (thesis §10.2.1); replies wait for it. A crash loses the
  // batches not yet durable. Every declared guarantee must still hold.
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}`, () => {
      const options = resolveOptions(raftEngine.options, {});
      const config = { ...simConfig({ engine: raftEngine, faults: "all" }, seed), persistLatencyMs: 4 };
      const run = checkResult(raftEngine, options, config, runSimulation(config));
      expect(
        run.violations.map((v) => v.guarantee),
        `seed ${seed}`,
      ).toEqual([]);
      expect(run.result.stats.ok, `seed ${seed}: no progress`).toBeGreaterThan(0);
    });
  }
});
