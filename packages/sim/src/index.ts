export * from "./types.js";
export { SimCluster, isTimeout, meanDelay } from "./sim-cluster.js";
export type { SimClusterOptions, SimClusterStats, LinkSettings, Timeout } from "./sim-cluster.js";
export { TraceHash } from "./trace-hash.js";
export { EventQueue } from "./event-queue.js";
export type { QueuedEvent } from "./event-queue.js";
export { applyFault, faultStepKey, randomFaults, resolveTargets } from "./faults.js";
export type { FaultStepKey } from "./faults.js";
export { generatePlan, keyName, startWorkload, timeNs } from "./workload.js";
export type { WorkloadOptions, WorkloadRun } from "./workload.js";
export { horizonMs, isFaultSchedule, materialize, runSimulation } from "./run-simulation.js";
export type { Materialized } from "./run-simulation.js";
export { echoEngine, forwardEngine, EchoCore, ForwardCore } from "./testing.js";
export type { EchoMessage, ForwardMessage } from "./testing.js";
export {
  ScenarioError,
  checkTargets,
  formatErrors,
  parseScenario,
  scenarioSchema,
  scenarioToConfig,
  validateFaultSteps,
} from "./scenario.js";
export { fromReplayFile, toReplayFile } from "./replay.js";
export type { ReplayFile } from "./replay.js";
export { shrink } from "./shrink.js";
export type { ShrinkOptions } from "./shrink.js";
