import { Rng } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { faultStepKey, randomFaults } from "./faults.js";
import { checkTargets, validateFaultSteps } from "./scenario.js";
import { FAULT_KINDS, type FaultStep } from "./types.js";

const nodes = ["n1", "n2", "n3", "n4", "n5"];

/** maxCrashedAtOnce replays crash/restart steps by node id ("leader" counts as one more node). */
function maxCrashedAtOnce(faults: FaultStep[]): number {
  const down = new Set<string>();
  let leaderDown = 0;
  let max = 0;
  for (const f of faults) {
    const s = f as Record<string, any>;
    if (typeof s.crash === "string") {
      if (s.crash === "leader") leaderDown++;
      else down.add(s.crash);
    }
    if (typeof s.restart === "string") {
      if (s.restart === "*") {
        down.clear();
        leaderDown = 0;
      } else down.delete(s.restart);
    }
    max = Math.max(max, down.size + leaderDown);
  }
  return max;
}

describe("randomFaults", () => {
  it("produces valid, sorted schedules that end with heal and restart-all", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { faults, network } = randomFaults(new Rng(seed), nodes, FAULT_KINDS, 5000);
      expect(validateFaultSteps(faults), `seed ${seed}`).toEqual([]);
      expect(checkTargets(faults, nodes), `seed ${seed}`).toEqual([]);
      for (let i = 1; i < faults.length; i++) expect(faults[i]!.at).toBeGreaterThanOrEqual(faults[i - 1]!.at);
      expect(faults.at(-2)).toEqual({ at: 5000, heal: true });
      expect(faults.at(-1)).toEqual({ at: 5000, restart: "*" });
      for (const r of [network.loss, network.dup, network.reorder])
        if (r !== undefined) expect(r).toBeLessThanOrEqual(1);
    }
  });

  it("varies which kinds are active per seed (swarm testing) and keeps a majority up in most seeds", () => {
    const kindSets = new Set<string>();
    let majorityKept = 0;
    let withCrashes = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const { faults } = randomFaults(new Rng(seed), nodes, FAULT_KINDS, 5000);
      kindSets.add([...new Set(faults.slice(0, -2).map(faultStepKey))].sort().join(","));
      if (faults.some((f) => "crash" in f)) {
        withCrashes++;
        if (maxCrashedAtOnce(faults) <= 2) majorityKept++;
      }
    }
    expect(kindSets.size).toBeGreaterThan(20);
    expect(withCrashes).toBeGreaterThan(20);
    expect(majorityKept / withCrashes).toBeGreaterThan(0.75);
    expect(majorityKept).toBeLessThan(withCrashes); // but not always
  });

  it("restricts itself to the kinds asked for", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { faults } = randomFaults(new Rng(seed), nodes, ["pause", "skew"], 3000);
      const kinds = new Set(faults.map(faultStepKey));
      for (const k of kinds) expect(["pause", "skew", "heal", "restart"]).toContain(k);
    }
  });

  it("never partitions a one-node cluster", () => {
    const { faults } = randomFaults(new Rng(1), ["n1"], ["partition", "partition-oneway"], 3000);
    expect(faults.map(faultStepKey)).toEqual(["heal", "restart"].slice(0, faults.length));
  });
});
