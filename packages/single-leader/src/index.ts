export type { LogEntry, SingleLeaderMessage } from "./core/messages.js";
export {
  requiredFollowerAcks,
  resolveConfig,
  SINGLE_LEADER_OPTIONS,
  type SingleLeaderConfig,
} from "./core/options.js";
export { SingleLeaderCore } from "./core/single-leader-core.js";
export {
  singleLeaderBrokenNoFencing,
  singleLeaderBrokenRetryTwice,
  singleLeaderEngine,
  singleLeaderEngines,
} from "./engines.js";
export { singleLeaderSupports } from "./supports.js";
