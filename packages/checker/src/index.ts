export { type AnomalyStats, anomalyStats } from "./anomaly-stats.js";
export { checkCasAtomic } from "./cas-atomic.js";
export { checkCausal } from "./causal.js";
export { checkConvergence, closingReads } from "./convergence.js";
export { opLabel } from "./explain.js";
export type { GuaranteeResult } from "./guarantee-result.js";
export { causalOrLinearizable, checkGuarantees } from "./guarantees.js";
export { HistoryError } from "./history-error.js";
export { JepsenLogParser, jepsenLineEvent, parseJepsenLog, readJepsenLogFile } from "./jepsen-log.js";
export { builtinModel, describeOp, kvModel, type RegisterState, registerModel } from "./kv-model.js";
export {
  checkLinearizable,
  checkLinearizableSync,
  type KeyResult,
  type LinearizabilityOptions,
  type LinearizabilityResult,
} from "./linearizable.js";
export { checkNoLostWrites } from "./lost-writes.js";
export type { Model, Precedence } from "./model.js";
export { partitionByKey } from "./model.js";
export type { Op } from "./op.js";
export { isIndeterminate, readValues } from "./op.js";
export { HistoryParser, parseHistory, readHistoryFile } from "./parse-history.js";
export { checkSequentialSync, productModel, type SequentialResult } from "./sequential.js";
export { checkSession, SESSION_GUARANTEES, type SessionGuarantee } from "./session.js";
export { bruteForceLinearizable, bruteForceSequential } from "./testing/brute-force.js";
export { HistoryBuilder } from "./testing/history-builder.js";
export type { PartitionOutcome } from "./wgl.js";

/** Verdict is what `clab check` reports per file and model: `invalid` is a malformed history. */
export type Verdict = "ok" | "violation" | "unknown" | "invalid";
export { renderReport, writeReport } from "./report.js";
export {
  type GenerateOptions,
  generateHistory,
  generateKvHistory,
  type KvHistoryOptions,
  type KvHistoryTwins,
} from "./testing/generate.js";
