/** Identifier of a node in a cluster, e.g. "n1". */
export type NodeId = string;

/** The four operations of the KV interface. */
export type KvOp = "get" | "put" | "delete" | "cas";
export const KV_OPS: readonly KvOp[] = ["get", "put", "delete", "cas"];

/** Read modes an engine may honour (raft: linearizable | lease | stale). */
export type ReadMode = "linearizable" | "lease" | "stale";

/**
 * RequestOptions are per-request knobs. An engine honours the ones it understands and refuses ones it cannot
 * honour with KV_INVALID_ARGUMENT; unknown fields are ignored.
 */
export interface RequestOptions {
  /** Quorum engine: replicas that must answer a read. */
  r?: number;
  /** Quorum / single-leader: replicas that must acknowledge a write; single-leader also takes "majority". */
  w?: number | "majority";
  /** Raft read mode. */
  read?: ReadMode;
  /** Single-leader: read from the leader or from the follower the request reaches. */
  readFrom?: "leader" | "follower";
  /** Single-leader follower reads: refuse when the follower is more than this many ms behind. */
  maxStalenessMs?: number;
  /** Siblings engines: the opaque causal context returned by an earlier get. */
  context?: string;
  /** Quorum: block the read until read repair is written. */
  blockingReadRepair?: boolean;
}

/** Session state a client carries so engines can give per-session guarantees and exactly-once retries. */
export interface SessionInfo {
  /** Stable client id. */
  clientId: string;
  /** Per-client sequence number of this request; a retry reuses it (Raft thesis §6.3). */
  seq: number;
  /** Opaque session token (version vector, log position) from the last reply this client saw. */
  token?: string;
}

/** ClientRequest is a request arriving at one node. `id` is unique per node and correlates the reply. */
export interface ClientRequest {
  id: string;
  op: KvOp;
  key: string;
  /** put: the value; cas: the new value. */
  value?: string;
  /** cas: the expected current value; null means "only if absent" (put-if-absent). */
  expected?: string | null;
  options?: RequestOptions;
  session?: SessionInfo;
}

/** ReplyMeta says who served a request and how. */
export interface ReplyMeta {
  node: NodeId;
  /** Raft term, single-leader epoch. */
  term?: number;
  /** Log or commit index the reply reflects. */
  index?: number;
  /** Any engine-specific detail worth recording. */
  [extra: string]: unknown;
}

/** ClientReply answers one ClientRequest. */
export interface ClientReply {
  id: string;
  /** True when the request succeeded (for cas also when the compare did not match: see `swapped`). */
  ok: boolean;
  /** get: the value read, null when absent (with siblings: absent and `values` set). */
  value?: string | null;
  /** get on a siblings engine: every concurrent value. */
  values?: string[];
  /** cas: whether the swap happened. */
  swapped?: boolean;
  /** Opaque causal context to pass back with the next write of this key. */
  context?: string;
  /** Updated session token. */
  token?: string;
  error?: import("./errors.js").KvErrorData;
  meta?: ReplyMeta;
}

/** GetResult is what KvStore.get resolves to. */
export interface GetResult {
  value: string | null;
  /** Present when the engine keeps siblings and there is more than one. */
  values?: string[];
  context?: string;
  meta?: ReplyMeta;
}

export interface WriteResult {
  context?: string;
  meta?: ReplyMeta;
}

export interface CasResult extends WriteResult {
  swapped: boolean;
}
