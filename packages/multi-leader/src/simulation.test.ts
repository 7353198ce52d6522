import { checkGuarantees, parseHistory } from "@consistency-lab/checker";
import { findViolation, replayCommand } from "@consistency-lab/conformance";
import type { EngineDefinition } from "@consistency-lab/kv";
import { runSimulation, SimCluster } from "@consistency-lab/sim";
import { describe, expect, it } from "vitest";
import { multiLeaderBrokenOutOfOrder, multiLeaderBrokenRingLoop, multiLeaderEngine } from "./index.js";

const SEEDS = Array.from({ length: process.env.CLAB_SOAK ? 200 : 20 }, (_, i) => i + 1);

function dumps(c: SimCluster): string[] {
  return c.nodes.map((n) => JSON.stringify([...c.core(n)!.dump!()].sort()));
}

describe("multi-leader in simulation", () => {
  const optionSets: Record<string, string>[] = [
    { topology: "all-to-all" },
    { topology: "ring" },
    { topology: "star", conflicts: "siblings" },
    { topology: "ring", conflicts: "lww-lamport" },
  ];
  for (const options of optionSets) {
    it(`converges after a partition heals (${JSON.stringify(options)})`, () => {
      for (const seed of [1, 2, 3]) {
        const c = new SimCluster({
          engine: multiLeaderEngine,
          options,
          nodes: 5,
          seed,
          network: { loss: 0.2 },
        });
        c.partition([
          ["n1", "n2"],
          ["n3", "n4", "n5"],
        ]);
        // Both sides keep taking writes, some to the same keys.
        for (let i = 0; i < 20; i++) {
          const node = c.nodes[i % 5]!;
          c.submit(node, { op: "put", key: `k${i % 4}`, value: `${node}-${i}` }, () => {});
          c.runFor(15);
        }
        c.runFor(500);
        expect(new Set(dumps(c)).size, `seed ${seed}: a partition keeps the sides apart`).toBeGreaterThan(1);
        c.heal();
        c.runFor(3000);
        const d = dumps(c);
        expect(new Set(d).size, `seed ${seed}: replicas differ after heal: ${d.join(" | ")}`).toBe(1);
        expect(c.quiesce(5000), `seed ${seed}: still sending after convergence`).toBe(true);
      }
    });
  }

  // n1's clock runs 3 s ahead and n1 is cut off while clients write on both sides; the recovery heals it. Every
  // write n1 took outranks the later writes of the other side, so LWW discards those on the heal.
  const skewedIsolation = [
    { at: 0, skew: { node: "n1", ms: 3000 } },
    { at: 0, partition: [["n1"], ["n2", "n3"]] },
  ];
  const writeHeavy = { keys: 5, mix: { read: 0.3, write: 0.7 } };

  it("the checker shows LWW lost updates under concurrent writes and clock skew", () => {
    for (const conflicts of ["lww-hlc", "lww-lamport"]) {
      const lossy: number[] = [];
      for (const seed of SEEDS.slice(0, 10)) {
        const r = runSimulation({
          engine: multiLeaderEngine,
          options: { conflicts },
          nodes: 3,
          seed,
          workload: writeHeavy,
          faults: skewedIsolation,
        });
        const [lost, conv] = checkGuarantees(parseHistory(r.history), ["noLostWrites", "convergence"]);
        expect(conv!.verdict, `seed ${seed}: ${conv!.examples.join("; ")}`).toBe("ok");
        if (lost!.verdict === "violation") lossy.push(seed);
      }
      console.log(`multi-leader ${conflicts}: lost updates on seeds ${lossy.join(", ") || "(none)"} of 10`);
      expect(lossy.length).toBeGreaterThan(0);
    }
  }, 60_000);

  it("siblings keep every concurrent write under the same schedule", () => {
    for (const seed of SEEDS.slice(0, 10)) {
      const r = runSimulation({
        engine: multiLeaderEngine,
        options: { conflicts: "siblings" },
        nodes: 3,
        seed,
        workload: writeHeavy,
        faults: skewedIsolation,
      });
      const [lost, conv] = checkGuarantees(parseHistory(r.history), ["noLostWrites", "convergence"]);
      expect(lost!.verdict, `seed ${seed}: ${lost!.examples.join("; ")}`).toBe("ok");
      expect(conv!.verdict, `seed ${seed}`).toBe("ok");
    }
  }, 60_000);

  const broken: EngineDefinition<any>[] = [multiLeaderBrokenRingLoop, multiLeaderBrokenOutOfOrder];
  for (const engine of broken) {
    it(`${engine.name} is caught within 100 seeds`, () => {
      const spec = { engine, faults: "all" as const };
      const run = findViolation({ ...spec, seeds: 100 });
      expect(run, "no violating seed in 1..100").toBeDefined();
      console.log(
        `${engine.name} caught on seed ${run!.seed} (${run!.violations.map((v) => v.guarantee).join(", ")}); replay: ${replayCommand(spec, run!.seed)}`,
      );
    }, 120_000);
  }
});
