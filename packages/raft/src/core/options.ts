import type { EngineOptions, OptionSpec, ReadMode } from "@consistency-lab/kv";

/** RaftOptions are the resolved knobs of one Raft core. Times are in ms of the injected clock. */
export interface RaftOptions {
  /** Length of one logical tick; election and heartbeat timeouts are whole numbers of ticks (etcd-io/raft). */
  tickMs: number;
  /** Leader heartbeat interval. */
  heartbeatMs: number;
  /** Minimum election timeout T; each round draws from [T, 2T) with the injected rng (Raft §5.2). */
  electionTimeoutMs: number;
  /** Pre-vote (Raft thesis §9.6): no term bump unless a pre-election would be won. */
  preVote: boolean;
  /** Check-quorum: a leader without quorum contact for T steps down; followers with a live leader refuse votes. */
  checkQuorum: boolean;
  /** Default read mode for requests that do not name one. */
  read: ReadMode;
  /**
   * Lease reads assume clocks run at rates that differ by at most this much over one election timeout: a lease
   * lasts `electionTimeoutMs - clockDriftMs` from the send time of the heartbeat a quorum acknowledged.
   */
  clockDriftMs: number;
  /** Batch proposals: entries proposed between two `ready()` calls travel in one append-request per follower. */
  batch: boolean;
  /**
   * With batching, new entries leave for a follower only while fewer than this many append-requests are in flight
   * to it; meanwhile proposals accumulate into the next append (pipelining depth under batching).
   */
  batchInflight: number;
  /** Max entries in one append-request (etcd MaxSizePerMsg, counted in entries). */
  maxMsgEntries: number;
  /** Max approximate bytes in one append-request. */
  maxMsgBytes: number;
  /** Max append-requests in flight per follower in the replicate state (etcd MaxInflightMsgs). */
  maxInflightMsgs: number;
  /** Max approximate bytes in flight per follower (etcd MaxInflightBytes). */
  maxInflightBytes: number;
  /** Max uncommitted entries a leader accepts before refusing with KV_OVERLOADED (etcd MaxUncommittedEntriesSize). */
  maxUncommittedEntries: number;
  /** Take a snapshot after this many applied entries (0 = never). Raft §7. */
  snapshotEvery: number;
  /** A learner may be promoted only when its log is within this many entries of the leader's. */
  promoteMaxLag: number;
}

/** RAFT_DEFAULTS are the defaults of every option. */
export const RAFT_DEFAULTS: RaftOptions = {
  tickMs: 10,
  heartbeatMs: 50,
  electionTimeoutMs: 150,
  preVote: true,
  checkQuorum: true,
  read: "linearizable",
  clockDriftMs: 30,
  batch: true,
  batchInflight: 16,
  maxMsgEntries: 256,
  maxMsgBytes: 1024 * 1024,
  maxInflightMsgs: 64,
  maxInflightBytes: 8 * 1024 * 1024,
  maxUncommittedEntries: 10_000,
  snapshotEvery: 200,
  promoteMaxLag: 10,
};

/** RAFT_OPTION_SPECS documents the options for `--option k=v` and `clab sim --list`. */
export const RAFT_OPTION_SPECS: readonly OptionSpec[] = [
  { name: "tickMs", type: "number", default: RAFT_DEFAULTS.tickMs, description: "logical tick length (ms)" },
  {
    name: "heartbeatMs",
    type: "number",
    default: RAFT_DEFAULTS.heartbeatMs,
    description: "leader heartbeat interval (ms)",
  },
  {
    name: "electionTimeoutMs",
    type: "number",
    default: RAFT_DEFAULTS.electionTimeoutMs,
    description: "minimum election timeout T (ms); each round draws from [T, 2T)",
  },
  {
    name: "preVote",
    type: "boolean",
    default: RAFT_DEFAULTS.preVote,
    description: "pre-vote before an election (thesis §9.6)",
  },
  {
    name: "checkQuorum",
    type: "boolean",
    default: RAFT_DEFAULTS.checkQuorum,
    description: "leader steps down without quorum contact; followers with a live leader refuse votes",
  },
  {
    name: "read",
    type: "string",
    default: RAFT_DEFAULTS.read,
    choices: ["linearizable", "lease", "stale"],
    description: "default read mode: linearizable (ReadIndex), lease (clock-bound), stale (local)",
  },
  {
    name: "clockDriftMs",
    type: "number",
    default: RAFT_DEFAULTS.clockDriftMs,
    description: "lease reads: assumed clock-drift bound; lease = electionTimeoutMs - clockDriftMs",
  },
  {
    name: "batch",
    type: "boolean",
    default: RAFT_DEFAULTS.batch,
    description: "batch proposals into one append per ready",
  },
  {
    name: "batchInflight",
    type: "number",
    default: RAFT_DEFAULTS.batchInflight,
    description:
      "with batching: appends in flight per follower before proposals accumulate into the next one",
  },
  {
    name: "maxMsgEntries",
    type: "number",
    default: RAFT_DEFAULTS.maxMsgEntries,
    description: "max entries per append-request",
  },
  {
    name: "maxMsgBytes",
    type: "number",
    default: RAFT_DEFAULTS.maxMsgBytes,
    description: "max bytes per append-request",
  },
  {
    name: "maxInflightMsgs",
    type: "number",
    default: RAFT_DEFAULTS.maxInflightMsgs,
    description: "max append-requests in flight per follower",
  },
  {
    name: "maxInflightBytes",
    type: "number",
    default: RAFT_DEFAULTS.maxInflightBytes,
    description: "max bytes in flight per follower",
  },
  {
    name: "maxUncommittedEntries",
    type: "number",
    default: RAFT_DEFAULTS.maxUncommittedEntries,
    description: "leader refuses proposals (KV_OVERLOADED) beyond this many uncommitted entries",
  },
  {
    name: "snapshotEvery",
    type: "number",
    default: RAFT_DEFAULTS.snapshotEvery,
    description: "snapshot after this many applied entries (0 = never)",
  },
  {
    name: "voters",
    type: "number",
    default: 0,
    description:
      "initial voters: the first N nodes (0 = all); the others start as non-members to be added at runtime",
  },
  {
    name: "promoteMaxLag",
    type: "number",
    default: RAFT_DEFAULTS.promoteMaxLag,
    description: "a learner is promoted only within this many entries of the leader",
  },
];

/** parseRaftOptions reads resolved engine options into RaftOptions. */
export function parseRaftOptions(raw: EngineOptions | Partial<RaftOptions> = {}): RaftOptions {
  const o: RaftOptions = { ...RAFT_DEFAULTS };
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(RAFT_DEFAULTS) as (keyof RaftOptions)[]) {
    const v = r[key];
    if (v === undefined) continue;
    const d = RAFT_DEFAULTS[key];
    if (typeof d === "number") {
      const n = typeof v === "number" ? v : Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new TypeError(`raft option ${key} must be a non-negative number`);
      (o as unknown as Record<string, unknown>)[key] = n;
    } else if (typeof d === "boolean") {
      (o as unknown as Record<string, unknown>)[key] = v === true || v === "true";
    } else {
      (o as unknown as Record<string, unknown>)[key] = String(v);
    }
  }
  if (!["linearizable", "lease", "stale"].includes(o.read))
    throw new TypeError(`raft option read: bad value ${o.read}`);
  if (o.tickMs <= 0 || o.heartbeatMs < o.tickMs || o.electionTimeoutMs <= o.heartbeatMs) {
    throw new TypeError("raft options need 0 < tickMs <= heartbeatMs < electionTimeoutMs");
  }
  if (o.clockDriftMs >= o.electionTimeoutMs)
    throw new TypeError("raft option clockDriftMs must be below electionTimeoutMs");
  o.maxInflightMsgs = Math.max(1, Math.floor(o.maxInflightMsgs));
  o.maxMsgEntries = Math.max(1, Math.floor(o.maxMsgEntries));
  o.batchInflight = Math.max(1, Math.min(o.maxInflightMsgs, Math.floor(o.batchInflight)));
  return o;
}
