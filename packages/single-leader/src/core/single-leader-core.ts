import {
  type AdminCommand,
  type ClientReply,
  type ClientRequest,
  CoreBase,
  type EngineInit,
  errorReply,
  indexPositions,
  KvError,
  type NodeId,
  type NodeStatus,
  ReplicationStream,
  type Rng,
  SessionParking,
  type Shipment,
  type StreamSource,
  utf8Bytes,
} from "@consistency-lab/kv";
import type {
  AppendRequest,
  AppendResponse,
  HardState,
  LogEntry,
  SingleLeaderMessage,
  VoteRequest,
  VoteResponse,
} from "./messages.js";
import {
  parseWriteConcern,
  requiredFollowerAcks,
  resolveConfig,
  type SingleLeaderConfig,
} from "./options.js";

const HARD_STATE_KEY = "hs";
const LOG_PREFIX = "log/";
/**
 * Entries per append message, so a far-behind follower catches up in bounded messages; the message is bounded in
 * bytes too (kv BATCH_BYTES), or 64 large values would be over the transport's frame limit and never arrive.
 */
const MAX_BATCH = 64;
/**
 * Ticks after which a leader heartbeats even if its clock has not moved on: a clock that is set back (the
 * simulator's skew, NTP stepping a real clock) stands still, and replication must not stop with it.
 */
const HEARTBEAT_TICKS = 10;

/** Role of a node in its current epoch. */
export type Role = "leader" | "follower" | "candidate";

interface PendingWrite {
  id: string;
  index: number;
  need: number;
  deadline: number;
  swapped?: boolean;
}

/**
 * SingleLeaderCore is one node of a single-leader replicated KV store (DDIA ch. 5 "Leaders and Followers"): the
 * leader orders every write into a replication log, followers apply the log as it arrives, and the leader
 * acknowledges a client once as many followers as the write concern and follower mode ask for hold the write
 * durably. Leadership changes by election (automatic failover) or an operator's `promote`; every leadership has an
 * epoch, a node grants one vote per epoch, and a node that has seen a newer epoch refuses replication from an older
 * one, which is what fences a deposed leader (DDIA ch. 9 "Epoch numbering and quorums").
 *
 * What this can and cannot prevent: a majority vote with an up-to-date-log check means one leader per epoch and,
 * with `w: majority`, no acknowledged write is lost across failover. It cannot stop a deposed leader that has not
 * yet heard of the newer epoch from serving stale reads, nor from acknowledging `w: 1` writes that the new leader
 * never saw; those are rolled back (and counted in `status().rolledBack`) when it rejoins.
 */
export class SingleLeaderCore extends CoreBase<SingleLeaderMessage> {
  readonly id: NodeId;
  readonly cfg: SingleLeaderConfig;
  private readonly members: NodeId[];
  private readonly peers: NodeId[];
  private readonly rng: Rng;

  private epoch = 1;
  private votedFor: NodeId | null = null;
  private leader: NodeId | null = null;
  private role: Role = "follower";
  /** Invariant: log[i - 1] is the entry at position i; positions start at 1. */
  private log: LogEntry[] = [];
  private data = new Map<string, string>();
  /**
   * The latest write of each client session in the log: its seq and position. A write retried with the same seq
   * (the client lost the reply: a restart, a dropped connection) is answered from its first position instead of
   * being applied again — applying it twice would let an overwritten value come back.
   */
  private sessions = new Map<string, { seq: number; index: number; cas: boolean }>();
  private now: number;

  private lastHeard: number;
  private caughtUpAt = Number.NEGATIVE_INFINITY;
  private leaderLast = 0;
  private followerCommit = 0;
  private electionDeadline = 0;
  /** Set once a node learns it was deposed; its later writes are refused with KV_FENCED. */
  private deposed = false;
  /**
   * The leader's replication of its log to each follower (null on a follower). A follower's acknowledged position
   * is the highest index known to match the leader's log there in this epoch; until it acknowledges one, the leader
   * probes from its own last index (Raft §5.3), one append at a time.
   */
  private stream: ReplicationStream<number> | null = null;
  private pending: PendingWrite[] = [];
  private votes = new Set<NodeId>();
  private forcedElection = false;
  private promotes: string[] = [];
  /** Follower reads waiting until this node holds their session's log position. */
  private parked = new SessionParking<number>();

  private counters = { rolledBack: 0, fenced: 0, elections: 0, timeouts: 0, aborted: 0 };

  constructor(init: EngineInit) {
    super();
    this.id = init.id;
    this.members = [...init.peers];
    this.peers = this.members.filter((p) => p !== init.id);
    this.rng = init.rng;
    this.cfg = resolveConfig(init.options);
    this.now = init.now;
    this.lastHeard = init.now;
    this.restore(init.records);
    this.resetElectionDeadline();
  }

  private restore(records: ReadonlyMap<string, unknown>): void {
    const hs = records.get(HARD_STATE_KEY) as HardState | undefined;
    if (hs) {
      this.epoch = hs.epoch;
      this.votedFor = hs.votedFor;
      this.leader = hs.leader;
    } else {
      // Epoch 1 is led by the first member by configuration, so the cluster starts without an election.
      this.epoch = 1;
      this.leader = this.members[0] ?? null;
      this.votedFor = this.leader;
    }
    const entries: [number, LogEntry][] = [];
    for (const [k, v] of records) {
      if (k.startsWith(LOG_PREFIX)) entries.push([Number(k.slice(LOG_PREFIX.length)), v as LogEntry]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    entries.forEach(([index, e], i) => {
      // Invariant: persisted positions are contiguous from 1 (truncation deletes a suffix in one batch).
      if (index !== i + 1)
        throw new Error(`single-leader: log position ${index} found where ${i + 1} expected`);
      this.log.push(e);
    });
    this.rebuild();
    if (this.leader === this.id) this.becomeLeaderState();
  }

  // ------------------------------------------------------------------ hooks (src/engines.ts overrides them)

  /**
   * fences is whether replication is fenced by epoch (DDIA ch. 9 "Fencing tokens"): a node refuses appends from an
   * older epoch, and a leader steps down when it learns of a newer one. The no-fencing variant says no: whoever
   * replicates is followed and a leader never steps down, so a failover leaves two leaders (split brain).
   */
  protected fences(): boolean {
    return true;
  }

  /**
   * dedupesRetries is whether a write retried with its session's seq is answered from its first position rather
   * than appended again (Raft thesis §6.3). The retry-twice variant says no, as the engine was before it kept
   * sessions.
   */
  protected dedupesRetries(): boolean {
    return true;
  }

  // ------------------------------------------------------------------ log

  private get lastIndex(): number {
    return this.log.length;
  }

  private epochAt(index: number): number {
    return index <= 0 ? 0 : (this.log[index - 1]?.epoch ?? 0);
  }

  private appendEntry(e: LogEntry): number {
    this.log.push(e);
    const index = this.log.length;
    this.out.put(LOG_PREFIX + index, e);
    this.applyEntry(e, index);
    return index;
  }

  /** truncateFrom drops positions >= index; their writes are rolled back (DDIA: lost async writes). */
  private truncateFrom(index: number): void {
    for (let i = this.log.length; i >= index; i--) {
      this.out.del(LOG_PREFIX + i);
      if (this.log[i - 1]?.key !== undefined) this.counters.rolledBack++;
    }
    this.log.length = index - 1;
    this.rebuild();
  }

  private applyEntry(e: LogEntry, index: number): void {
    if (e.key === undefined) return;
    if (e.value === null || e.value === undefined) this.data.delete(e.key);
    else this.data.set(e.key, e.value);
    if (e.client !== undefined && e.seq !== undefined) {
      this.sessions.set(e.client, { seq: e.seq, index, cas: e.cas === true });
    }
  }

  private rebuild(): void {
    this.data = new Map();
    this.sessions = new Map();
    for (let i = 0; i < this.log.length; i++) this.applyEntry(this.log[i]!, i + 1);
  }

  private persistHardState(): void {
    const hs: HardState = { epoch: this.epoch, votedFor: this.votedFor, leader: this.leader };
    this.out.put(HARD_STATE_KEY, hs);
  }

  // ------------------------------------------------------------------ roles

  private resetElectionDeadline(): void {
    // Randomised so that followers rarely stand at once and split the vote (Raft §5.2).
    const t = this.cfg.failoverTimeoutMs;
    this.electionDeadline = this.now + t + this.rng.int(Math.max(1, t));
  }

  private becomeLeaderState(): void {
    this.role = "leader";
    this.leader = this.id;
    this.deposed = false;
    // Appends double as heartbeats: each follower hears from the leader at least every heartbeatMs.
    this.stream = new ReplicationStream(
      { peers: this.peers, acked: 0, probe: this.lastIndex, now: this.now },
      {
        resendMs: this.cfg.heartbeatMs,
        resendTicks: HEARTBEAT_TICKS,
        maxEntries: MAX_BATCH,
        heartbeat: true,
      },
    );
  }

  private becomeLeader(): void {
    this.becomeLeaderState();
    this.persistHardState();
    // A no-op in the new epoch makes leftovers of older epochs on followers conflict and be truncated.
    this.appendEntry({ epoch: this.epoch });
    this.broadcastAppend();
    for (const id of this.promotes) this.out.reply({ id, ok: true, meta: this.meta() });
    this.promotes = [];
  }

  /** stepDown makes this node a follower of `epoch` (led by `leader` when known). */
  private stepDown(epoch: number, leader: NodeId | null): void {
    if (this.role === "leader") {
      this.deposed = true;
      // A pending write may or may not survive in the new leader's log: outcome unknown.
      for (const p of this.pending) {
        this.counters.aborted++;
        this.out.reply(
          errorReply(
            p.id,
            new KvError("KV_ABORTED", "leader deposed before the write concern was met"),
            this.meta(),
          ),
        );
      }
      this.pending = [];
      this.stream = null;
    }
    if (this.role === "candidate") this.failPromotes("a newer epoch exists");
    this.role = "follower";
    if (epoch > this.epoch) {
      this.epoch = epoch;
      this.votedFor = null;
    }
    this.leader = leader;
    this.persistHardState();
    this.resetElectionDeadline();
  }

  private startElection(forced: boolean): void {
    this.counters.elections++;
    this.epoch += 1;
    this.role = "candidate";
    this.votedFor = this.id;
    this.leader = null;
    this.votes = new Set([this.id]);
    this.forcedElection = forced;
    this.persistHardState();
    this.resetElectionDeadline();
    if (this.votes.size >= this.quorum()) {
      this.becomeLeader();
      return;
    }
    const { lastIndex } = this;
    for (const to of this.peers) {
      this.out.to(to, {
        type: "vote-request",
        epoch: this.epoch,
        lastIndex,
        lastEpoch: this.epochAt(lastIndex),
        forced,
      });
    }
  }

  private failPromotes(why: string): void {
    for (const id of this.promotes) {
      this.out.reply(errorReply(id, new KvError("KV_UNAVAILABLE", `promote failed: ${why}`), this.meta()));
    }
    this.promotes = [];
  }

  private quorum(): number {
    return Math.floor(this.members.length / 2) + 1;
  }

  // ------------------------------------------------------------------ EngineCore

  step(from: NodeId, m: SingleLeaderMessage): void {
    switch (m.type) {
      case "append": {
        this.handleAppend(from, m);
        return;
      }
      case "append-response": {
        this.handleAppendResponse(from, m);
        return;
      }
      case "vote-request": {
        this.handleVoteRequest(from, m);
        return;
      }
      case "vote-response": {
        this.handleVoteResponse(from, m);
        return;
      }
    }
  }

  tick(now: number): void {
    if (now > this.now) this.now = now;
    if (this.role === "leader") {
      this.sendAppends(this.stream!.tick(this.now, this.logSource()));
      const expired = this.pending.filter((p) => p.deadline <= this.now);
      if (expired.length > 0) {
        this.pending = this.pending.filter((p) => p.deadline > this.now);
        for (const p of expired) {
          this.counters.timeouts++;
          this.out.reply(
            errorReply(p.id, new KvError("KV_TIMEOUT", "write concern not met in time"), this.meta()),
          );
        }
      }
    } else if (this.now >= this.electionDeadline) {
      if (this.role === "candidate" && (this.forcedElection || this.cfg.failover === "manual")) {
        // An operator's promote that found no majority: give up rather than keep deposing whoever leads.
        this.failPromotes("no majority of votes");
        this.role = "follower";
        this.resetElectionDeadline();
      } else if (this.cfg.failover === "auto") {
        this.startElection(false);
      } else {
        this.resetElectionDeadline();
      }
    }
    this.settleParked();
  }

  protected handleRequest(req: ClientRequest): void {
    if (req.op === "get") {
      this.read(req);
      return;
    }
    const w = req.options?.w === undefined ? this.cfg.w : parseWriteConcern(req.options.w);
    if (w === undefined || (typeof w === "number" && w > this.members.length)) {
      this.refuse(req, "KV_INVALID_ARGUMENT", `w must be 1..${this.members.length} or "majority"`);
      return;
    }
    if (this.role !== "leader") {
      if (this.deposed) {
        this.counters.fenced++;
        this.refuse(req, "KV_FENCED", `deposed: epoch ${this.epoch} has another leader`);
        return;
      }
      this.refuse(req, "KV_NOT_LEADER", "not the leader");
      return;
    }
    const need = requiredFollowerAcks(this.cfg, w, this.members.length);
    const prev = req.session === undefined ? undefined : this.sessions.get(req.session.clientId);
    if (
      this.dedupesRetries() &&
      req.session !== undefined &&
      prev !== undefined &&
      req.session.seq <= prev.seq
    ) {
      if (req.session.seq < prev.seq) {
        // The client has moved on to a later op: nobody waits for this reply.
        this.refuse(req, "KV_ABORTED", "a later write of this session was already applied");
        return;
      }
      // A retry of a write already in the log: acknowledge it once the original position meets the write
      // concern, exactly as the first attempt would have been.
      const p: PendingWrite = {
        id: req.id,
        index: prev.index,
        need,
        deadline: this.now + this.cfg.wTimeoutMs,
      };
      if (prev.cas) p.swapped = true;
      this.pending.push(p);
      this.maybeAck();
      return;
    }
    let entry: LogEntry;
    let swapped: boolean | undefined;
    if (req.op === "cas") {
      const current = this.data.get(req.key) ?? null;
      if (current !== (req.expected ?? null)) {
        this.out.reply({
          id: req.id,
          ok: true,
          swapped: false,
          token: String(this.lastIndex),
          meta: this.meta(),
        });
        return;
      }
      swapped = true;
      entry = { epoch: this.epoch, key: req.key, value: req.value! };
    } else {
      entry = { epoch: this.epoch, key: req.key, value: req.op === "put" ? req.value! : null };
    }
    if (req.session !== undefined) {
      entry.client = req.session.clientId;
      entry.seq = req.session.seq;
      if (swapped === true) entry.cas = true;
    }
    const index = this.appendEntry(entry);
    const p: PendingWrite = { id: req.id, index, need, deadline: this.now + this.cfg.wTimeoutMs };
    if (swapped !== undefined) p.swapped = swapped;
    this.pending.push(p);
    this.broadcastAppend();
    // The reply is released only after this Ready's persist: persist before acknowledging (ARCHITECTURE §2).
    this.maybeAck();
  }

  admin(cmd: AdminCommand): void {
    if (cmd.command !== "promote") {
      this.out.reply(
        errorReply(cmd.id, new KvError("KV_NOT_SUPPORTED", `unknown admin command ${cmd.command}`)),
      );
      return;
    }
    if (this.role === "leader") {
      this.out.reply({ id: cmd.id, ok: true, meta: this.meta() });
      return;
    }
    this.promotes.push(cmd.id);
    if (this.role !== "candidate") this.startElection(true);
  }

  status(): NodeStatus {
    const s: NodeStatus = {
      id: this.id,
      role: this.role,
      leader: this.leader,
      term: this.epoch,
      lastIndex: this.lastIndex,
      rolledBack: this.counters.rolledBack,
      fenced: this.counters.fenced,
      elections: this.counters.elections,
      writeTimeouts: this.counters.timeouts,
      aborted: this.counters.aborted,
      deposed: this.deposed,
    };
    if (this.role === "leader") {
      s.commitIndex = this.majorityMatch();
      s.lag = Math.max(0, ...this.peers.map((p) => this.lastIndex - this.matchOf(p)));
    } else {
      s.commitIndex = this.followerCommit;
      s.lag = Math.max(0, this.leaderLast - this.lastIndex);
    }
    return s;
  }

  /** majorityMatch is the highest position a majority (the leader included) holds. */
  private majorityMatch(): number {
    const matches = [this.lastIndex, ...this.peers.map((p) => this.matchOf(p))].sort((a, b) => b - a);
    return matches[this.quorum() - 1] ?? 0;
  }

  /** matchOf is the highest index known to match the leader's log on `peer` (0 when not leading). */
  private matchOf(peer: NodeId): number {
    return this.stream?.acked(peer) ?? 0;
  }

  dump(): Map<string, string[]> {
    return new Map([...this.data].map(([k, v]) => [k, [v]]));
  }

  // ------------------------------------------------------------------ reads

  private read(req: ClientRequest): void {
    const from = req.options?.readFrom ?? "leader";
    if (from === "leader") {
      if (this.role !== "leader") {
        this.refuse(req, "KV_NOT_LEADER", "reads go to the leader");
        return;
      }
      this.replyRead(req, 0);
      return;
    }
    let token = 0;
    if (req.session?.token !== undefined) {
      token = Number(req.session.token);
      if (!Number.isSafeInteger(token) || token < 0) {
        this.refuse(req, "KV_INVALID_ARGUMENT", "session token is not a single-leader log position");
        return;
      }
    }
    const maxStaleness = req.options?.maxStalenessMs ?? this.cfg.maxStalenessMs;
    if (this.role !== "leader" && maxStaleness > 0 && this.now - this.caughtUpAt > maxStaleness) {
      this.refuse(req, "KV_UNAVAILABLE", `follower not caught up within ${maxStaleness} ms`);
      return;
    }
    // Read-your-writes on a follower: wait for the session's position, then give up with a definite refusal.
    const admitted = this.parked.admit(req, token, this.lastIndex >= token, this.now, this.cfg.sessionWaitMs);
    if (admitted === "serve") this.replyRead(req, token);
    else if (admitted === "refuse") this.refuseBehind(req);
  }

  private replyRead(req: ClientRequest, token: number): void {
    this.out.reply({
      id: req.id,
      ok: true,
      value: this.data.get(req.key) ?? null,
      token: String(Math.max(token, this.lastIndex)),
      meta: this.meta(),
    });
  }

  private settleParked(): void {
    this.parked.settle(
      this.now,
      (token) => this.lastIndex >= token,
      (p) => this.replyRead(p.req, p.need),
      (p) => this.refuseBehind(p.req),
    );
  }

  private refuseBehind(req: ClientRequest): void {
    this.refuse(req, "KV_UNAVAILABLE", "follower behind the session token");
  }

  private refuse(req: ClientRequest, code: KvError["code"], message: string): void {
    const leader = this.leader !== null && this.leader !== this.id ? { leader: this.leader } : undefined;
    this.out.reply(errorReply(req.id, new KvError(code, message, leader), this.meta()));
  }

  protected meta(): ClientReply["meta"] {
    return { node: this.id, term: this.epoch, index: this.lastIndex, role: this.role };
  }

  // ------------------------------------------------------------------ replication

  /** broadcastAppend ships new entries to every follower whose window has room. */
  private broadcastAppend(): void {
    if (this.stream) this.sendAppends(this.stream.ship(this.logSource()));
  }

  private sendAppends(batches: Shipment<number, LogEntry>[]): void {
    for (const b of batches) {
      this.out.to(b.to, {
        type: "append",
        epoch: this.epoch,
        prevIndex: b.from,
        prevEpoch: this.epochAt(b.from),
        entries: b.entries,
        leaderLast: this.lastIndex,
        commit: this.majorityMatch(),
      });
    }
  }

  /** logSource is the log as the replication stream ships it: entries by index, position = index held. */
  private logSource(): StreamSource<number, LogEntry> {
    return {
      ...indexPositions,
      entriesAfter: (_peer, from) => entriesFrom(this.log, from),
      sizeOf: entryBytes,
      advance: (from, entries) => from + entries.length,
    };
  }

  private handleAppend(from: NodeId, m: AppendRequest): void {
    if (this.fences()) {
      if (m.epoch < this.epoch) {
        // The fence: a node that has seen a newer epoch never takes replication from an older leader.
        this.counters.fenced++;
        this.out.to(from, {
          type: "append-response",
          epoch: this.epoch,
          ok: false,
          match: 0,
          hint: 0,
          fenced: true,
        });
        return;
      }
      if (m.epoch > this.epoch || this.role !== "follower" || this.leader !== from) {
        if (this.role === "leader" && m.epoch === this.epoch) return; // cannot happen: one vote per epoch
        this.stepDown(m.epoch, from);
      }
    } else {
      // Without fencing epochs are not checked, so whoever sends replication is followed.
      if (this.role === "leader") return;
      if (this.role === "candidate") this.failPromotes("another node replicates");
      this.role = "follower";
      if (m.epoch > this.epoch) this.epoch = m.epoch;
      if (this.leader !== from) {
        this.leader = from;
        this.persistHardState();
      }
    }
    this.lastHeard = this.now;
    this.resetElectionDeadline();

    if (m.prevIndex > this.lastIndex) {
      this.out.to(from, {
        type: "append-response",
        epoch: this.epoch,
        ok: false,
        match: 0,
        hint: this.lastIndex + 1,
      });
      return;
    }
    if (this.epochAt(m.prevIndex) !== m.prevEpoch) {
      // Back up to the first position of the conflicting epoch (Raft §5.3 optimisation).
      const bad = this.epochAt(m.prevIndex);
      let i = m.prevIndex;
      while (i > 1 && this.epochAt(i - 1) === bad) i--;
      this.out.to(from, {
        type: "append-response",
        epoch: this.epoch,
        ok: false,
        match: 0,
        hint: Math.max(1, i),
      });
      return;
    }
    m.entries.forEach((e, i) => {
      const index = m.prevIndex + 1 + i;
      if (index <= this.lastIndex) {
        // Log matching: same position and epoch ⇒ same entry (Raft §5.3).
        if (this.epochAt(index) === e.epoch) return;
        this.truncateFrom(index);
      }
      this.appendEntry(e);
    });
    const match = m.prevIndex + m.entries.length;
    if (match >= m.leaderLast) this.caughtUpAt = this.now;
    this.leaderLast = m.leaderLast;
    this.followerCommit = Math.min(m.commit ?? 0, match);
    // Sent after this Ready's persist: an ack means durable.
    this.out.to(from, { type: "append-response", epoch: this.epoch, ok: true, match, hint: match + 1 });
    this.settleParked();
  }

  private handleAppendResponse(from: NodeId, m: AppendResponse): void {
    if (this.role !== "leader") return;
    if (this.fences()) {
      if (m.epoch > this.epoch) {
        this.stepDown(m.epoch, null);
        return;
      }
      if (m.epoch < this.epoch) return; // a reply to an earlier leadership of ours
    }
    const stream = this.stream;
    if (stream === null || stream.acked(from) === undefined) return;
    const src = this.logSource();
    if (m.ok) {
      // Ack-clocked: the batches that follow go out with this ack (commit computed after it counted).
      const next = stream.ack(from, Math.min(m.match, this.lastIndex), src);
      this.maybeAck();
      this.sendAppends(next);
    } else if (!m.fenced) {
      // Only without fencing can another leader rewrite a follower's log below what it acknowledged to us.
      if (!this.fences()) stream.rewind(from, Math.min(this.matchOf(from), m.hint - 1));
      this.sendAppends(stream.retry(from, Math.min(m.hint - 1, this.lastIndex), src));
    }
  }

  /** maybeAck acknowledges pending writes whose write concern is met. */
  private maybeAck(): void {
    if (this.pending.length === 0) return;
    const done: PendingWrite[] = [];
    this.pending = this.pending.filter((w) => {
      let acks = 0;
      for (const p of this.peers) if (this.matchOf(p) >= w.index) acks++;
      if (acks >= w.need) {
        done.push(w);
        return false;
      }
      return true;
    });
    for (const w of done) {
      const r: ClientReply = { id: w.id, ok: true, token: String(w.index), meta: this.meta() };
      if (w.swapped !== undefined) r.swapped = w.swapped;
      this.out.reply(r);
    }
  }

  // ------------------------------------------------------------------ elections

  private isUpToDate(lastIndex: number, lastEpoch: number): boolean {
    // Raft §5.4.1: later last epoch wins; same epoch, the longer log wins.
    const myEpoch = this.epochAt(this.lastIndex);
    return lastEpoch > myEpoch || (lastEpoch === myEpoch && lastIndex >= this.lastIndex);
  }

  private handleVoteRequest(from: NodeId, m: VoteRequest): void {
    const deny = () => this.out.to(from, { type: "vote-response", epoch: this.epoch, granted: false });
    if (m.epoch < this.epoch) {
      deny();
      return;
    }
    if (this.role === "leader" && !this.fences()) {
      // Without fencing a leader never steps down.
      deny();
      return;
    }
    // A node that hears from a live leader ignores unforced candidates, so a returning partitioned node cannot
    // depose a working leader (Raft thesis §4.2.3).
    const hearsLeader =
      this.role === "leader" ||
      (this.leader !== null && this.now - this.lastHeard < this.cfg.failoverTimeoutMs);
    if (!m.forced && hearsLeader && this.role !== "candidate") {
      deny();
      return;
    }
    if (m.epoch > this.epoch) this.stepDown(m.epoch, null);
    const grant =
      (this.votedFor === null || this.votedFor === from) && this.isUpToDate(m.lastIndex, m.lastEpoch);
    if (grant) {
      this.votedFor = from;
      this.persistHardState();
      this.resetElectionDeadline();
    }
    // Sent after the persist of this Ready: a vote is never given on a record that is not durable.
    this.out.to(from, { type: "vote-response", epoch: this.epoch, granted: grant });
  }

  private handleVoteResponse(from: NodeId, m: VoteResponse): void {
    if (m.epoch > this.epoch) {
      if (this.role === "leader" && !this.fences()) return;
      this.stepDown(m.epoch, null);
      return;
    }
    if (this.role !== "candidate" || m.epoch !== this.epoch || !m.granted) return;
    this.votes.add(from);
    if (this.votes.size >= this.quorum()) this.becomeLeader();
  }
}

function* entriesFrom(log: readonly LogEntry[], from: number): Generator<LogEntry> {
  for (let i = Math.max(0, from); i < log.length; i++) yield log[i]!;
}

/** entryBytes bounds a log entry's encoded size from above: its strings in UTF-8 plus the fields around them. */
function entryBytes(e: LogEntry): number {
  return (
    64 + (e.key ? utf8Bytes(e.key) : 0) + (e.value ? utf8Bytes(e.value) : 0) + (e.client?.length ?? 0) * 3
  );
}
