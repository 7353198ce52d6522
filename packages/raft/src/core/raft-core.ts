import {
  type AdminCommand,
  BATCH_BYTES,
  type ClientReply,
  type ClientRequest,
  CoreBase,
  type EngineInit,
  errorReply,
  KvError,
  type NodeId,
  type NodeStatus,
  type PersistOp,
  type ReadMode,
  type Rng,
  takeBatch,
  utf8Bytes,
} from "@consistency-lab/kv";
import { entryKey, entrySize, RaftLog } from "./log.js";
import {
  applyConfChange,
  committedIndex,
  isMember,
  isVoter,
  members,
  quorumSize,
  validateConfChange,
} from "./membership.js";
import type {
  ApplyResult,
  Command,
  ConfCommand,
  Entry,
  HardState,
  Membership,
  PendingProposal,
  RaftMessage,
  Role,
  Snapshot,
} from "./messages.js";
import { parseRaftOptions, type RaftOptions } from "./options.js";
import {
  becomeProbe,
  becomeReplicate,
  becomeSnapshot,
  freeInflights,
  isPaused,
  maybeDecrTo,
  maybeUpdate,
  newProgress,
  type Progress,
  sentEntries,
} from "./progress.js";
import { ReadOnly, type ReadWaiter } from "./read-only.js";
import { KvStateMachine } from "./state-machine.js";

/** RECORD_HARD_STATE is the record key of the hard state `{ term, vote }` (entries are `e/<index>`). */
export const RECORD_HARD_STATE = "hs";
/** RECORD_SNAPSHOT is the record key of the latest snapshot. */
export const RECORD_SNAPSHOT = "snap";

/** RaftInit is what a RaftCore is constructed from: an EngineInit whose options may also be typed RaftOptions. */
export interface RaftInit extends Omit<EngineInit, "options"> {
  options?: EngineInit["options"] | Partial<RaftOptions>;
}

type StepFn = (r: RaftCore, from: NodeId, m: RaftMessage) => void;
type TickFn = (r: RaftCore) => void;

/**
 * RaftCore is the Raft protocol (Ongaro & Ousterhout 2014; Ongaro's thesis 2014) as a deterministic state machine
 * with no I/O, in the shape of etcd-io/raft: time only from `tick(now)`, randomness only from the injected rng,
 * and all work handed out by `ready()`.
 *
 * Ready contract: `persist` (hard state `hs`, entries `e/<index>`, snapshot `snap`) is one atomic batch that must
 * be durable before `send` and `replies` are released. `sendEarly` holds only a leader's append-requests, which
 * may leave before its own append is durable (Raft thesis §10.2.1): the leader counts itself toward commit only
 * for entries handed out in an earlier or the current persist batch, and every reply that depends on a commit
 * is in `replies`, released after the batch.
 *
 * The protected hooks (`keepsSafety`, `persistsHardState`, `defersLogWrite`, `onHeartbeat`, `selfMatch`,
 * `followerCommit`, `countsOnlyCurrentTerm`, `confirmsLeadershipForReads`) each decide one rule the protocol
 * prescribes, and their defaults are Raft's. The teaching variants in `engines.ts` override them, one bug each.
 */
export class RaftCore extends CoreBase<RaftMessage> {
  readonly id: NodeId;
  readonly opts: RaftOptions;
  private readonly rng: Rng;

  // Durable state (Raft Figure 2).
  term = 0;
  vote: NodeId | null = null;
  readonly log = new RaftLog();
  membership: Membership;
  readonly sm = new KvStateMachine();
  /** The latest snapshot, sent to followers whose next entry was compacted away. */
  snapshot: Snapshot | null = null;
  /** A snapshot being received in chunks (follower), until its last chunk installs it. */
  private incoming: Snapshot | null = null;

  // Volatile state.
  role: Role = "follower";
  leader: NodeId | null = null;
  now: number;
  private lastTickAt: number;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  /** When this node last heard from a live leader (ms), for check-quorum vote refusal and leases. */
  private lastLeaderContactAt = Number.NEGATIVE_INFINITY;
  /** A restarted node refuses votes for one election timeout: it may have acknowledged a leader's lease. */
  private voteGuardUntil: number;
  private votes = new Map<NodeId, boolean>();
  progress = new Map<NodeId, Progress>();
  private sentCommit = new Map<NodeId, number>();
  private pending = new Map<number, PendingProposal>();
  private readonly reads = new ReadOnly();
  private leaseUntil = 0;
  private committedInTerm = false;
  private pendingConfIndex = 0;
  private leadTransferee: NodeId | null = null;
  private transferAdminId: string | null = null;
  private transferSent = false;

  // Output: messages and replies go to the outbox (`out`); records wait here for the next ready(), which writes
  // the hard state first, then these, then the new entries. Records produced while ready() commits go to the
  // batch after.
  private hsDirty = false;
  private persistExtra: PersistOp[] = [];
  /** Lease reads waiting for the next tick's time. */
  private leaseReads: ClientRequest[] = [];
  /** Client requests that arrived while no leader was known. */
  private held: { req: ClientRequest; at: number }[] = [];

  constructor(init: RaftInit) {
    super();
    this.id = init.id;
    this.opts = parseRaftOptions(init.options ?? {});
    this.rng = init.rng;
    this.now = init.now;
    this.lastTickAt = init.now;
    this.electionTicks = Math.max(1, Math.ceil(this.opts.electionTimeoutMs / this.opts.tickMs));
    this.heartbeatTicks = Math.max(1, Math.floor(this.opts.heartbeatMs / this.opts.tickMs));
    const voters =
      numberOfVoters(init.options) > 0 ? init.peers.slice(0, numberOfVoters(init.options)) : [...init.peers];
    this.membership = { voters, learners: [] };
    // Only a node that has run before can have acknowledged a leader's lease (acknowledging needs a term on
    // disk); a first boot has nothing to honour.
    this.voteGuardUntil =
      init.records.size > 0 ? init.now + this.opts.electionTimeoutMs : Number.NEGATIVE_INFINITY;
    this.log.allowCommittedOverwrite = !this.keepsSafety();
    this.restore(init.records);
    this.resetRandomizedElectionTimeout();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // EngineCore

  step(from: NodeId, m: RaftMessage): void {
    if (m.term > this.term) {
      if (m.type === "vote-request" || m.type === "prevote-request") {
        const force = m.type === "vote-request" && m.transfer === true;
        // Check-quorum: a node that hears from a live leader refuses to help depose it (thesis §4.2.3, §6.4.1).
        if (!force && this.inLease()) return;
      }
      if (m.type === "prevote-request" || (m.type === "prevote-response" && m.granted)) {
        // Pre-vote never changes terms (thesis §9.6).
      } else {
        const isLeaderMsg =
          m.type === "append-request" || m.type === "heartbeat" || m.type === "snapshot-request";
        this.becomeFollower(m.term, isLeaderMsg ? from : null);
      }
    } else if (m.term < this.term) {
      if (
        (this.opts.checkQuorum || this.opts.preVote) &&
        (m.type === "append-request" || m.type === "heartbeat")
      ) {
        // Tell a deposed leader about the newer term so it steps down (etcd-io/raft, stale leader handling).
        this.send(from, { type: "append-response", term: this.term, success: false, index: 0 });
      } else if (m.type === "prevote-request") {
        this.send(from, { type: "prevote-response", term: this.term, granted: false });
      }
      return;
    }

    if (m.type === "vote-request" || m.type === "prevote-request") {
      this.handleVoteRequest(from, m);
    } else {
      STEP[this.role](this, from, m);
    }
    this.afterEvent();
  }

  protected handleRequest(req: ClientRequest): void {
    this.dispatch(req);
    this.afterEvent();
  }

  private dispatch(req: ClientRequest): void {
    const stale = req.op === "get" && (req.options?.read ?? this.opts.read) === "stale";
    if (this.leader === null && !stale && isMember(this.membership, this.id)) {
      // No leader known (an election is under way): hold the request until one is, as etcd blocks proposals,
      // rather than fail it at once; it is refused if none appears within two election timeouts.
      this.held.push({ req, at: this.now });
      return;
    }
    if (req.op === "get") this.handleRead(req);
    else this.propose(req);
  }

  private releaseHeld(): void {
    if (this.held.length === 0) return;
    if (this.leader !== null) {
      const held = this.held;
      this.held = [];
      for (const h of held) this.dispatch(h.req);
      return;
    }
    const limit = 2 * this.opts.electionTimeoutMs;
    while (this.held.length > 0 && this.now - this.held[0]!.at >= limit) {
      const h = this.held.shift()!;
      this.out.reply(errorReply(h.req.id, new KvError("KV_UNAVAILABLE", "no leader"), this.meta()));
    }
  }

  tick(now: number): void {
    if (now < this.now) return;
    this.now = now;
    this.serveLeaseReads();
    const ticks = Math.floor((now - this.lastTickAt) / this.opts.tickMs);
    if (ticks <= 0) return;
    this.lastTickAt += ticks * this.opts.tickMs;
    // After a pause only the last few ticks matter: more than two election timeouts change nothing further.
    const n = Math.min(ticks, 2 * this.electionTicks + 2);
    for (let i = 0; i < n; i++) TICK[this.role === "leader" ? "leader" : "other"](this);
    this.expireFollowerReads();
    this.afterEvent();
  }

  /** beforeReady sends what is pending and writes the batch `ready()` hands out (CoreBase). */
  protected override beforeReady(): void {
    if (this.role === "leader") this.flushLeader();
    else this.flushFollowerReads();

    const persist = this.out.persist;
    if (this.hsDirty) {
      if (this.persistsHardState()) {
        const hs: HardState = { term: this.term, vote: this.vote };
        persist.push({ type: "put", key: RECORD_HARD_STATE, value: hs });
      }
      this.hsDirty = false;
    }
    persist.push(...this.persistExtra);
    this.persistExtra = [];
    if (!this.defersLogWrite()) this.flushEntries(persist);

    // Everything in this batch is durable before the sends and replies below are released, so the leader may
    // now count its own entries toward commit (thesis §10.2.1).
    if (this.role === "leader" && this.maybeCommit()) {
      this.applyCommitted();
      this.flushLeader();
    }
    this.serveAppliedReads();
  }

  status(): NodeStatus {
    return {
      id: this.id,
      role: this.roleName(),
      leader: this.leader,
      term: this.term,
      commitIndex: this.log.committed,
      lastIndex: this.log.lastIndex(),
      applied: this.log.applied,
      members: members(this.membership),
      voters: [...this.membership.voters],
      learners: [...this.membership.learners],
    };
  }

  admin(cmd: AdminCommand): void {
    const args = cmd.args ?? {};
    const target = (args.to ?? args.node ?? args.id) as unknown;
    if (typeof target !== "string" || target === "") {
      this.out.reply(
        errorReply(cmd.id, new KvError("KV_INVALID_ARGUMENT", `${cmd.command} needs a node`), this.meta()),
      );
      return;
    }
    if (this.role !== "leader") {
      this.out.reply(this.notLeader(cmd.id));
      return;
    }
    switch (cmd.command) {
      case "transfer-leader":
        this.transferLeader(cmd.id, target);
        break;
      case "add-learner":
      case "promote":
      case "remove-member":
        this.proposeConfChange(cmd.id, { kind: "conf", change: cmd.command, node: target });
        break;
      default:
        this.out.reply(
          errorReply(
            cmd.id,
            new KvError("KV_NOT_SUPPORTED", `unknown admin command ${cmd.command}`),
            this.meta(),
          ),
        );
    }
    this.afterEvent();
  }

  dump(): Map<string, string[]> {
    return new Map([...this.sm.data].map(([k, v]) => [k, [v]]));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Role transitions (etcd-io/raft: becomeFollower / becomePreCandidate / becomeCandidate / becomeLeader)

  becomeFollower(term: number, leader: NodeId | null): void {
    const wasLeader = this.role === "leader";
    if (term > this.term) {
      this.term = term;
      this.vote = null;
      this.hsDirty = true;
    }
    this.role = "follower";
    this.leader = leader;
    if (leader !== null) this.lastLeaderContactAt = this.now;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    if (wasLeader) this.stepDownCleanup();
  }

  becomePreCandidate(): void {
    if (this.role === "leader") throw new Error("raft: leader cannot become pre-candidate");
    this.role = "pre-candidate";
    this.leader = null;
    this.votes = new Map([[this.id, true]]);
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    if (this.tally() === "won") {
      this.becomeCandidate(false);
      return;
    }
    for (const v of this.membership.voters) {
      if (v === this.id) continue;
      this.send(v, {
        type: "prevote-request",
        term: this.term + 1,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
      });
    }
  }

  becomeCandidate(transfer: boolean): void {
    if (this.role === "leader") throw new Error("raft: leader cannot become candidate");
    this.term += 1;
    this.vote = this.id;
    this.hsDirty = true;
    this.role = "candidate";
    this.leader = null;
    this.votes = new Map([[this.id, true]]);
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    if (this.tally() === "won") {
      this.becomeLeader();
      return;
    }
    for (const v of this.membership.voters) {
      if (v === this.id) continue;
      const m: RaftMessage = {
        type: "vote-request",
        term: this.term,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
      };
      if (transfer) m.transfer = true;
      this.send(v, m);
    }
  }

  becomeLeader(): void {
    if (this.role === "follower") throw new Error("raft: follower cannot become leader");
    this.role = "leader";
    this.leader = this.id;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.progress = new Map();
    this.sentCommit = new Map();
    for (const p of members(this.membership)) {
      if (p !== this.id) this.progress.set(p, newProgress(this.log.lastIndex() + 1, this.now));
    }
    this.leaseUntil = 0;
    this.committedInTerm = false;
    this.leadTransferee = null;
    this.transferAdminId = null;
    // Any conf entry not yet applied may still be in the log: no new change until it is (thesis §4.1).
    this.pendingConfIndex = this.log.lastIndex();
    if (!this.countsOnlyCurrentTerm()) {
      // A leader that commits earlier terms' entries by counting replicas sees no need for the no-op: it serves
      // reads once it has counted a commit in its term (or holds nothing uncommitted).
      this.committedInTerm = this.log.committed === this.log.lastIndex();
      this.adoptFollowerReads();
      return;
    }
    // Raft §8: a leader commits a no-op of its term before it knows the commit index (and serves reads).
    this.appendEntry({ kind: "noop" });
    this.adoptFollowerReads();
  }

  /** adoptFollowerReads serves, as leader, the reads this node had queued for a leader as a follower. */
  private adoptFollowerReads(): void {
    const unsent = this.reads.followerUnsent;
    this.reads.followerUnsent = [];
    for (const req of unsent) this.handleRead(req);
  }

  private campaign(transfer: boolean): void {
    if (!this.isPromotable()) return;
    if (this.opts.preVote && !transfer) this.becomePreCandidate();
    else this.becomeCandidate(transfer);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Elections (Raft §5.2, §5.4.1; thesis §9.6 pre-vote)

  private handleVoteRequest(
    from: NodeId,
    m: Extract<RaftMessage, { type: "vote-request" | "prevote-request" }>,
  ): void {
    const pre = m.type === "prevote-request";
    const canVote = pre
      ? m.term > this.term
      : this.vote === from || (this.vote === null && this.leader === null);
    const granted = canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm);
    if (granted && !pre) {
      this.vote = from;
      this.hsDirty = true;
      this.electionElapsed = 0;
    }
    // The response is released only after the vote is durable (it travels in `send`, after `persist`).
    this.send(from, {
      type: pre ? "prevote-response" : "vote-response",
      term: granted && pre ? m.term : this.term,
      granted,
    });
  }

  private tally(): "won" | "lost" | "pending" {
    const voters = this.membership.voters;
    let yes = 0;
    let no = 0;
    for (const v of voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = quorumSize(voters);
    if (yes >= q) return "won";
    if (no > voters.length - q) return "lost";
    return "pending";
  }

  private inLease(): boolean {
    if (!this.opts.checkQuorum) return false;
    if (this.now < this.voteGuardUntil) return true;
    if (this.role === "leader") return true;
    return this.leader !== null && this.now - this.lastLeaderContactAt < this.opts.electionTimeoutMs;
  }

  private isPromotable(): boolean {
    return isVoter(this.membership, this.id);
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTicks + this.rng.int(this.electionTicks);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Ticks

  tickElection(): void {
    this.electionElapsed++;
    if (this.isPromotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(false);
    }
  }

  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.opts.checkQuorum && !this.quorumActive()) {
        // Check-quorum: a leader that cannot reach a quorum steps down (etcd-io/raft CheckQuorum).
        this.becomeFollower(this.term, null);
        return;
      }
      if (this.leadTransferee !== null) this.abortTransfer();
    }
    if (this.role !== "leader") return;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.onHeartbeat();
      this.bcastHeartbeat();
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.membership.voters) {
      if (v === this.id) {
        active++;
        continue;
      }
      const pr = this.progress.get(v);
      if (pr?.recentActive) active++;
    }
    for (const pr of this.progress.values()) pr.recentActive = false;
    return active >= quorumSize(this.membership.voters);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Replication (Raft §5.3; etcd-io/raft design.md flow control)

  private appendEntry(cmd: Command): number {
    const e: Entry = { index: this.log.lastIndex() + 1, term: this.term, cmd };
    this.log.append([e]);
    return e.index;
  }

  private propose(req: ClientRequest): void {
    if (this.role !== "leader") {
      this.out.reply(this.notLeader(req.id));
      return;
    }
    if (this.leadTransferee !== null) {
      this.out.reply(
        errorReply(req.id, new KvError("KV_UNAVAILABLE", "leadership transfer in progress"), this.meta()),
      );
      return;
    }
    if (this.log.lastIndex() - this.log.committed >= this.opts.maxUncommittedEntries) {
      this.out.reply(
        errorReply(req.id, new KvError("KV_OVERLOADED", "too many uncommitted entries"), this.meta()),
      );
      return;
    }
    const cmd: Command = { kind: "kv", op: req.op as "put" | "delete" | "cas", key: req.key };
    if (req.op === "put" || req.op === "cas") cmd.value = req.value!;
    if (req.op === "cas") cmd.expected = req.expected ?? null;
    if (req.session !== undefined) cmd.session = { clientId: req.session.clientId, seq: req.session.seq };
    const index = this.appendEntry(cmd);
    this.pending.set(index, { id: req.id, term: this.term, op: req.op as "put" | "delete" | "cas" });
    // Without batching every proposal leaves at once in its own append-request.
    if (!this.opts.batch) this.bcastAppend();
  }

  private proposeConfChange(id: string, c: ConfCommand): void {
    const bad = validateConfChange(this.membership, c);
    if (bad !== null) {
      this.out.reply(errorReply(id, new KvError("KV_INVALID_ARGUMENT", bad), this.meta()));
      return;
    }
    // One change at a time, and only once this term has a committed entry (the single-server change bug fix,
    // raft-dev 2015 "bug in single-server membership changes").
    if (!this.committedInTerm || this.pendingConfIndex > this.log.applied) {
      this.out.reply(
        errorReply(id, new KvError("KV_UNAVAILABLE", "a configuration change is in progress"), this.meta()),
      );
      return;
    }
    if (c.change === "promote") {
      const pr = this.progress.get(c.node);
      if (pr === undefined || pr.match + this.opts.promoteMaxLag < this.log.lastIndex()) {
        // Learners catch up before they vote (etcd design-learner.md).
        this.out.reply(
          errorReply(id, new KvError("KV_UNAVAILABLE", `learner ${c.node} has not caught up`), this.meta()),
        );
        return;
      }
    }
    const index = this.appendEntry(c);
    this.pendingConfIndex = index;
    this.pending.set(index, { id, term: this.term, op: "admin" });
    if (!this.opts.batch) this.bcastAppend();
  }

  /** sendAppend sends one append-request to `to` if flow control allows; returns whether it sent. */
  private sendAppend(to: NodeId): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || isPaused(pr, this.opts.maxInflightMsgs, this.opts.maxInflightBytes)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(
      pr.next,
      this.log.lastIndex(),
      this.opts.maxMsgEntries,
      this.opts.maxMsgBytes,
    );
    // A probe is sent even when empty: its reply tells where the logs match (etcd-io/raft probe state).
    const probing = pr.state === "probe" && pr.match < this.log.lastIndex();
    if (entries.length === 0 && !probing) return false;
    let bytes = 0;
    for (const e of entries) bytes += entrySize(e);
    // Thesis §10.2.1: an append carrying entries may leave before the leader's own write is durable (sendEarly),
    // unless the hard state is dirty. Such a message may be released before earlier persist batches are durable
    // too, so its commit index must not count the leader's own copy: it carries the index a quorum of the
    // *followers* holds. The full commit index travels in regular messages, released after the batch.
    const early = entries.length > 0 && !this.hsDirty;
    const commit = early ? Math.min(this.log.committed, this.followerCommit()) : this.log.committed;
    const m: RaftMessage = { type: "append-request", term: this.term, prevIndex, prevTerm, entries, commit };
    if (pr.state === "replicate" && pr.inflights.length === 0 && entries.length > 0)
      pr.lastProgressAt = this.now;
    sentEntries(pr, prevIndex + entries.length, bytes, entries.length);
    this.sentCommit.set(to, commit);
    if (early) this.out.sendEarly.push({ to, message: m });
    else this.out.to(to, m);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (this.snapshot === null)
      throw new Error("raft: follower needs compacted entries but there is no snapshot");
    becomeSnapshot(pr, this.snapshot.index, this.now);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  /**
   * sendSnapshotChunk sends the part of the snapshot after what the follower acknowledged, bounded in bytes: a
   * snapshot of many megabytes in one message is over the peer message limit and never arrives (kv takeBatch;
   * etcd-io/raft leaves chunking to the application, Raft §7 sends InstallSnapshot with offsets). The next chunk
   * goes when this one is acknowledged, so a large snapshot never floods the link.
   */
  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const s = this.snapshot!;
    if (s.index !== pr.pendingSnapshot) {
      // A newer snapshot was taken meanwhile: send that one, from its start.
      becomeSnapshot(pr, s.index, this.now);
    }
    const offset = pr.snapshotOffset;
    const b = takeBatch(s.data, {
      start: offset,
      maxBytes: BATCH_BYTES,
      sizeOf: ([k, v]) => utf8Bytes(k) + utf8Bytes(v) + 16,
    });
    this.send(to, {
      type: "snapshot-request",
      term: this.term,
      snapshot: { ...s, data: b.entries, sessions: offset === 0 ? s.sessions : [] },
      chunk: { offset, total: s.data.length },
    });
  }

  private bcastAppend(): void {
    for (const p of this.progress.keys()) this.sendAppend(p);
  }

  /** flushLeader sends what is pending: reads to confirm, entries to pipeline, commit indexes to announce. */
  private flushLeader(): void {
    if (this.reads.hasUnassigned()) this.bcastHeartbeat();
    for (const [p, pr] of this.progress) {
      // Pipelining: keep sending while the follower is in replicate state and the window has room.
      for (let k = 0; k < this.opts.maxInflightMsgs + 1; k++) {
        // Batching: while `batchInflight` appends are on their way, new proposals accumulate into the next one
        // (a driver that calls ready() after every input would otherwise send one entry per message).
        if (this.opts.batch && pr.state === "replicate" && pr.inflights.length >= this.opts.batchInflight)
          break;
        if (!this.sendAppend(p)) break;
        if (pr.state !== "replicate" || pr.next > this.log.lastIndex()) break;
      }
      // Announce a new commit index at once (not at the next heartbeat), in a regular message: a heartbeat
      // without a read round (so unanswered), whose commit is capped by what the follower holds (Raft §5.3).
      const commit = Math.min(this.log.committed, pr.match);
      if ((this.sentCommit.get(p) ?? 0) < commit) {
        this.send(p, { type: "heartbeat", term: this.term, commit });
        this.sentCommit.set(p, commit);
      }
    }
  }

  private bcastHeartbeat(): void {
    const ctx = ++this.reads.lastCtx;
    this.reads.rounds.push({
      ctx,
      index: this.log.committed,
      sentAt: this.now,
      reads: this.reads.unassigned,
    });
    this.reads.unassigned = [];
    for (const [p, pr] of this.progress) {
      // Raft §5.3: commit only up to what the follower is known to hold, so it never commits a foreign suffix.
      const commit = Math.min(this.log.committed, pr.match);
      this.send(p, { type: "heartbeat", term: this.term, commit, ctx });
      if ((this.sentCommit.get(p) ?? 0) < commit) this.sentCommit.set(p, commit);
    }
    this.maybeConfirmReads();
  }

  /**
   * followerCommit is the largest index a quorum of voters holds without counting the leader itself: the commit
   * index an append-request may carry when it leaves before the leader's own write is durable (thesis §10.2.1).
   */
  protected followerCommit(): number {
    return committedIndex(this.membership.voters, (id) =>
      id === this.id ? 0 : (this.progress.get(id)?.match ?? 0),
    );
  }

  /** maybeCommit advances the commit index to what a quorum of voters holds (Raft §5.3, §5.4.2). */
  maybeCommit(): boolean {
    const selfMatch = this.selfMatch();
    const idx = committedIndex(this.membership.voters, (id) =>
      id === this.id ? selfMatch : (this.progress.get(id)?.match ?? 0),
    );
    if (idx <= this.log.committed) return false;
    // Raft §5.4.2 / Figure 8: only an entry of the current term is committed by counting replicas; earlier
    // entries are committed indirectly.
    if (this.countsOnlyCurrentTerm() && this.log.term(idx) !== this.term) return false;
    this.log.committed = idx;
    return true;
  }

  /** @internal */
  handleAppendResponse(from: NodeId, m: Extract<RaftMessage, { type: "append-response" }>): void {
    const pr = this.progress.get(from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.success && m.snapshotOffset !== undefined) {
      // A snapshot chunk arrived: the next one goes now.
      if (pr.state === "snapshot" && m.snapshotOffset > pr.snapshotOffset && this.snapshot !== null) {
        pr.snapshotOffset = m.snapshotOffset;
        pr.lastProgressAt = this.now;
        this.sendSnapshotChunk(from, pr);
      }
      return;
    }
    if (!m.success) {
      let hint = m.hintIndex ?? m.index - 1;
      if (m.hintTerm !== undefined && m.hintTerm > 0)
        hint = this.log.findConflictByTerm(hint, m.hintTerm).index;
      if (maybeDecrTo(pr, m.index, hint)) {
        if (pr.state === "replicate") becomeProbe(pr);
        this.sendAppend(from);
      }
      return;
    }
    const oldPaused = isPaused(pr, this.opts.maxInflightMsgs, this.opts.maxInflightBytes);
    if (maybeUpdate(pr, m.index, this.now)) {
      if (pr.state === "probe") becomeReplicate(pr);
      else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
        becomeProbe(pr);
        becomeReplicate(pr);
      } else if (pr.state === "replicate") freeInflights(pr, m.index);
      if (this.maybeCommit()) this.applyCommitted();
      if (from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(from);
    } else if (oldPaused && pr.state === "replicate") {
      freeInflights(pr, m.index);
    }
  }

  /** @internal */
  handleHeartbeatResponse(from: NodeId, m: Extract<RaftMessage, { type: "heartbeat-response" }>): void {
    const pr = this.progress.get(from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.ctx > pr.ackedCtx) pr.ackedCtx = m.ctx;
    if (pr.state === "probe") pr.probeSent = false;
    // Messages can be lost: a window that has not moved for an election timeout, or a snapshot that was never
    // acknowledged, falls back to probing (etcd relies on ReportUnreachable / ReportSnapshot instead).
    const stalled = this.now - pr.lastProgressAt >= this.opts.electionTimeoutMs;
    if (pr.state === "replicate" && pr.inflights.length > 0 && stalled) becomeProbe(pr);
    if (pr.state === "snapshot" && stalled) becomeProbe(pr);
    this.maybeConfirmReads();
  }

  /** @internal */
  handleAppendRequest(from: NodeId, m: Extract<RaftMessage, { type: "append-request" }>): void {
    // Entries up to our commit index match the leader's (Leader Completeness).
    if (m.prevIndex < this.log.committed && this.keepsSafety()) {
      this.send(from, { type: "append-response", term: this.term, success: true, index: this.log.committed });
      return;
    }
    const last = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.entries);
    if (last !== null) {
      this.commitTo(Math.min(m.commit, last));
      // Released after the entries are durable: an acknowledged entry survives a crash (Raft Figure 2).
      this.send(from, { type: "append-response", term: this.term, success: true, index: last });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send(from, {
      type: "append-response",
      term: this.term,
      success: false,
      index: m.prevIndex,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  /** @internal */
  handleHeartbeat(from: NodeId, m: Extract<RaftMessage, { type: "heartbeat" }>): void {
    this.commitTo(Math.min(m.commit, this.log.lastIndex()));
    if (m.ctx !== undefined) this.send(from, { type: "heartbeat-response", term: this.term, ctx: m.ctx });
  }

  /** @internal */
  handleSnapshot(from: NodeId, m: Extract<RaftMessage, { type: "snapshot-request" }>): void {
    let s = m.snapshot;
    if (s.index <= this.log.committed) {
      this.incoming = null;
      this.send(from, { type: "append-response", term: this.term, success: true, index: this.log.committed });
      return;
    }
    if (m.chunk !== undefined) {
      const { offset, total } = m.chunk;
      const cur = this.incoming;
      if (offset === 0) this.incoming = { ...s, data: [...s.data] };
      else if (cur !== null && cur.index === s.index && cur.term === s.term && cur.data.length === offset)
        for (const e of s.data) cur.data.push(e);
      else return; // A chunk out of order (one was lost): the leader starts over when it sees no progress.
      const held = this.incoming!;
      if (held.data.length < total) {
        this.send(from, {
          type: "append-response",
          term: this.term,
          success: true,
          index: this.log.committed,
          snapshotOffset: held.data.length,
        });
        return;
      }
      this.incoming = null;
      s = held;
    }
    if (this.log.matchTerm(s.index, s.term)) {
      // We already hold the snapshot's last entry: fast-forward the commit index instead (etcd-io/raft restore).
      this.commitTo(s.index);
    } else {
      this.installSnapshot(s);
    }
    this.send(from, { type: "append-response", term: this.term, success: true, index: s.index });
  }

  private commitTo(i: number): void {
    if (i > this.log.committed) this.log.committed = i;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Apply and compaction (Raft §7)

  private applyCommitted(): void {
    const log = this.log;
    while (log.applied < log.committed) {
      const e = log.entry(log.applied + 1);
      if (e === undefined) throw new Error(`raft: committed entry ${log.applied + 1} is missing`);
      log.applied = e.index;
      this.applyEntry(e);
    }
    const knowsCommit = log.term(log.committed) === this.term || !this.countsOnlyCurrentTerm();
    if (this.role === "leader" && !this.committedInTerm && knowsCommit) {
      this.committedInTerm = true;
      this.reads.unassigned.push(...this.reads.waitingForTermCommit);
      this.reads.waitingForTermCommit = [];
    }
    if (this.opts.snapshotEvery > 0 && log.applied - log.snapIndex >= this.opts.snapshotEvery)
      this.takeSnapshot();
  }

  private applyEntry(e: Entry): void {
    const cmd = e.cmd;
    // Taken out first: applying a conf change may make this leader step down, which aborts what is pending.
    const p = this.pending.get(e.index);
    if (p !== undefined) this.pending.delete(e.index);
    let result: ApplyResult = {};
    if (cmd.kind === "kv") result = this.sm.apply(cmd);
    else if (cmd.kind === "conf") this.applyConfChange(cmd);
    if (p === undefined) return;
    const meta = { ...this.meta(), index: e.index };
    if (p.term !== e.term || result.stale === true) {
      this.out.reply(errorReply(p.id, new KvError("KV_ABORTED", "the proposal was superseded"), meta));
      return;
    }
    const reply: ClientReply = { id: p.id, ok: true, meta };
    if (p.op === "cas") reply.swapped = result.swapped === true;
    this.out.reply(reply);
  }

  private applyConfChange(c: ConfCommand): void {
    this.membership = applyConfChange(this.membership, c);
    if (this.role !== "leader") return;
    for (const p of members(this.membership)) {
      if (p !== this.id && !this.progress.has(p))
        this.progress.set(p, newProgress(this.log.lastIndex() + 1, this.now));
    }
    for (const p of [...this.progress.keys()]) if (!isMember(this.membership, p)) this.progress.delete(p);
    if (!isVoter(this.membership, this.id)) {
      // A removed leader steps down once the change is applied (thesis §4.2.2; etcd StepDownOnRemoval).
      this.becomeFollower(this.term, null);
      return;
    }
    if (this.maybeCommit()) this.applyCommitted();
  }

  private takeSnapshot(): void {
    const log = this.log;
    const index = log.applied;
    const term = log.term(index);
    if (term === undefined) return;
    const { data, sessions } = this.sm.snapshotData();
    this.snapshot = { index, term, membership: cloneMembership(this.membership), data, sessions };
    const oldSnap = log.snapIndex;
    log.compact(index);
    this.persistExtra.push({ type: "put", key: RECORD_SNAPSHOT, value: this.snapshot });
    for (let i = oldSnap + 1; i <= Math.min(index, log.persistedLast); i++)
      this.persistExtra.push({ type: "del", key: entryKey(i) });
  }

  private installSnapshot(s: Snapshot): void {
    const log = this.log;
    const oldSnap = log.snapIndex;
    const oldLast = Math.max(log.persistedLast, log.lastIndex());
    this.sm.restore(s.data, s.sessions);
    this.membership = cloneMembership(s.membership);
    log.restoreSnapshot(s.index, s.term);
    this.snapshot = s;
    this.persistExtra.push({ type: "put", key: RECORD_SNAPSHOT, value: s });
    for (let i = oldSnap + 1; i <= oldLast; i++) this.persistExtra.push({ type: "del", key: entryKey(i) });
    log.persistedLast = s.index;
  }

  private flushEntries(persist: PersistOp[]): void {
    const log = this.log;
    const from = Math.max(Math.min(log.dirtyFrom, log.stable + 1), log.firstIndex());
    for (let i = from; i <= log.lastIndex(); i++) {
      persist.push({ type: "put", key: entryKey(i), value: log.entry(i) });
    }
    for (let i = log.lastIndex() + 1; i <= log.persistedLast; i++)
      persist.push({ type: "del", key: entryKey(i) });
    log.persistedLast = log.lastIndex();
    log.stable = log.lastIndex();
    log.dirtyFrom = Number.POSITIVE_INFINITY;
  }

  /** restore rebuilds the durable state from the records this node persisted (crash-restart). */
  private restore(records: ReadonlyMap<string, unknown>): void {
    const snap = records.get(RECORD_SNAPSHOT) as Snapshot | undefined;
    if (snap !== undefined) {
      this.sm.restore(snap.data, snap.sessions);
      this.membership = cloneMembership(snap.membership);
      this.log.restoreSnapshot(snap.index, snap.term);
      this.snapshot = snap;
    }
    const hs = records.get(RECORD_HARD_STATE) as HardState | undefined;
    if (hs !== undefined) {
      this.term = hs.term;
      this.vote = hs.vote;
    }
    const entries = new Map<number, Entry>();
    let maxKey = 0;
    for (const [k, v] of records) {
      if (!k.startsWith("e/")) continue;
      const e = v as Entry;
      entries.set(e.index, e);
      maxKey = Math.max(maxKey, e.index);
    }
    const log = this.log;
    for (let i = log.snapIndex + 1; entries.has(i); i++) log.entries.push(entries.get(i)!);
    for (const i of entries.keys())
      if (i <= log.snapIndex) this.persistExtra.push({ type: "del", key: entryKey(i) });
    log.stable = log.lastIndex();
    log.persistedLast = Math.max(maxKey, log.snapIndex);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reads (Raft §6.4 ReadIndex, §6.4.1 leases and follower reads)

  private handleRead(req: ClientRequest): void {
    const mode: ReadMode = req.options?.read ?? this.opts.read;
    if (mode === "stale") {
      // Explicitly stale: whatever this replica has applied, with no recency promise.
      this.replyRead(req, this.log.applied);
      return;
    }
    if (this.role === "leader") {
      if (!this.confirmsLeadershipForReads()) {
        // Unconfirmed: a leader deposed without noticing answers from its old state.
        this.replyRead(req, this.log.applied);
        return;
      }
      if (mode === "lease" && this.committedInTerm && this.now < this.leaseUntil) {
        // Drivers deliver input with this clock at most one tick old (the node driver ticks first when a tick is
        // due; the simulator ticks a resumed node before its queued input), so the real time is at most
        // now + tickMs: if the lease still holds then, answer at once (§6.4.1). Otherwise judge it at the next
        // tick, against that tick's time.
        if (this.now + this.opts.tickMs < this.leaseUntil) this.replyRead(req, this.log.committed);
        else this.leaseReads.push(req);
        return;
      }
      const w: ReadWaiter = { kind: "local", req };
      if (this.committedInTerm) this.reads.unassigned.push(w);
      else this.reads.waitingForTermCommit.push(w);
      return;
    }
    if (this.leader === null || !isMember(this.membership, this.id)) {
      this.out.reply(this.notLeader(req.id));
      return;
    }
    this.reads.followerUnsent.push(req);
  }

  /** serveLeaseReads answers held lease reads if the lease still holds now, else sends them through ReadIndex. */
  private serveLeaseReads(): void {
    if (this.leaseReads.length === 0) return;
    const reqs = this.leaseReads;
    this.leaseReads = [];
    for (const req of reqs) {
      if (this.role === "leader" && this.now < this.leaseUntil) this.replyRead(req, this.log.committed);
      else if (this.role === "leader") this.reads.unassigned.push({ kind: "local", req });
      else this.out.reply(this.notLeader(req.id));
    }
  }

  /** @internal */
  handleReadIndexRequest(from: NodeId, m: Extract<RaftMessage, { type: "read-index-request" }>): void {
    const w: ReadWaiter = { kind: "remote", from, ctx: m.ctx };
    if (this.committedInTerm) this.reads.unassigned.push(w);
    else this.reads.waitingForTermCommit.push(w);
  }

  private maybeConfirmReads(): void {
    if (this.reads.rounds.length === 0) return;
    const acked = committedIndex(this.membership.voters, (id) =>
      id === this.id ? this.reads.lastCtx : (this.progress.get(id)?.ackedCtx ?? 0),
    );
    for (const round of this.reads.confirm(acked)) {
      // A quorum heard from us after `sentAt`; none of them votes for another leader within the election
      // timeout of that moment (check-quorum), so our lease runs until then minus the drift bound.
      const lease = round.sentAt + this.opts.electionTimeoutMs - this.opts.clockDriftMs;
      if (lease > this.leaseUntil) this.leaseUntil = lease;
      for (const w of round.reads) {
        if (w.kind === "local") this.reads.applyWait.push({ index: round.index, req: w.req });
        else
          this.send(w.from, { type: "read-index-response", term: this.term, ctx: w.ctx, index: round.index });
      }
    }
  }

  /** @internal */
  handleReadIndexResponse(m: Extract<RaftMessage, { type: "read-index-response" }>): void {
    const k = this.reads.followerOutstanding.findIndex((o) => o.ctx === m.ctx);
    if (k < 0) return;
    const o = this.reads.followerOutstanding[k]!;
    this.reads.followerOutstanding.splice(k, 1);
    for (const req of o.reqs) {
      if (m.index === null) this.out.reply(this.notLeader(req.id));
      else this.reads.applyWait.push({ index: m.index, req });
    }
  }

  private flushFollowerReads(): void {
    const r = this.reads;
    if (r.followerUnsent.length === 0) return;
    if (this.leader === null || this.leader === this.id) {
      for (const req of r.followerUnsent) this.out.reply(this.notLeader(req.id));
      r.followerUnsent = [];
      return;
    }
    const ctx = ++r.followerCtx;
    r.followerOutstanding.push({ ctx, sentAt: this.now, reqs: r.followerUnsent });
    r.followerUnsent = [];
    this.send(this.leader, { type: "read-index-request", term: this.term, ctx });
  }

  private expireFollowerReads(): void {
    const r = this.reads;
    const limit = 2 * this.opts.electionTimeoutMs;
    while (r.followerOutstanding.length > 0 && this.now - r.followerOutstanding[0]!.sentAt >= limit) {
      for (const req of r.followerOutstanding.shift()!.reqs) {
        this.out.reply(
          errorReply(req.id, new KvError("KV_UNAVAILABLE", "no read index from the leader"), this.meta()),
        );
      }
    }
  }

  private serveAppliedReads(): void {
    const r = this.reads;
    if (r.applyWait.length === 0) return;
    const keep: typeof r.applyWait = [];
    for (const w of r.applyWait) {
      if (w.index <= this.log.applied) this.replyRead(w.req, w.index);
      else keep.push(w);
    }
    r.applyWait = keep;
  }

  private replyRead(req: ClientRequest, index: number): void {
    this.out.reply({ id: req.id, ok: true, value: this.sm.get(req.key), meta: { ...this.meta(), index } });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Leadership transfer (thesis §3.10)

  private transferLeader(id: string, to: NodeId): void {
    if (to === this.id) {
      this.out.reply({ id, ok: true, meta: this.meta() });
      return;
    }
    if (!isVoter(this.membership, to)) {
      this.out.reply(errorReply(id, new KvError("KV_INVALID_ARGUMENT", `${to} is not a voter`), this.meta()));
      return;
    }
    if (this.leadTransferee !== null) this.abortTransfer();
    this.leadTransferee = to;
    this.transferAdminId = id;
    this.transferSent = false;
    // The transfer must finish within one election timeout (thesis §3.10).
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  private sendTimeoutNow(to: NodeId): void {
    if (this.transferSent) return;
    this.transferSent = true;
    this.send(to, { type: "timeout-now", term: this.term });
    if (this.transferAdminId !== null) {
      this.out.reply({ id: this.transferAdminId, ok: true, meta: this.meta() });
      this.transferAdminId = null;
    }
  }

  private abortTransfer(): void {
    if (this.transferAdminId !== null) {
      this.out.reply(
        errorReply(
          this.transferAdminId,
          new KvError("KV_UNAVAILABLE", "leadership transfer timed out"),
          this.meta(),
        ),
      );
    }
    this.leadTransferee = null;
    this.transferAdminId = null;
    this.transferSent = false;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Helpers

  private stepDownCleanup(): void {
    // Outcomes of our proposals are now unknown: they may still commit under the next leader (KV_ABORTED is
    // indefinite, recorded as `info`).
    for (const [index, p] of this.pending) {
      this.out.reply(
        errorReply(p.id, new KvError("KV_ABORTED", "leadership lost before commit"), {
          ...this.meta(),
          index,
        }),
      );
    }
    this.pending.clear();
    this.serveLeaseReads();
    for (const w of this.reads.drainLeader()) {
      if (w.kind === "local") this.out.reply(this.notLeader(w.req.id));
      else this.send(w.from, { type: "read-index-response", term: this.term, ctx: w.ctx, index: null });
    }
    if (this.leadTransferee !== null) this.abortTransfer();
    this.progress = new Map();
    this.leaseUntil = 0;
    this.committedInTerm = false;
  }

  private afterEvent(): void {
    if (this.log.applied < this.log.committed) this.applyCommitted();
    this.releaseHeld();
  }

  send(to: NodeId, message: RaftMessage): void {
    this.out.to(to, message);
  }

  protected meta(): { node: NodeId; term: number } {
    return { node: this.id, term: this.term };
  }

  private notLeader(id: string): ClientReply {
    const hint = this.leader !== null && this.leader !== this.id ? { leader: this.leader } : undefined;
    return errorReply(id, new KvError("KV_NOT_LEADER", "not the leader", hint), this.meta());
  }

  private roleName(): string {
    if (this.role !== "follower") return this.role;
    if (this.membership.learners.includes(this.id)) return "learner";
    return isVoter(this.membership, this.id) ? "follower" : "non-member";
  }

  // Internal hooks for the step functions below.
  /** @internal */
  _tally(): "won" | "lost" | "pending" {
    return this.tally();
  }
  _recordVote(from: NodeId, granted: boolean): void {
    this.votes.set(from, granted);
  }
  _leaderContact(from: NodeId): void {
    this.leader = from;
    this.lastLeaderContactAt = this.now;
    this.electionElapsed = 0;
  }
  _campaign(transfer: boolean): void {
    this.campaign(transfer);
  }
  _keepsSafety(): boolean {
    return this.keepsSafety();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Hooks: what Raft decides, one method each, so that a teaching variant (engines.ts) can decide otherwise.

  /**
   * keepsSafety is true when this core keeps Raft's safety properties (Election Safety, Leader Completeness; Raft
   * Figure 3): a violation is then a bug and throws, and the protocol relies on them. A core that breaks one
   * answers false, so that the checker, not a crash, finds the consequence.
   */
  protected keepsSafety(): boolean {
    return true;
  }

  /** persistsHardState is true when term and vote are written before anything that depends on them (Figure 2). */
  protected persistsHardState(): boolean {
    return true;
  }

  /** defersLogWrite is asked once per ready(): true leaves the new entries out of this persist batch. */
  protected defersLogWrite(): boolean {
    return false;
  }

  /** onHeartbeat is called when a leader's heartbeat interval elapses, before the heartbeat goes out. */
  protected onHeartbeat(): void {}

  /** selfMatch is the index a leader counts for itself toward commit: what is durable (thesis §10.2.1). */
  protected selfMatch(): number {
    return this.log.stable;
  }

  /**
   * countsOnlyCurrentTerm is true when a leader commits by counting replicas only entries of its own term, and
   * so appends a no-op on taking office to learn the commit index (Raft §5.4.2 and Figure 8, §8).
   */
  protected countsOnlyCurrentTerm(): boolean {
    return true;
  }

  /** confirmsLeadershipForReads is true when a leader confirms it still leads before it answers a read (§8). */
  protected confirmsLeadershipForReads(): boolean {
    return true;
  }
}

function numberOfVoters(options: RaftInit["options"]): number {
  const v = (options as Record<string, unknown> | undefined)?.voters;
  const n = typeof v === "number" ? v : Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function cloneMembership(m: Membership): Membership {
  return { voters: [...m.voters], learners: [...m.learners] };
}

// -----------------------------------------------------------------------------------------------------------------
// Step functions: a role is the pair (step function, tick function), swapped by the become* methods.

const stepFollower: StepFn = (r, from, m) => {
  switch (m.type) {
    case "append-request":
      r._leaderContact(from);
      r.handleAppendRequest(from, m as never);
      return;
    case "heartbeat":
      r._leaderContact(from);
      r.handleHeartbeat(from, m as never);
      return;
    case "snapshot-request":
      r._leaderContact(from);
      r.handleSnapshot(from, m as never);
      return;
    case "timeout-now":
      // Leadership transfer: campaign at once, skipping pre-vote (thesis §3.10).
      r._campaign(true);
      return;
    case "read-index-request":
      r.send(from, { type: "read-index-response", term: r.term, ctx: m.ctx, index: null });
      return;
    case "read-index-response":
      r.handleReadIndexResponse(m as never);
      return;
    default:
      return;
  }
};

const stepCandidate: StepFn = (r, from, m) => {
  switch (m.type) {
    case "append-request":
    case "heartbeat":
    case "snapshot-request":
      // A leader of our term exists (Raft §5.2): return to follower and handle the message as one.
      r.becomeFollower(m.term, from);
      stepFollower(r, from, m);
      return;
    case "prevote-response":
    case "vote-response": {
      const expected = r.role === "pre-candidate" ? "prevote-response" : "vote-response";
      if (m.type !== expected) return;
      // A granted pre-vote carries the term it was asked for (ours + 1).
      if (m.type === "prevote-response" && m.granted && m.term !== r.term + 1) return;
      r._recordVote(from, m.granted);
      const t = r._tally();
      if (t === "won") {
        if (r.role === "pre-candidate") r.becomeCandidate(false);
        else r.becomeLeader();
      } else if (t === "lost") {
        r.becomeFollower(r.term, null);
      }
      return;
    }
    case "read-index-request":
      r.send(from, { type: "read-index-response", term: r.term, ctx: m.ctx, index: null });
      return;
    case "read-index-response":
      r.handleReadIndexResponse(m as never);
      return;
    default:
      return;
  }
};

const stepLeader: StepFn = (r, from, m) => {
  switch (m.type) {
    case "append-response":
      r.handleAppendResponse(from, m as never);
      return;
    case "heartbeat-response":
      r.handleHeartbeatResponse(from, m as never);
      return;
    case "read-index-request":
      r.handleReadIndexRequest(from, m as never);
      return;
    case "append-request":
    case "heartbeat":
    case "snapshot-request":
      // Election Safety (Raft §5.2): at most one leader per term. Two would be a bug, except in a core that does
      // not keep it, where the checker (not a crash) must find the consequence.
      if (!r._keepsSafety()) return;
      throw new Error(`raft: two leaders in term ${m.term} (${r.id} and ${from})`);
    default:
      return;
  }
};

const STEP: Record<Role, StepFn> = {
  follower: stepFollower,
  "pre-candidate": stepCandidate,
  candidate: stepCandidate,
  leader: stepLeader,
};

const TICK: Record<"leader" | "other", TickFn> = {
  leader: (r) => r.tickHeartbeat(),
  other: (r) => r.tickElection(),
};
