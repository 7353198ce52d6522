import type { EngineDefinition, EngineOptions, RequestOptions } from "@consistency-lab/kv";
import type { QuorumMessage } from "./core/messages.js";
import { QUORUM_OPTIONS } from "./core/options.js";
import { QuorumCore, type QuorumVariant } from "./core/quorum-core.js";
import { quorumSupports } from "./supports.js";

export { differingKeys, type MerkleTree, merkleBuild, merkleDiff } from "./core/merkle.js";
export type { QuorumMessage } from "./core/messages.js";
export { parseConfig, QUORUM_OPTIONS, type QuorumConfig } from "./core/options.js";
export { QuorumCore, type QuorumVariant } from "./core/quorum-core.js";
export { keyPosition, preferenceList, type Ring, ringNew, ringWalk } from "./core/ring.js";
export { quorumSupports } from "./supports.js";

function define(
  name: string,
  description: string,
  variant: QuorumVariant,
  broken?: string,
  defaults?: Partial<Record<string, boolean>>,
): EngineDefinition<QuorumMessage> {
  const options = defaults
    ? QUORUM_OPTIONS.map((o) => (Object.hasOwn(defaults, o.name) ? { ...o, default: defaults[o.name]! } : o))
    : QUORUM_OPTIONS;
  const def: EngineDefinition<QuorumMessage> = {
    name,
    description,
    options,
    // Five nodes with N = 3: some nodes are not replicas of a key (they forward or coordinate remotely) and a
    // sloppy quorum has fallbacks to use.
    defaultNodes: 5,
    create: (init) => new QuorumCore(init, variant),
    supports: (o: EngineOptions) => quorumSupports(o),
    requestOptions: (): RequestOptions => ({}),
  };
  if (broken !== undefined) def.broken = broken;
  return def;
}

/**
 * quorumEngine is the Dynamo-style leaderless store: consistent hashing with virtual nodes, per-request R and W,
 * strict or sloppy quorums with hinted handoff, read repair, Merkle-tree anti-entropy, siblings with dotted
 * version vectors or LWW on hybrid logical clocks, tombstones with a reap delay.
 */
export const quorumEngine = define(
  "quorum",
  "Dynamo/Riak-style leaderless quorum store: ring + vnodes, N/R/W, sloppy quorum, hinted handoff, read repair, Merkle anti-entropy, DVV siblings or LWW",
  {},
);

/** quorumBrokenReadRepair is the quorum engine with read repair that copies the oldest reply over newer ones. */
export const quorumBrokenReadRepair = define(
  "quorum-broken-read-repair",
  "quorum engine whose read repair writes the oldest reply over newer replicas",
  { brokenReadRepair: true },
  "read repair overwrites replicas with the oldest reply instead of merging, losing newer writes",
);

/**
 * quorumBrokenDropHints is the quorum engine (sloppy by default, so hints exist) whose fallbacks acknowledge
 * hinted writes and then drop them instead of handing them off.
 */
export const quorumBrokenDropHints = define(
  "quorum-broken-drop-hints",
  "sloppy quorum engine whose fallbacks acknowledge hinted writes and drop them",
  { dropHints: true },
  "hinted handoff drops hints: a write acknowledged by fallbacks never reaches its owners",
  { sloppy: true },
);

/** quorumEngines lists the engine and its broken variants, for the CLI registry. */
export const quorumEngines: readonly EngineDefinition<QuorumMessage>[] = [
  quorumEngine,
  quorumBrokenReadRepair,
  quorumBrokenDropHints,
];
