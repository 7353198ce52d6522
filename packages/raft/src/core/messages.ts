import type { ClientReply, NodeId } from "@consistency-lab/kv";

/** KvCommand is a client write as it travels in the log. Reads never enter the log (ReadIndex, Raft §6.4). */
export interface KvCommand {
  kind: "kv";
  op: "put" | "delete" | "cas";
  key: string;
  value?: string;
  expected?: string | null;
  /** Exactly-once session (Raft thesis §6.3). */
  session?: { clientId: string; seq: number };
}

/** ConfCommand is a single-server membership change (Raft thesis §4.1), effective when applied. */
export interface ConfCommand {
  kind: "conf";
  change: "add-learner" | "promote" | "remove-member";
  node: NodeId;
}

/** NoopCommand is the entry a new leader appends to commit its term (Raft §8, §5.4.2). */
export interface NoopCommand {
  kind: "noop";
}

/** Command is what a log entry carries. */
export type Command = KvCommand | ConfCommand | NoopCommand;

/** Entry is one log entry. Invariant: entries at the same index with the same term are identical (Raft §5.3). */
export interface Entry {
  index: number;
  term: number;
  cmd: Command;
}

/** Membership is the cluster configuration: voters decide, learners only receive the log. */
export interface Membership {
  voters: NodeId[];
  learners: NodeId[];
}

/** SessionRecord is the last reply the state machine gave a client session (Raft thesis §6.3). */
export interface SessionRecord {
  seq: number;
  result: ApplyResult;
}

/** ApplyResult is what applying a KV command produced, saved for duplicate detection. */
export interface ApplyResult {
  swapped?: boolean;
  /** Set when the entry was a duplicate older than the session's latest: outcome no longer known. */
  stale?: boolean;
}

/** Snapshot is the compacted prefix of the log: the state machine as of `index` (Raft §7). */
export interface Snapshot {
  index: number;
  term: number;
  membership: Membership;
  data: [string, string][];
  sessions: [string, SessionRecord][];
}

/** HardState is what must survive a crash before any vote or reply depending on it (Raft Figure 2). */
export interface HardState {
  term: number;
  vote: NodeId | null;
}

/** Role is the node's current part in the protocol; a learner is a follower that is not a voter. */
export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** RaftMessage is every message Raft nodes exchange (noun-action names). */
export type RaftMessage =
  | { type: "prevote-request"; term: number; lastIndex: number; lastTerm: number }
  | { type: "prevote-response"; term: number; granted: boolean }
  | { type: "vote-request"; term: number; lastIndex: number; lastTerm: number; transfer?: boolean }
  | { type: "vote-response"; term: number; granted: boolean }
  | {
      type: "append-request";
      term: number;
      prevIndex: number;
      prevTerm: number;
      entries: Entry[];
      commit: number;
    }
  | {
      type: "append-response";
      term: number;
      success: boolean;
      /** success: the last index known to match; failure: the prevIndex that was rejected. */
      index: number;
      /** A snapshot in chunks: how many of its data entries the follower holds so far (send the next chunk). */
      snapshotOffset?: number;
      /** Fast backtracking hint (etcd-io/raft `findConflictByTerm`): a probe guess and its term. */
      hintIndex?: number;
      hintTerm?: number;
    }
  /** A heartbeat with `ctx` belongs to a read round and is answered; without it, it only announces `commit`. */
  | { type: "heartbeat"; term: number; commit: number; ctx?: number }
  | { type: "heartbeat-response"; term: number; ctx: number }
  /**
   * A snapshot travels in chunks of its data entries, each under the peer message limit (kv takeBatch): `chunk`
   * says where this one starts and how many entries there are in all; `snapshot.data` holds this chunk's entries
   * (sessions in the first chunk). Without `chunk`, the message is the whole snapshot.
   */
  | { type: "snapshot-request"; term: number; snapshot: Snapshot; chunk?: { offset: number; total: number } }
  | { type: "timeout-now"; term: number }
  | { type: "read-index-request"; term: number; ctx: number }
  | { type: "read-index-response"; term: number; ctx: number; index: number | null };

/** RaftMessageType names every message type. */
export type RaftMessageType = RaftMessage["type"];

/** PendingProposal is how a leader remembers which client waits for which log entry. */
export interface PendingProposal {
  id: string;
  term: number;
  op: "put" | "delete" | "cas" | "admin";
}

export type { ClientReply };

/**
 * describeRaftMessage renders a message in one line, for transcripts and traces: its type and term, then what
 * matters of it (log positions, entries, commit index, vote). A hand network prefixes `from->to`.
 */
export function describeRaftMessage(m: RaftMessage): string {
  const head = `${m.type} t${m.term}`;
  switch (m.type) {
    case "append-request":
      return `${head} prev=${m.prevIndex}/${m.prevTerm} commit=${m.commit} entries=[${m.entries.map((e) => `${e.index}/${e.term}:${e.cmd.kind === "kv" ? `${e.cmd.op} ${e.cmd.key}` : e.cmd.kind}`).join(", ")}]`;
    case "append-response":
      return `${head} ${m.success ? "ok" : "reject"} index=${m.index}${m.hintIndex !== undefined ? ` hint=${m.hintIndex}/${m.hintTerm}` : ""}`;
    case "vote-request":
    case "prevote-request":
      return `${head} last=${m.lastIndex}/${m.lastTerm}${"transfer" in m && m.transfer ? " transfer" : ""}`;
    case "vote-response":
    case "prevote-response":
      return `${head} ${m.granted ? "granted" : "rejected"}`;
    case "heartbeat":
      return `${head} commit=${m.commit}${m.ctx !== undefined ? ` ctx=${m.ctx}` : ""}`;
    case "heartbeat-response":
      return `${head} ctx=${m.ctx}`;
    case "snapshot-request":
      return `${head} snap=${m.snapshot.index}/${m.snapshot.term} keys=${m.snapshot.data.length}`;
    case "read-index-request":
      return `${head} ctx=${m.ctx}`;
    case "read-index-response":
      return `${head} ctx=${m.ctx} index=${m.index}`;
    case "timeout-now":
      return head;
  }
}
