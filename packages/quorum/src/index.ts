export { differingKeys, type MerkleTree, merkleBuild, merkleDiff } from "./core/merkle.js";
export type { QuorumMessage, StoreMessage } from "./core/messages.js";
export { parseConfig, QUORUM_OPTIONS, type QuorumConfig } from "./core/options.js";
export { QuorumCore } from "./core/quorum-core.js";
export { keyPosition, preferenceList, type Ring, ringNew, ringWalk } from "./core/ring.js";
export { quorumBrokenDropHints, quorumBrokenReadRepair, quorumEngine, quorumEngines } from "./engines.js";
export { quorumSupports } from "./supports.js";
