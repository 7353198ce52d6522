import { memoryEngine } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { fromReplayFile, toReplayFile } from "./replay.js";
import { runSimulation } from "./run-simulation.js";
import { ScenarioError } from "./scenario.js";
import { echoEngine, forwardEngine } from "./testing.js";
import type { SimConfig } from "./types.js";

const engines = (name: string) => [echoEngine, forwardEngine, memoryEngine].find((e) => e.name === name);

describe("replay files", () => {
  it("round-trip through JSON text and reproduce the trace hash and history", () => {
    for (let seed = 1; seed <= 4; seed++) {
      const config: SimConfig = {
        engine: seed % 2 ? echoEngine : forwardEngine,
        seed,
        faults: "all",
        workload: { ops: 80 },
        persistLatencyMs: seed - 1,
      };
      const r = runSimulation(config);
      const file = toReplayFile(config, r, "round trip");
      expect(file.traceHash).toBe(r.traceHash);
      const again = runSimulation(fromReplayFile(JSON.stringify(file), engines));
      expect(again.traceHash, `seed ${seed}`).toBe(r.traceHash);
      expect(again.history).toEqual(r.history);
    }
  });

  it("rejects an unknown engine, unknown fields, bad types and unknown nodes naming the problem", () => {
    const config: SimConfig = { engine: echoEngine, seed: 1, workload: { ops: 5 } };
    const file = toReplayFile(config, runSimulation(config));
    const problem = (f: unknown) => {
      try {
        fromReplayFile(f, engines);
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(problem({ ...file, engine: "nope" })).toContain('unknown engine "nope"');
    expect(problem({ ...file, surprise: true })).toContain('unknown field "surprise"');
    expect(problem({ ...file, seed: "1" })).toContain("/seed: must be integer");
    expect(problem({ ...file, format: "other" })).toContain("/format");
    expect(problem({ ...file, faults: [{ at: 1, crash: "n9" }] })).toContain('unknown node "n9"');
    expect(problem({ ...file, plan: { clients: [[{ op: "get", key: "k0", extra: 1 }]] } })).toContain(
      'unknown field "extra"',
    );
    expect(problem("nope")).toContain("not valid JSON");
  });
});
