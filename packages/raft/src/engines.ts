import { defineEngine, type EngineDefinition } from "@consistency-lab/kv";
import { entrySize } from "./core/log.js";
import type { RaftMessage } from "./core/messages.js";
import { RAFT_OPTION_SPECS } from "./core/options.js";
import { RaftCore, type RaftInit } from "./core/raft-core.js";
import { raftRequestOptions, raftSupports } from "./supports.js";

/**
 * UnsafeRaftCore is the base of the teaching variants: each breaks a safety property on purpose, so none may throw
 * when it sees the consequence (two leaders in a term, a committed entry overwritten); the checker must find it.
 */
class UnsafeRaftCore extends RaftCore {
  protected override keepsSafety(): boolean {
    return false;
  }
}

/** StaleReadCore is BROKEN on purpose: its leader answers reads from its own state without confirming it leads. */
class StaleReadCore extends UnsafeRaftCore {
  constructor(init: RaftInit) {
    // etcd's lease-based reads without CheckQuorum: the leader never doubts itself.
    super({ ...init, options: { ...init.options, checkQuorum: false } });
  }

  protected override confirmsLeadershipForReads(): boolean {
    return false;
  }
}

/**
 * NoPersistVoteCore is BROKEN on purpose: the hard state (vote, and the term it belongs to) lives in memory only,
 * so a restarted node can vote twice in one term and a restarted cluster reuses terms.
 */
class NoPersistVoteCore extends UnsafeRaftCore {
  protected override persistsHardState(): boolean {
    return false;
  }
}

/**
 * EarlyCommitCore is BROKEN on purpose: its leader writes its own entries only on heartbeat ticks ("async
 * fsync") but counts them toward commit at once, and announces that commit index before its write is durable.
 */
class EarlyCommitCore extends UnsafeRaftCore {
  /** A heartbeat interval elapsed since the leader last wrote its entries. */
  private writeDue = false;

  protected override defersLogWrite(): boolean {
    if (this.role === "leader" && !this.writeDue) return true;
    this.writeDue = false;
    return false;
  }

  protected override onHeartbeat(): void {
    this.writeDue = true;
  }

  protected override selfMatch(): number {
    return this.log.lastIndex();
  }

  protected override followerCommit(): number {
    return this.log.committed;
  }
}

/**
 * Figure8Core is BROKEN on purpose: its leader commits entries of earlier terms by counting replicas and appends
 * no no-op on taking office (Raft §5.4.2, Figure 8).
 */
class Figure8Core extends UnsafeRaftCore {
  protected override countsOnlyCurrentTerm(): boolean {
    return false;
  }
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

const raft = defineEngine<RaftMessage>({
  name: "raft",
  description:
    "Raft consensus (etcd-io/raft shape): linearizable KV with CAS, ReadIndex/lease/stale reads, snapshots, membership change",
  options: RAFT_OPTION_SPECS,
  defaultNodes: 3,
  create: (init) => new RaftCore(init),
  supports: raftSupports,
  requestOptions: raftRequestOptions,
  messageSize,
  variants: [
    {
      name: "stale-read",
      description: "Raft whose leader serves reads without confirming leadership",
      breaks: "a deposed leader that has not noticed yet serves stale reads (no ReadIndex round, Raft §8)",
      keptBecause:
        "src/conformance.test.ts 'deliberately broken variants are caught › raft-broken-stale-read violates a declared guarantee within 100 seeds' (--faults all); src/core/raft-core.test.ts 'a deposed leader does not serve a linearizable read; the stale-read variant does' shows it step by step",
      create: (init) => new StaleReadCore(init),
    },
    {
      name: "no-persist-vote",
      description: "Raft that does not persist votedFor",
      breaks:
        "votedFor is not persisted: after a restart a node can vote twice in one term, electing two leaders",
      keptBecause:
        "testdata/scenarios/cluster-restart.json (the whole cluster crashes and restarts): src/conformance.test.ts 'cluster-restart.json: raft-broken-no-persist-vote violates a declared guarantee within 100 workload seeds'; src/core/raft-core.test.ts 'the no-persist-vote variant: the restarted node votes again in the same term'",
      create: (init) => new NoPersistVoteCore(init),
    },
    {
      name: "early-commit",
      description: "Raft whose leader counts its own unpersisted entries toward commit",
      breaks:
        "the leader writes its log asynchronously but counts itself toward commit at once (violates thesis §10.2.1)",
      keptBecause:
        "src/conformance.test.ts 'deliberately broken variants are caught › raft-broken-early-commit violates a declared guarantee within 100 seeds' (--faults all: a leader crash loses acknowledged writes)",
      create: (init) => new EarlyCommitCore(init),
    },
    {
      name: "figure8",
      description: "Raft that commits entries of earlier terms by counting replicas",
      breaks:
        "commits an earlier term's entry once a majority holds it, with no no-op on election (Raft Figure 8, §5.4.2)",
      keptBecause:
        "testdata/scenarios/figure8.json (Raft Figure 8, §5.4.2): src/conformance.test.ts 'figure8.json: raft-broken-figure8 violates linearizability within 100 workload seeds'; src/core/raft-core.test.ts 'Figure 8 (the figure8 variant)' replays Figure 8 (c)→(d) by hand",
      create: (init) => new Figure8Core(init),
    },
  ],
});

/**
 * raftEngine is the Raft engine: linearizable put/delete/cas and ReadIndex reads, with pre-vote, check-quorum,
 * leadership transfer, pipelined and batched replication, snapshots, learners and single-server membership changes.
 */
export const raftEngine: EngineDefinition<RaftMessage> = raft.engine;

/** raftBrokenStaleRead is a teaching variant: the leader answers reads from its own state without confirming it still leads. */
export const raftBrokenStaleRead: EngineDefinition<RaftMessage> = raft.variants[0]!;

/** raftBrokenNoPersistVote is a teaching variant: the vote is not persisted, so a restarted node can vote twice in a term. */
export const raftBrokenNoPersistVote: EngineDefinition<RaftMessage> = raft.variants[1]!;

/** raftBrokenEarlyCommit is a teaching variant: the leader counts itself toward commit before its own write is durable. */
export const raftBrokenEarlyCommit: EngineDefinition<RaftMessage> = raft.variants[2]!;

/** raftBrokenFigure8 is a teaching variant: entries of earlier terms are committed by counting replicas. */
export const raftBrokenFigure8: EngineDefinition<RaftMessage> = raft.variants[3]!;

/** raftBrokenEngines lists every deliberately broken variant. */
export const raftBrokenEngines: readonly EngineDefinition<RaftMessage>[] = raft.variants;

/** raftEngines lists the engine and its broken variants, for the CLI registry. */
export const raftEngines: readonly EngineDefinition<RaftMessage>[] = [raft.engine, ...raft.variants];

/**
 * BrokenMode names a teaching variant by its suffix.
 * @deprecated The `broken` option is gone: each variant is a RaftCore subclass, registered in `raftEngines`.
 */
export type BrokenMode = "none" | "stale-read" | "no-persist-vote" | "early-commit" | "figure8";
