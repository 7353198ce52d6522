import { describe, expect, it } from "vitest";
import { runSimulation } from "./run-simulation.js";
import { shrink } from "./shrink.js";
import { echoEngine } from "./testing.js";
import type { FaultStep, SimConfig, SimResult } from "./types.js";

describe("shrink", () => {
  it("reduces a failing run to the fault and the op that matter", () => {
    const faults: FaultStep[] = [
      { at: 10, pause: { node: "n2", ms: 20 } },
      { at: 20, skew: { node: "n3", ms: 100 } },
      { at: 30, crash: "n3" },
      { at: 40, dup: { rate: 0.2 } },
      { at: 50, restart: "n3" },
      { at: 60, delay: { from: "n1", to: "*", ms: 5 } },
    ];
    const config: SimConfig = {
      engine: echoEngine,
      seed: 11,
      faults,
      workload: { ops: 60, mix: { read: 1, write: 1 } },
    };
    // A toy "bug": a node crashed and some write was acknowledged.
    const isFailing = (r: SimResult) =>
      r.stats.crashes >= 1 &&
      r.history.some((e) => e.type === "ok" && e.f === "write" && e.meta?.final !== true);
    expect(isFailing(runSimulation(config))).toBe(true);
    const s = shrink(config, isFailing, { maxRuns: 150 });
    expect(isFailing(s.result)).toBe(true);
    expect(s.runs).toBeLessThanOrEqual(150);
    expect(s.config.faults).toEqual([{ at: 30, crash: "n3" }]);
    const ops = s.config.plan!.clients.flat();
    expect(ops).toHaveLength(1);
    expect(ops[0]!.op).toBe("put");
    expect(runSimulation(s.config).traceHash).toBe(s.result.traceHash);
  });

  it("returns the original config when the run does not fail", () => {
    const config: SimConfig = { engine: echoEngine, seed: 2, workload: { ops: 10 } };
    const s = shrink(config, () => false, { maxRuns: 10 });
    expect(s.config).toBe(config);
    expect(s.runs).toBeLessThanOrEqual(2);
  });

  it("stops at the run budget", () => {
    const config: SimConfig = { engine: echoEngine, seed: 3, faults: "all", workload: { ops: 100 } };
    const s = shrink(config, () => true, { maxRuns: 5 });
    expect(s.runs).toBeLessThanOrEqual(5);
  });
});
