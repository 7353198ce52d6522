export type { ConflictRecord, MultiLeaderMessage, Update, Version } from "./core/messages.js";
export { MultiLeaderCore } from "./core/multi-leader-core.js";
export {
  type ConflictRule,
  MULTI_LEADER_OPTIONS,
  type MultiLeaderConfig,
  resolveConfig,
  type Topology,
} from "./core/options.js";
export {
  multiLeaderBrokenOutOfOrder,
  multiLeaderBrokenRingLoop,
  multiLeaderEngine,
  multiLeaderEngines,
} from "./engines.js";
export { multiLeaderSupports } from "./supports.js";
