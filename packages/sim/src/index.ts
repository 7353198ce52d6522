export { TraceHash } from "@consistency-lab/kv";
export type { QueuedEvent } from "./event-queue.js";
export { EventQueue } from "./event-queue.js";
export type { FaultStepKey } from "./faults.js";
export { applyFault, faultStepKey, randomFaults, resolveTargets } from "./faults.js";
export type { ReplayFile } from "./replay.js";
export { fromReplayFile, toReplayFile } from "./replay.js";
export type { Materialized } from "./run-simulation.js";
export { horizonMs, isFaultSchedule, materialize, runSimulation } from "./run-simulation.js";
export {
  checkTargets,
  formatErrors,
  parseScenario,
  ScenarioError,
  scenarioSchema,
  scenarioToConfig,
  validateFaultSteps,
} from "./scenario.js";
export type { ShrinkOptions } from "./shrink.js";
export { shrink } from "./shrink.js";
export type { LinkSettings, SimClusterOptions, SimClusterStats, Timeout } from "./sim-cluster.js";
export { isTimeout, meanDelay, SimCluster, SimulationError } from "./sim-cluster.js";
export type { EchoMessage, ForwardMessage, PingMessage } from "./testing.js";
export { EchoCore, echoEngine, ForwardCore, forwardEngine, PingCore, pingEngine } from "./testing.js";
export * from "./types.js";
export type { Completion, WorkloadOptions, WorkloadRun } from "./workload.js";
export { completionEvent, generatePlan, keyName, startWorkload, timeNs } from "./workload.js";
