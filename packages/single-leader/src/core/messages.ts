import type { NodeId } from "@consistency-lab/kv";

/**
 * LogEntry is one position of the replication log. A write is a put (value) or a delete (value null); an entry
 * without a key is the no-op a new leader appends at the start of its epoch, so that a follower's leftover entries
 * from an older epoch conflict with something and are truncated (Raft §5.4.2 uses the same device).
 */
export interface LogEntry {
  epoch: number;
  key?: string;
  value?: string | null;
  /**
   * The client session that wrote it (`clientId`, `seq`), so a retried write is recognised on every replica and
   * after a restart: the log is the session table (Raft thesis §6.3 keeps it in the state machine the same way).
   */
  client?: string;
  seq?: number;
  /** Set on an entry written by a cas (it swapped: a cas that did not swap writes nothing). */
  cas?: true;
}

/** AppendRequest replicates entries after `prevIndex` (whose epoch is `prevEpoch`); empty entries = heartbeat. */
export interface AppendRequest {
  type: "append";
  epoch: number;
  prevIndex: number;
  prevEpoch: number;
  entries: LogEntry[];
  /** The leader's last log position when it sent this: a follower at or past it is caught up. */
  leaderLast: number;
  /** The leader's commit index: the highest position a majority holds (for status and lag only). */
  commit: number;
}

/**
 * AppendResponse acknowledges an append. `ok` with `match` = the follower's log equals the leader's up to `match`
 * and is durable there (it is sent only after the persist of the same Ready). Not ok: `hint` is the next index
 * the leader should try, or `fenced` when the follower has seen a newer epoch.
 */
export interface AppendResponse {
  type: "append-response";
  epoch: number;
  ok: boolean;
  match: number;
  hint: number;
  fenced?: boolean;
}

/** VoteRequest asks for a vote for leadership of `epoch`; `forced` is an operator's promote. */
export interface VoteRequest {
  type: "vote-request";
  epoch: number;
  lastIndex: number;
  lastEpoch: number;
  forced: boolean;
}

/** VoteResponse grants or refuses a vote; `epoch` is the voter's epoch after handling the request. */
export interface VoteResponse {
  type: "vote-response";
  epoch: number;
  granted: boolean;
}

/** SingleLeaderMessage is every message single-leader nodes exchange. */
export type SingleLeaderMessage = AppendRequest | AppendResponse | VoteRequest | VoteResponse;

/** HardState is what a node persists besides its log: epoch, vote and the leader it follows. */
export interface HardState {
  epoch: number;
  votedFor: NodeId | null;
  leader: NodeId | null;
}
