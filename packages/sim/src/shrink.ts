import { materialize, runSimulation } from "./run-simulation.js";
import type { FaultStep, PlannedOp, SimConfig, SimResult } from "./types.js";

/** ShrinkOptions bounds a shrink. */
export interface ShrinkOptions {
  /** Simulation runs allowed in total (default 200). */
  maxRuns?: number;
}

/**
 * ddmin is Zeller's delta debugging (Zeller & Hildebrandt 2002, "Simplifying and Isolating Failure-Inducing
 * Input"), complement-only variant: remove ever smaller chunks while the test still fails. Returns the smallest
 * list found within the budget.
 */
function ddmin<T>(items: T[], fails: (candidate: T[]) => boolean, budget: () => boolean): T[] {
  let current = items;
  let n = 2;
  while (current.length > 0 && budget()) {
    const chunk = Math.ceil(current.length / n);
    let reduced = false;
    for (let start = 0; start < current.length && budget(); start += chunk) {
      const candidate = [...current.slice(0, start), ...current.slice(start + chunk)];
      if (fails(candidate)) {
        current = candidate;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (chunk <= 1) break;
      n = Math.min(current.length, n * 2);
    }
  }
  return current;
}

/**
 * shrink reduces a failing run: it materializes the config (explicit faults, network and plan), then runs ddmin
 * over the fault steps, then over each client's ops, rerunning with the same seed, and keeps the smallest config
 * for which `isFailing` still holds. If the materialized config does not fail, the original is returned.
 */
export function shrink(
  config: SimConfig,
  isFailing: (r: SimResult) => boolean,
  opts: ShrinkOptions = {},
): { config: SimConfig; result: SimResult; runs: number } {
  const maxRuns = opts.maxRuns ?? 200;
  let runs = 0;
  const m = materialize(config);
  let best: SimConfig = {
    ...config,
    workload: m.workload,
    network: m.network,
    faults: m.faults,
    plan: m.plan,
    recoveryMs: m.recoveryMs,
    persistLatencyMs: m.persistLatencyMs,
  };
  let bestResult = runSimulation(best);
  runs++;
  if (!isFailing(bestResult)) {
    const original = runs < maxRuns ? runSimulation(config) : bestResult;
    return { config, result: original, runs: runs + 1 };
  }
  const budget = () => runs < maxRuns;
  const attempt = (candidate: SimConfig): boolean => {
    runs++;
    const r = runSimulation(candidate);
    if (!isFailing(r)) return false;
    best = candidate;
    bestResult = r;
    return true;
  };

  const faults = ddmin<FaultStep>(best.faults as FaultStep[], (f) => attempt({ ...best, faults: f }), budget);
  best = { ...best, faults };

  // Ops: first whole clients' tails, then chunks within each client's list.
  const clients = best.plan!.clients;
  for (let ci = 0; ci < clients.length && budget(); ci++) {
    const list = best.plan!.clients[ci]!;
    const reduced = ddmin<PlannedOp>(
      list,
      (ops) => {
        const lists = best.plan!.clients.map((l, j) => (j === ci ? ops : l));
        return attempt({ ...best, plan: { clients: lists } });
      },
      budget,
    );
    best = { ...best, plan: { clients: best.plan!.clients.map((l, j) => (j === ci ? reduced : l)) } };
  }
  return { config: best, result: bestResult, runs };
}
