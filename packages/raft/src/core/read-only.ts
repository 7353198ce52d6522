import type { ClientRequest, NodeId } from "@consistency-lab/kv";

/**
 * ReadWaiter is one read waiting for a read index: a client get at this node, or a follower asking on behalf of
 * its clients (follower reads, Raft thesis §6.4.1).
 */
export type ReadWaiter =
  | { kind: "local"; req: ClientRequest }
  | { kind: "remote"; from: NodeId; ctx: number };

/** ReadRound is one heartbeat broadcast that confirms leadership for every read attached to it. */
export interface ReadRound {
  ctx: number;
  /** The commit index when the round started: the read index of its reads (Raft thesis §6.4 step 1). */
  index: number;
  sentAt: number;
  reads: ReadWaiter[];
}

/**
 * ReadOnly is the ReadIndex bookkeeping (etcd-io/raft `read_only.go`, ReadOnlySafe), batched: every read that
 * arrives before the next broadcast joins the same round, so one heartbeat round confirms many reads.
 */
export class ReadOnly {
  /** Leader: reads held until the leader has committed an entry of its term (Raft §8; etcd-io/raft 3189a66). */
  waitingForTermCommit: ReadWaiter[] = [];
  /** Leader: reads that join the next heartbeat round. */
  unassigned: ReadWaiter[] = [];
  /** Leader: broadcast rounds not yet confirmed by a quorum, oldest first. */
  rounds: ReadRound[] = [];
  /** Leader: ctx of the last heartbeat broadcast. */
  lastCtx = 0;
  /** Any node: reads with a confirmed read index, served once applied >= index. */
  applyWait: { index: number; req: ClientRequest }[] = [];
  /** Follower: reads not yet sent to the leader (batched into one read-index-request). */
  followerUnsent: ClientRequest[] = [];
  /** Follower: read-index-requests in flight. */
  followerOutstanding: { ctx: number; sentAt: number; reqs: ClientRequest[] }[] = [];
  followerCtx = 0;

  /** hasLeaderWork says whether a broadcast should go out now to confirm reads. */
  hasUnassigned(): boolean {
    return this.unassigned.length > 0;
  }

  /** confirm pops every round with ctx <= `ctx` (a quorum acknowledged it or a later one). */
  confirm(ctx: number): ReadRound[] {
    let k = 0;
    while (k < this.rounds.length && this.rounds[k]!.ctx <= ctx) k++;
    const done = this.rounds.slice(0, k);
    this.rounds = this.rounds.slice(k);
    return done;
  }

  /** drainLeader returns every read the leader holds, for failing them when it steps down. */
  drainLeader(): ReadWaiter[] {
    const all = [...this.waitingForTermCommit, ...this.unassigned, ...this.rounds.flatMap((r) => r.reads)];
    this.waitingForTermCommit = [];
    this.unassigned = [];
    this.rounds = [];
    return all;
  }
}
