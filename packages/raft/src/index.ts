export { RaftCore, RECORD_HARD_STATE, RECORD_SNAPSHOT, type RaftInit } from "./core/raft.js";
export { RAFT_DEFAULTS, RAFT_OPTION_SPECS, parseRaftOptions, type RaftOptions, type BrokenMode } from "./core/options.js";
export type {
  RaftMessage,
  RaftMessageType,
  Entry,
  Command,
  KvCommand,
  ConfCommand,
  NoopCommand,
  Membership,
  Snapshot,
  HardState,
  Role,
} from "./core/types.js";
export {
  raftEngine,
  raftBrokenStaleRead,
  raftBrokenNoPersistVote,
  raftBrokenEarlyCommit,
  raftBrokenFigure8,
  raftBrokenEngines,
  raftSupports,
  raftRequestOptions,
} from "./engine.js";
