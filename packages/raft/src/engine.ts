import {
  type EngineDefinition,
  type EngineOptions,
  NOTHING,
  type RequestOptions,
  type Supports,
} from "@consistency-lab/kv";
import { entrySize } from "./core/log.js";
import { type BrokenMode, parseRaftOptions, RAFT_OPTION_SPECS } from "./core/options.js";
import { RaftCore } from "./core/raft.js";
import type { RaftMessage } from "./core/types.js";

/**
 * raftSupports is what the Raft engine promises under `options`. Writes (put, delete, cas) always go through the
 * log, so they are linearizable and cas is atomic; what reads promise depends on the read mode.
 */
export function raftSupports(options: EngineOptions): Supports {
  const o = parseRaftOptions(options);
  const base: Supports = {
    ...NOTHING,
    convergence: true,
    noLostWrites: true,
    casAtomic: true,
    conflicts: "none",
    availability: "majority",
  };
  if (o.read === "stale") {
    return {
      ...base,
      notes: [
        "read=stale: reads are served from the local replica's applied state with no recency check, so they may " +
          "return old values (not linearizable, not read-your-writes); writes and cas stay linearizable through the log.",
      ],
    };
  }
  const lin: Supports = {
    ...base,
    linearizable: true,
    sequential: true,
    readYourWrites: true,
    monotonicReads: true,
    monotonicWrites: true,
    writesFollowReads: true,
  };
  if (o.read === "lease") {
    // Not declared linearizable: the bound below is an assumption about clocks the simulator deliberately breaks
    // (skew faults jump clocks by up to a second; a paused leader handles queued reads before its next tick).
    return {
      ...base,
      notes: [
        `read=lease: a leader answers reads without a round trip while its lease lasts, ${o.electionTimeoutMs - o.clockDriftMs} ms ` +
          `(electionTimeoutMs ${o.electionTimeoutMs} minus clockDriftMs ${o.clockDriftMs}) from the send time of a heartbeat a ` +
          "quorum acknowledged (followers refuse votes for electionTimeoutMs after hearing from it: check-quorum); a lease " +
          "read is judged at the leader's next tick. Reads are linearizable only while clocks drift less than clockDriftMs " +
          "per election timeout. The simulator's skew faults break that bound on purpose, so linearizability is not " +
          "declared and clab sim reports how often it broke. Writes and cas stay linearizable.",
      ],
    };
  }
  return {
    ...lin,
    notes: [
      "read=linearizable: ReadIndex (thesis §6.4), batched; followers serve reads at the leader's read index.",
    ],
  };
}

/** raftRequestOptions makes the simulated workload use the engine's read mode. */
export function raftRequestOptions(options: EngineOptions): RequestOptions {
  const o = parseRaftOptions(options);
  return o.read === "linearizable" ? {} : { read: o.read };
}

function messageSize(m: RaftMessage): number {
  switch (m.type) {
    case "append-request": {
      let n = 64;
      for (const e of m.entries) n += entrySize(e);
      return n;
    }
    case "snapshot-request": {
      let n = 64;
      for (const [k, v] of m.snapshot.data) n += k.length + v.length + 8;
      return n + 32 * m.snapshot.sessions.length;
    }
    default:
      return 48;
  }
}

function define(
  name: string,
  description: string,
  broken?: { mode: BrokenMode; what: string },
): EngineDefinition<RaftMessage> {
  const def: EngineDefinition<RaftMessage> = {
    name,
    description,
    options: RAFT_OPTION_SPECS,
    defaultNodes: 3,
    create: (init) =>
      new RaftCore(broken ? { ...init, options: { ...init.options, broken: broken.mode } } : init),
    supports: raftSupports,
    requestOptions: raftRequestOptions,
    messageSize,
  };
  if (broken) def.broken = broken.what;
  return def;
}

/**
 * raftEngine is the Raft engine: linearizable put/delete/cas and ReadIndex reads, with pre-vote, check-quorum,
 * leadership transfer, pipelined and batched replication, snapshots, learners and single-server membership changes.
 */
export const raftEngine: EngineDefinition<RaftMessage> = define(
  "raft",
  "Raft consensus (etcd-io/raft shape): linearizable KV with CAS, ReadIndex/lease/stale reads, snapshots, membership change",
);

/** raftBrokenStaleRead is a teaching variant: the leader answers reads from its own state without confirming it still leads. */
export const raftBrokenStaleRead: EngineDefinition<RaftMessage> = define(
  "raft-broken-stale-read",
  "Raft whose leader serves reads without confirming leadership",
  {
    mode: "stale-read",
    what: "a deposed leader that has not noticed yet serves stale reads (no ReadIndex round, Raft §8)",
  },
);

/** raftBrokenNoPersistVote is a teaching variant: the vote is not persisted, so a restarted node can vote twice in a term. */
export const raftBrokenNoPersistVote: EngineDefinition<RaftMessage> = define(
  "raft-broken-no-persist-vote",
  "Raft that does not persist votedFor",
  {
    mode: "no-persist-vote",
    what: "votedFor is not persisted: after a restart a node can vote twice in one term, electing two leaders",
  },
);

/** raftBrokenEarlyCommit is a teaching variant: the leader counts itself toward commit before its own write is durable. */
export const raftBrokenEarlyCommit: EngineDefinition<RaftMessage> = define(
  "raft-broken-early-commit",
  "Raft whose leader counts its own unpersisted entries toward commit",
  {
    mode: "early-commit",
    what: "the leader writes its log asynchronously but counts itself toward commit at once (violates thesis §10.2.1)",
  },
);

/** raftBrokenFigure8 is a teaching variant: entries of earlier terms are committed by counting replicas. */
export const raftBrokenFigure8: EngineDefinition<RaftMessage> = define(
  "raft-broken-figure8",
  "Raft that commits entries of earlier terms by counting replicas",
  {
    mode: "figure8",
    what: "commits an earlier term's entry once a majority holds it, with no no-op on election (Raft Figure 8, §5.4.2)",
  },
);

/** raftBrokenEngines lists every deliberately broken variant. */
export const raftBrokenEngines: readonly EngineDefinition<RaftMessage>[] = [
  raftBrokenStaleRead,
  raftBrokenNoPersistVote,
  raftBrokenEarlyCommit,
  raftBrokenFigure8,
];
