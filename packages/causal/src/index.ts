export { CausalCore, type CausalState } from "./core/causal-core.js";
export {
  arbitrated,
  type KeyClock,
  type Resolve,
  readView,
  type StoredValue,
  siblingValues,
} from "./core/key-clock.js";
export type { AckMessage, CausalMessage, ReplicatedWrite, WritesMessage } from "./core/messages.js";
export { CAUSAL_OPTIONS, type CausalConfig, causalConfig } from "./core/options.js";
export { causalBrokenNoDeps, causalBrokenRetryAnywhere, causalEngine, causalEngines } from "./engines.js";
export { causalSupports } from "./supports.js";
