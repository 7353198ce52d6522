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
  // Retries are deduplicated per node only: a write whose reply was lost is retried where it may have landed.
  writeRetry: () => "same-node",
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

/**
 * causalBrokenRetryAnywhere is the causal engine as it was before it kept a session table: a write whose reply was
 * lost is retried at another node, where it becomes a second, independent write — and the first copy later shows
 * up as a sibling of the session's newer writes (WriteCORead). Found on real processes under kill -9; kept so that
 * `testdata/scenarios/node-restart.json` is shown to catch it.
 */
export const causalBrokenRetryAnywhere: EngineDefinition<CausalMessage> = {
  ...causalEngine,
  name: "causal-broken-retry-anywhere",
  description: "causal engine whose lost-reply writes are retried at any node and applied again",
  broken:
    "no per-node session table, retries go anywhere: a retried write is a second write, concurrent with later ones",
  create: (init: EngineInit) => new CausalCore(init, causalConfig(init.options, true, false)),
  writeRetry: () => "anywhere",
};
