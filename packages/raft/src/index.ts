export {
  type BrokenMode,
  parseRaftOptions,
  RAFT_DEFAULTS,
  RAFT_OPTION_SPECS,
  type RaftOptions,
} from "./core/options.js";
export { RaftCore, type RaftInit, RECORD_HARD_STATE, RECORD_SNAPSHOT } from "./core/raft.js";
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
} from "./core/types.js";
export {
  raftBrokenEarlyCommit,
  raftBrokenEngines,
  raftBrokenFigure8,
  raftBrokenNoPersistVote,
  raftBrokenStaleRead,
  raftEngine,
  raftRequestOptions,
  raftSupports,
} from "./engine.js";
