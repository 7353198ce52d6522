import type { EngineDefinition } from "@consistency-lab/kv";
import { MULTI_LEADER_OPTIONS } from "./core/config.js";
import type { MultiLeaderMessage } from "./core/messages.js";
import { MultiLeaderCore } from "./core/multi-leader-core.js";
import { multiLeaderSupports } from "./supports.js";

export {
  type ConflictRule,
  MULTI_LEADER_OPTIONS,
  type MultiLeaderConfig,
  resolveConfig,
  type Topology,
} from "./core/config.js";
export type { ConflictRecord, MultiLeaderMessage, Update, Version } from "./core/messages.js";
export { MultiLeaderCore } from "./core/multi-leader-core.js";
export { multiLeaderSupports } from "./supports.js";

/** multiLeaderEngine registers the multi-leader engine: every node takes writes; LWW (HLC or Lamport) or siblings. */
export const multiLeaderEngine: EngineDefinition<MultiLeaderMessage> = {
  name: "multi-leader",
  description:
    "every node accepts writes and replicates them (all-to-all, ring or star); LWW by HLC/Lamport or siblings",
  options: MULTI_LEADER_OPTIONS,
  defaultNodes: 3,
  create: (init) => new MultiLeaderCore(init),
  supports: multiLeaderSupports,
};

/**
 * multiLeaderBrokenRingLoop is the ring topology without loop prevention: an update is re-applied and forwarded
 * every time it comes round, overwriting newer writes. It declares what the real engine would.
 */
export const multiLeaderBrokenRingLoop: EngineDefinition<MultiLeaderMessage> = {
  name: "multi-leader-broken-ring-loop",
  description: "multi-leader ring without loop prevention",
  broken: "ring without loop prevention: updates circulate and are re-applied over newer writes",
  options: MULTI_LEADER_OPTIONS.map((o) => (o.name === "topology" ? { ...o, default: "ring" } : o)),
  defaultNodes: 3,
  create: (init) => new MultiLeaderCore(init, { loopPrevention: false }),
  supports: multiLeaderSupports,
};

/**
 * multiLeaderBrokenOutOfOrder applies updates in arrival order and keeps only a per-origin high-water mark, so an
 * update overtaken by a later one from the same origin is taken for a duplicate and never applied.
 */
export const multiLeaderBrokenOutOfOrder: EngineDefinition<MultiLeaderMessage> = {
  name: "multi-leader-broken-out-of-order",
  description: "multi-leader applying updates out of causal order",
  broken: "no causal ordering: an update overtaken by a later one is skipped as already seen",
  options: MULTI_LEADER_OPTIONS,
  defaultNodes: 3,
  create: (init) => new MultiLeaderCore(init, { causalOrder: false }),
  supports: multiLeaderSupports,
};
