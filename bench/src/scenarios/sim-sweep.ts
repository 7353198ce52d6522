import { runSeed } from "@consistency-lab/conformance";
import type { EngineDefinition } from "@consistency-lab/kv";
import type { Variant } from "../profiles.js";
import type { AnomalyRow } from "../results.js";

/**
 * simSweep runs an engine variant in the deterministic simulator under randomized faults for `seeds` seeds and
 * counts, per guarantee, the runs whose history broke it — what the weaker models lose, reproducibly (each seed can
 * be rerun with `clab sim`).
 */
export function simSweep(engine: EngineDefinition<any>, v: Variant, seeds: number): AnomalyRow {
  const broken: Record<string, number> = {};
  let ops = 0;
  let declared: string[] = [];
  const row = {
    staleReads: 0,
    maxVersionsBehind: 0,
    maxMsBehind: 0,
    lostWrites: 0,
    siblingReads: 0,
    maxSiblings: 0,
  };
  for (let seed = 1; seed <= seeds; seed++) {
    // A bounded checker budget per run: a history the checker cannot decide in time counts as not broken (it is
    // reported as unknown by `clab sim`), which keeps the sweep's figures a lower bound.
    const run = runSeed({ engine, options: v.options, faults: "all", timeLimitMs: 3000 }, seed);
    declared = run.declared;
    ops += run.result.stats.ok + run.result.stats.fail + run.result.stats.info;
    for (const r of run.results)
      broken[r.guarantee] = (broken[r.guarantee] ?? 0) + (r.verdict === "violation" ? 1 : 0);
    row.staleReads += run.stats.staleReads;
    row.lostWrites += run.stats.lostWrites;
    row.siblingReads += run.stats.siblingReads;
    row.maxVersionsBehind = Math.max(row.maxVersionsBehind, run.stats.maxVersionsBehind);
    row.maxMsBehind = Math.max(row.maxMsBehind, run.stats.maxMsBehind);
    row.maxSiblings = Math.max(row.maxSiblings, run.stats.maxSiblings);
  }
  return {
    scenario: "anomalies",
    source: "sim",
    engine: v.engine,
    variant: v.variant,
    options: v.options,
    runs: seeds,
    ops,
    declared,
    broken,
    ...row,
  };
}
