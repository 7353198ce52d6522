import type { EngineDefinition } from "@consistency-lab/kv";
import { isFaultSchedule } from "./run-simulation.js";
import { ScenarioError, validateReplayShape } from "./scenario.js";
import type { FaultStep, NetworkConfig, SimConfig, SimResult, WorkloadPlan, WorkloadSpec } from "./types.js";

/**
 * ReplayFile is everything needed to rerun a simulation exactly: the seed plus every randomized choice
 * materialized (fault schedule, network, plan). `traceHash` is the hash the run produced, to check a replay.
 */
export interface ReplayFile {
  format: "clab-replay";
  version: 1;
  engine: string;
  options: Record<string, string | number | boolean>;
  nodes: number;
  seed: number;
  workload: WorkloadSpec;
  network: NetworkConfig;
  faults: FaultStep[];
  plan: WorkloadPlan;
  recoveryMs: number;
  tickMs?: number;
  persistLatencyMs?: number;
  traceHash?: string;
  note?: string;
}

/** toReplayFile captures a run so that `fromReplayFile` + `runSimulation` reproduces its trace hash. */
export function toReplayFile(config: SimConfig, result: SimResult, note?: string): ReplayFile {
  const file: ReplayFile = {
    format: "clab-replay",
    version: 1,
    engine: config.engine.name,
    options: { ...(config.options ?? {}) },
    nodes: result.nodes.length,
    seed: config.seed,
    workload: structuredClone(result.workload),
    network: structuredClone(result.network),
    faults: structuredClone(result.faults),
    plan: structuredClone(result.plan),
    recoveryMs: result.recoveryMs,
    traceHash: result.traceHash,
  };
  if (config.tickMs !== undefined) file.tickMs = config.tickMs;
  const persist = config.persistLatencyMs ?? result.persistLatencyMs;
  if (persist !== undefined && (persist > 0 || config.persistLatencyMs !== undefined))
    file.persistLatencyMs = persist;
  if (note !== undefined) file.note = note;
  return JSON.parse(JSON.stringify(file)) as ReplayFile;
}

/**
 * fromReplayFile validates a replay file (parsed JSON or JSON text) and returns the SimConfig that reruns it.
 * Throws ScenarioError naming the problem (unknown engine, unknown field, bad type, unknown node).
 */
export function fromReplayFile(
  file: unknown,
  engines: (name: string) => EngineDefinition<any> | undefined,
): SimConfig {
  let value = file;
  if (typeof file === "string") {
    try {
      value = JSON.parse(file);
    } catch (e) {
      throw new ScenarioError(`replay file is not valid JSON: ${(e as Error).message}`);
    }
  }
  const problems = validateReplayShape(value);
  if (problems.length > 0) throw new ScenarioError(problems);
  const f = structuredClone(value) as ReplayFile;
  const engine = engines(f.engine);
  if (engine === undefined) throw new ScenarioError(`/engine: unknown engine "${f.engine}"`);
  const config: SimConfig = {
    engine,
    options: f.options,
    nodes: f.nodes,
    seed: f.seed,
    workload: f.workload,
    network: f.network,
    faults: f.faults,
    plan: f.plan,
    recoveryMs: f.recoveryMs,
  };
  if (f.tickMs !== undefined) config.tickMs = f.tickMs;
  if (f.persistLatencyMs !== undefined) config.persistLatencyMs = f.persistLatencyMs;
  if (!isFaultSchedule(config.faults)) throw new ScenarioError("/faults: must be a list of steps");
  return config;
}
