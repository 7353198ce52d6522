import { describe, expect, it } from "vitest";
import * as exported from "./index.js";

const sim = exported;
const surface: Record<string, unknown> = { ...exported };

describe("package surface", () => {
  it("exports the API other packages code against", () => {
    const functions = [
      "runSimulation",
      "shrink",
      "toReplayFile",
      "fromReplayFile",
      "parseScenario",
      "randomFaults",
      "isTimeout",
      "scenarioToConfig",
      "applyFault",
      "generatePlan",
    ] as const;
    for (const name of functions) expect(typeof surface[name], name).toBe("function");
    for (const cls of [sim.SimCluster, sim.ScenarioError, sim.SimulationError, sim.TraceHash])
      expect(typeof cls).toBe("function");
    expect(new sim.ScenarioError("x")).toBeInstanceOf(Error);
    expect(sim.FAULT_KINDS).toEqual([
      "partition",
      "partition-oneway",
      "crash",
      "pause",
      "loss",
      "dup",
      "reorder",
      "delay",
      "skew",
    ]);
    expect(typeof sim.scenarioSchema).toBe("object");
    for (const e of [sim.echoEngine, sim.forwardEngine, sim.pingEngine])
      expect(typeof e.create).toBe("function");
  });
});
