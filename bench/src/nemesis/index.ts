export { NetNamespaces, netnsProblem } from "./netns.js";
export { faketimeSpec, findLibfaketime, NodeProcs, type Skew } from "./procs.js";
export {
  faultsSurvivedTable,
  type NemesisRecord,
  readRecords,
  recordName,
  toRecord,
  writeRecord,
} from "./record.js";
export { DEFAULT_MIX, type Mix, type NemesisOptions, type NemesisSummary, runNemesis } from "./run.js";
export {
  FAULT_KINDS,
  type FaultKind,
  type InjectedFault,
  type PlannedFault,
  parseFaults,
  parseScheduleFile,
  parseTarget,
  pickTargets,
  planSchedule,
  type ScheduleFile,
  type Target,
} from "./schedule.js";
