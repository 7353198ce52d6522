import type { HlcTimestamp, NodeId, VersionVector } from "@consistency-lab/kv";

/**
 * Update is one write as it travels between leaders. `(origin, seq)` is its dot: the `seq`-th write accepted at
 * `origin`. `deps` is what the origin had applied when it accepted the write, so a replica applies it only after
 * everything it depends on (causal delivery: a later write never overtakes an earlier one it depends on, DDIA ch. 5
 * "Multi-Leader Replication Topologies"). `path` lists the nodes it has passed, origin first, so ring and star
 * forwarding never send it back where it has been (loop prevention).
 */
export interface Update {
  origin: NodeId;
  seq: number;
  deps: VersionVector;
  key: string;
  /** null = delete (a tombstone, so the delete replicates and wins or loses like any write). */
  value: string | null;
  hlc: HlcTimestamp;
  lamport: number;
  /** Siblings mode: the versions of this key the write supersedes (the client's causal context, else `deps`). */
  ctx?: VersionVector;
  path: NodeId[];
  /** Broken ring variant only: hops taken, to bound its endless circulation in a simulation. */
  hops?: number;
}

/** UpdatesMessage carries updates to a neighbour; it answers with an AckMessage once they are durable. */
export interface UpdatesMessage {
  type: "updates";
  updates: Update[];
}

/** AckMessage reports the sender's applied version vector; the receiver stops retransmitting what it covers. */
export interface AckMessage {
  type: "ack";
  applied: VersionVector;
}

/** MultiLeaderMessage is every message multi-leader nodes exchange. */
export type MultiLeaderMessage = UpdatesMessage | AckMessage;

/** Version is one stored value of a key (with LWW exactly one per key; with siblings one per concurrent write). */
export interface Version {
  value: string | null;
  origin: NodeId;
  seq: number;
  hlc: HlcTimestamp;
  lamport: number;
  /** What the write's origin had applied when it took it: a reader's session token absorbs it. */
  deps: VersionVector;
  /** Siblings mode: the version's causal history for its key (its context plus its own dot). */
  vv?: VersionVector;
}

/** ConflictRecord is one resolution in the conflict log: what was kept and what it discarded. */
export interface ConflictRecord {
  key: string;
  rule: "lww-hlc" | "lww-lamport" | "siblings";
  kept: { value: string | null; dot: string }[];
  discarded: { value: string | null; dot: string }[];
  at: number;
}
