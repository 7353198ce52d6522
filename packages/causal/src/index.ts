import type { EngineDefinition, EngineInit } from "@consistency-lab/kv";
import { CausalCore } from "./core/causal-core.js";
import type { CausalMessage } from "./core/messages.js";
import { CAUSAL_OPTIONS, causalConfig } from "./core/options.js";
import { causalSupports } from "./supports.js";

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
export { causalSupports } from "./supports.js";

/**
 * causalEngine is the causal store: causal+ consistency with per-key dotted version vectors, siblings for concurrent
 * writes, causal delivery of replicated writes, and session guarantees across nodes via a session token.
 */
export const causalEngine: EngineDefinition<CausalMessage> = {
  name: "causal",
  description:
    "causal+ store: every node serves locally, writes replicate in causal order, concurrent writes become siblings (DVV), session tokens give the four session guarantees",
  options: CAUSAL_OPTIONS,
  defaultNodes: 3,
  create: (init: EngineInit) => new CausalCore(init, causalConfig(init.options)),
  supports: causalSupports,
};

/**
 * causalBrokenNoDeps applies replicated writes the moment they arrive, skipping the dependency check, so a replica
 * can show an effect before its cause. It declares what the real engine does, so the checker must catch it.
 */
export const causalBrokenNoDeps: EngineDefinition<CausalMessage> = {
  ...causalEngine,
  name: "causal-broken-no-deps",
  description: "causal engine that applies replicated writes without waiting for their dependencies",
  broken: "replicated writes become visible before the writes they depend on (no dependency check)",
  create: (init: EngineInit) => new CausalCore(init, causalConfig(init.options, false)),
};
