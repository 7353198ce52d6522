export type {
  Command,
  ConfCommand,
  Entry,
  HardState,
  KvCommand,
  Membership,
  NoopCommand,
  RaftMessage,
  RaftMessageType,
  Role,
  Snapshot,
} from "./core/messages.js";
export { describeRaftMessage } from "./core/messages.js";
export { parseRaftOptions, RAFT_DEFAULTS, RAFT_OPTION_SPECS, type RaftOptions } from "./core/options.js";
export { RaftCore, type RaftInit, RECORD_HARD_STATE, RECORD_SNAPSHOT } from "./core/raft-core.js";
export {
  type BrokenMode,
  raftBrokenEarlyCommit,
  raftBrokenEngines,
  raftBrokenFigure8,
  raftBrokenNoPersistVote,
  raftBrokenStaleRead,
  raftEngine,
  raftEngines,
} from "./engines.js";
export { raftRequestOptions, raftSupports } from "./supports.js";
