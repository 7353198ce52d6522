import {
  type ClientReply,
  type ClientRequest,
  dvvJoin,
  dvvNew,
  dvvSync,
  dvvUpdate,
  type EngineCore,
  type EngineInit,
  type Envelope,
  errorReply,
  KvError,
  type NodeId,
  type NodeStatus,
  type PersistOp,
  type Ready,
  takeBatch,
  utf8Bytes,
  type VersionVector,
  validateRequest,
  vvDecode,
  vvDominates,
  vvEncode,
  vvGet,
  vvMerge,
} from "@consistency-lab/kv";
import { isKeyClock, type KeyClock, maxTime, readView, type StoredValue } from "./key-clock.js";
import { type CausalMessage, isCausalMessage, isReplicatedWrite, type ReplicatedWrite } from "./messages.js";
import type { CausalConfig } from "./options.js";

/** Record keys on disk. One atomic batch per Ready keeps them consistent with each other. */
const KEY_PREFIX = "k/";
const OUT_PREFIX = "o/";
const SESSION_PREFIX = "s/";
const APPLIED = "applied";

/** outKey pads the seq so the records of the out-log sort in seq order on disk. */
const outKey = (seq: number) => `${OUT_PREFIX}${String(seq).padStart(16, "0")}`;

/** A request held until this node has caught up with its session token. */
interface Waiting {
  req: ClientRequest;
  need: VersionVector;
  deadline: number;
}

/**
 * CausalState is everything a causal node holds, as plain data (Maps and arrays of plain objects), so a core can be
 * cloned and compared.
 *
 * Invariants:
 * - `applied[o]` writes of origin `o` (seqs 1..applied[o]) are applied here, and for each of them every dependency
 *   was applied first (causal delivery; Schiper, Eggli & Sandoz 1989 for the vector condition). So the local state
 *   is always a causally closed cut, and a read never shows an effect without its causes.
 * - `applied[id]` is this node's own write count; its own writes are applied when accepted.
 * - `outLog` holds this node's writes with seq > min over peers of `acked`, in seq order, each also on disk.
 */
export interface CausalState {
  now: number;
  /**
   * Lamport clock: above the time of every write applied here, so a new write's time exceeds everything in its
   * causal past. Not persisted: rebuilt from the stored key clocks on restart.
   */
  lamport: number;
  applied: VersionVector;
  keys: Map<string, KeyClock>;
  outLog: ReplicatedWrite[];
  /** Highest own seq each peer has told us it applied. Volatile: after a restart everything unacked is resent. */
  acked: Map<NodeId, number>;
  /** When writes were last sent to each peer, for the retransmission interval. */
  lastSent: Map<NodeId, number>;
  /**
   * Catch-up mode per peer: the last seq of a full retransmission batch still unacknowledged. Its ack sends the
   * next batch at once (ack-clocked), so a peer that fell far behind (a partition under load) catches up at the
   * speed of the network instead of one batch per resend interval — which, under sustained writes, it never would.
   */
  catchUp: Map<NodeId, number>;
  /** Writes received before their dependencies, per origin, by seq. Volatile: the origin retransmits. */
  buffer: Map<NodeId, Map<number, ReplicatedWrite>>;
  waiting: Waiting[];
  /**
   * The last write each client session made AT THIS NODE: its seq and the reply it got, persisted with the write.
   * A write retried here with the same seq (its reply was lost: a crash, a dropped connection) gets that reply
   * again instead of a second write. Clients retry such a write only at the node that took it (the engine's
   * `writeRetry` is `same-node`): another node cannot know what this one accepted, and a second copy there would be
   * a different write, concurrent with the client's later ones.
   */
  sessions: Map<string, SessionRecord>;
  /** Broken variant only: seqs per origin already made visible ahead of their dependencies. */
  early: Map<NodeId, number>;
  dirtyKeys: Set<string>;
  appliedDirty: boolean;
  outPersist: PersistOp[];
  send: Envelope<CausalMessage>[];
  replies: ClientReply[];
  counters: {
    served: number;
    applied: number;
    duplicates: number;
    buffered: number;
    dropped: number;
    malformed: number;
  };
}

/** SessionRecord is a session's last write at this node and its reply (without the request id). */
export interface SessionRecord {
  seq: number;
  reply: Omit<ClientReply, "id">;
}

/**
 * CausalCore is one node of the causal store (COPS-style causal+ with per-key dotted version vectors):
 * - every node serves reads and writes from its own state and replies once the write is persisted;
 * - writes replicate to every peer asynchronously and are applied there in causal order (buffered until their
 *   dependencies are applied), retransmitted until acknowledged, deduplicated by their dot (origin, seq);
 * - concurrent writes to a key become siblings (Riak-style DVV sets); a write supersedes what its context covers;
 * - a client's session token (a version vector of what it has seen) gives the four session guarantees across
 *   nodes: a node serves a request only once it has applied everything in the token (Terry et al. 1994,
 *   "Session Guarantees for Weakly Consistent Replicated Data"; the MongoDB causal-session pattern).
 */
export class CausalCore implements EngineCore<CausalMessage> {
  readonly id: NodeId;
  readonly peers: readonly NodeId[];
  private readonly cfg: CausalConfig;
  private readonly s: CausalState;

  constructor(init: Pick<EngineInit, "id" | "peers" | "now" | "records">, cfg: CausalConfig) {
    this.id = init.id;
    this.peers = init.peers.filter((p) => p !== init.id);
    this.cfg = cfg;
    this.s = {
      now: init.now,
      lamport: 0,
      applied: {},
      keys: new Map(),
      outLog: [],
      acked: new Map(this.peers.map((p) => [p, 0])),
      lastSent: new Map(this.peers.map((p) => [p, Number.NEGATIVE_INFINITY])),
      catchUp: new Map(),
      buffer: new Map(),
      waiting: [],
      sessions: new Map(),
      early: new Map(),
      dirtyKeys: new Set(),
      appliedDirty: false,
      outPersist: [],
      send: [],
      replies: [],
      counters: { served: 0, applied: 0, duplicates: 0, buffered: 0, dropped: 0, malformed: 0 },
    };
    this.restore(init.records);
  }

  /** state exposes the plain-data state for tests and explorers; do not mutate it. */
  get state(): Readonly<CausalState> {
    return this.s;
  }

  private restore(records: ReadonlyMap<string, unknown>): void {
    for (const [k, v] of records) {
      if (k === APPLIED) {
        if (typeof v === "string") this.s.applied = vvDecode(v);
      } else if (k.startsWith(KEY_PREFIX)) {
        if (isKeyClock(v)) {
          this.s.keys.set(k.slice(KEY_PREFIX.length), v);
          this.s.lamport = Math.max(this.s.lamport, maxTime(v));
        }
      } else if (k.startsWith(OUT_PREFIX)) {
        if (isReplicatedWrite(v) && v.origin === this.id) this.s.outLog.push(v);
      } else if (k.startsWith(SESSION_PREFIX)) {
        if (isSessionRecord(v)) this.s.sessions.set(k.slice(SESSION_PREFIX.length), v);
      }
    }
    this.s.outLog.sort((a, b) => a.seq - b.seq);
    // Writes acknowledged to clients but not yet applied everywhere go out again on the first tick.
  }

  // ------------------------------------------------------------------ inputs

  step(from: NodeId, message: CausalMessage): void {
    if (!this.peers.includes(from) || !isCausalMessage(message)) {
      this.s.counters.malformed++;
      return;
    }
    if (message.type === "ack") {
      this.handleAck(from, message.upTo);
      return;
    }
    this.handleWrites(from, message.writes);
  }

  request(req: ClientRequest): void {
    let need: VersionVector;
    try {
      validateRequest(req);
      need = this.sessionVector(req);
      if (req.options?.context !== undefined) decodeContext(req.options.context);
    } catch (e) {
      this.replies(errorReply(req.id, asKvError(e), this.meta()));
      return;
    }
    if (
      req.op !== "get" &&
      req.session !== undefined &&
      this.cfg.sessionTable &&
      this.answerRetry(req, req.session)
    ) {
      return;
    }
    if (vvDominates(this.s.applied, need)) {
      this.serve(req);
      return;
    }
    if (this.cfg.session === "refuse" || this.cfg.sessionWaitMs <= 0) {
      this.replies(errorReply(req.id, this.behind(need), this.meta()));
      return;
    }
    this.s.waiting.push({ req, need, deadline: this.s.now + this.cfg.sessionWaitMs });
  }

  tick(now: number): void {
    if (now > this.s.now) this.s.now = now;
    this.expireWaiting();
    this.retransmit();
  }

  ready(): Ready<CausalMessage> {
    const persist: PersistOp[] = [];
    for (const key of this.s.dirtyKeys) {
      const clock = this.s.keys.get(key);
      if (clock !== undefined) persist.push({ type: "put", key: KEY_PREFIX + key, value: clock });
    }
    if (this.s.appliedDirty) persist.push({ type: "put", key: APPLIED, value: vvEncode(this.s.applied) });
    persist.push(...this.s.outPersist);
    const r: Ready<CausalMessage> = { persist, send: this.s.send, replies: this.s.replies };
    this.s.dirtyKeys = new Set();
    this.s.appliedDirty = false;
    this.s.outPersist = [];
    this.s.send = [];
    this.s.replies = [];
    return r;
  }

  status(): NodeStatus {
    let buffered = 0;
    for (const m of this.s.buffer.values()) buffered += m.size;
    return {
      id: this.id,
      role: "replica",
      applied: vvEncode(this.s.applied),
      keys: this.s.keys.size,
      unacked: this.s.outLog.length,
      buffered,
      waiting: this.s.waiting.length,
      members: [this.id, ...this.peers],
      counters: { ...this.s.counters },
    };
  }

  /** dump lists every key with live values and its siblings, sorted (tombstones are not values). */
  dump(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [key, clock] of this.s.keys) {
      const values = readView(clock, this.cfg.resolve);
      if (values.length > 0) out.set(key, values);
    }
    return out;
  }

  // ------------------------------------------------------------------ client requests

  /** sessionVector decodes the session token; a token naming nodes outside the cluster is a client mistake. */
  private sessionVector(req: ClientRequest): VersionVector {
    const token = req.session?.token;
    if (token === undefined || token === "") return {};
    let vv: VersionVector;
    try {
      vv = vvDecode(token);
    } catch {
      throw new KvError("KV_INVALID_ARGUMENT", "session token is not a causal session token");
    }
    for (const node of Object.keys(vv)) {
      if (node !== this.id && !this.peers.includes(node)) {
        throw new KvError("KV_INVALID_ARGUMENT", `session token names ${JSON.stringify(node)}, not a member`);
      }
    }
    return vv;
  }

  /** behind explains which writes a node is missing for a session ("why stale"). */
  private behind(need: VersionVector): KvError {
    const missing = Object.entries(need)
      .filter(([n, c]) => vvGet(this.s.applied, n) < c)
      .map(([n, c]) => `${n} ${vvGet(this.s.applied, n)}/${c}`)
      .join(", ");
    return new KvError(
      "KV_UNAVAILABLE",
      `node ${this.id} has not caught up with the session (applied/needed: ${missing})`,
    );
  }

  private serve(req: ClientRequest): void {
    this.s.counters.served++;
    const clock = this.s.keys.get(req.key) ?? dvvNew<StoredValue>();
    const ctx = req.options?.context === undefined ? undefined : decodeContext(req.options.context);
    switch (req.op) {
      case "get": {
        const values = readView(clock, this.cfg.resolve);
        const reply: ClientReply = {
          id: req.id,
          ok: true,
          context: vvEncode(dvvJoin(clock)),
          meta: this.meta(),
        };
        if (values.length > 1) reply.values = values;
        else reply.value = values[0] ?? null;
        this.replies(this.withToken(reply));
        return;
      }
      case "put":
      case "delete": {
        const context = this.write(req.key, req.op === "put" ? req.value! : null, ctx);
        const reply = this.withToken({ id: req.id, ok: true, context, meta: this.meta() });
        this.remember(req, reply);
        this.replies(reply);
        return;
      }
      case "cas": {
        // Compare against what a read here would return: exactly one distinct value equal to `expected`, or none
        // at all when `expected` is null. Siblings are not "a value", so a cas on a key with siblings only succeeds
        // when they all hold the expected value. Not atomic across nodes: two nodes may both swap (casAtomic false),
        // and their writes then become siblings.
        const values = readView(clock, this.cfg.resolve);
        const swapped =
          req.expected === null ? values.length === 0 : values.length === 1 && values[0] === req.expected;
        const reply: ClientReply = { id: req.id, ok: true, swapped, meta: this.meta() };
        // The compare read this node's whole state of the key, so a swap supersedes all of it.
        if (swapped) {
          reply.context = this.write(req.key, req.value!, undefined);
          this.remember(req, reply);
        }
        this.replies(this.withToken(reply));
        return;
      }
    }
  }

  /**
   * write accepts a client write at this node: a new dot for the key (DVV update) and a new seq in this node's
   * stream. The write supersedes what its context covers (Riak semantics) AND everything this node holds for the key.
   * The second part is what keeps the history causal: the node has applied the session's whole causal past (the
   * session token check) and the write's deps are the node's whole applied vector, so every value here precedes
   * the write; leaving one as a sibling would let a later read return a value together with a write causally after
   * it (Bouajjani et al. POPL'17, bad pattern WriteCORead). A context still matters when it covers writes this node
   * has not applied yet (a client that read elsewhere without a token): they are obsolete on arrival. Writes
   * concurrent at other nodes become siblings. Returns the context to hand back: what it superseded plus itself.
   */
  private write(key: string, value: string | null, ctx: VersionVector | undefined): string {
    const before = this.s.keys.get(key) ?? dvvNew<StoredValue>();
    const covered = ctx === undefined ? dvvJoin(before) : vvMerge(ctx, dvvJoin(before));
    this.s.lamport++;
    const clock = dvvUpdate(before, covered, this.id, { v: value, t: this.s.lamport });
    const seq = vvGet(this.s.applied, this.id) + 1;
    const deps = { ...this.s.applied };
    delete deps[this.id];
    this.s.applied[this.id] = seq;
    this.s.appliedDirty = true;
    this.setKey(key, clock);
    if (this.peers.length > 0) {
      const w: ReplicatedWrite = { origin: this.id, seq, deps, key, clock };
      this.s.outLog.push(w);
      this.s.outPersist.push({ type: "put", key: outKey(seq), value: w });
      for (const p of this.peers) {
        // Only the newest write goes out at once; anything older still unacked follows on the resend timer.
        this.s.send.push({ to: p, message: { type: "writes", writes: [w] } });
        // With nothing older outstanding, the next retransmission can wait a full interval.
        if ((this.s.acked.get(p) ?? 0) === seq - 1) this.s.lastSent.set(p, this.s.now);
      }
    }
    this.settleWaiting();
    return vvEncode(vvMerge(covered, { [this.id]: vvGet(dvvJoin(clock), this.id) }));
  }

  /** answerRetry answers a write this session already made here; true when it did. */
  private answerRetry(req: ClientRequest, session: NonNullable<ClientRequest["session"]>): boolean {
    const prev = this.s.sessions.get(session.clientId);
    if (prev === undefined || session.seq > prev.seq) return false;
    if (session.seq < prev.seq) {
      // The client has moved on to a later op: nobody waits for this reply.
      this.replies(
        errorReply(
          req.id,
          new KvError("KV_ABORTED", "a later write of this session was applied"),
          this.meta(),
        ),
      );
      return true;
    }
    this.s.counters.duplicates++;
    // The current token: it covers everything applied here, the first attempt's write included.
    this.replies(this.withToken({ ...prev.reply, id: req.id }));
    return true;
  }

  /** remember records a session's write and its reply, persisted in the same batch as the write. */
  private remember(req: ClientRequest, reply: ClientReply): void {
    if (req.session === undefined) return;
    const { id: _id, token: _token, ...rest } = reply;
    const rec: SessionRecord = { seq: req.session.seq, reply: rest };
    this.s.sessions.set(req.session.clientId, rec);
    this.s.outPersist.push({ type: "put", key: SESSION_PREFIX + req.session.clientId, value: rec });
  }

  private withToken(reply: ClientReply): ClientReply {
    // Everything this node has applied is in the causal past of what it served, so it is the session's new vector.
    reply.token = vvEncode(this.s.applied);
    return reply;
  }

  private meta() {
    return { node: this.id };
  }

  private replies(r: ClientReply): void {
    this.s.replies.push(r);
  }

  /** settleWaiting serves the held requests whose session this node has now caught up with, in arrival order. */
  private settleWaiting(): void {
    if (this.s.waiting.length === 0) return;
    const still: Waiting[] = [];
    const ready: Waiting[] = [];
    for (const w of this.s.waiting) (vvDominates(this.s.applied, w.need) ? ready : still).push(w);
    if (ready.length === 0) return;
    this.s.waiting = still;
    for (const w of ready) this.serve(w.req);
  }

  private expireWaiting(): void {
    if (this.s.waiting.length === 0) return;
    const still: Waiting[] = [];
    for (const w of this.s.waiting) {
      if (w.deadline <= this.s.now) this.replies(errorReply(w.req.id, this.behind(w.need), this.meta()));
      else still.push(w);
    }
    this.s.waiting = still;
  }

  // ------------------------------------------------------------------ replication

  private handleWrites(from: NodeId, writes: ReplicatedWrite[]): void {
    for (const w of writes) {
      // Only a write's origin sends it, so a write claiming another origin is a bug or forgery: drop it.
      if (w.origin !== from) {
        this.s.counters.malformed++;
        continue;
      }
      if (w.seq <= vvGet(this.s.applied, w.origin)) {
        this.s.counters.duplicates++;
        continue;
      }
      let pending = this.s.buffer.get(w.origin);
      if (pending === undefined) {
        pending = new Map();
        this.s.buffer.set(w.origin, pending);
      }
      if (pending.has(w.seq)) {
        this.s.counters.duplicates++;
        continue;
      }
      if (pending.size >= this.cfg.maxBuffered) {
        this.s.counters.dropped++;
        continue;
      }
      pending.set(w.seq, w);
      this.s.counters.buffered++;
      if (!this.cfg.checkDeps) this.exposeEarly(w);
    }
    this.deliver();
    // Cumulative ack of what is applied (and, by the Ready contract, persisted before this ack is sent).
    this.s.send.push({ to: from, message: { type: "ack", upTo: vvGet(this.s.applied, from) } });
  }

  /**
   * deliver applies every buffered write whose turn has come: the next seq of its origin (FIFO per origin) with all
   * its dependencies applied (COPS dep_check). Repeats until nothing more can be applied, since one application
   * can unblock writes of other origins.
   */
  private deliver(): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const [origin, pending] of this.s.buffer) {
        for (;;) {
          const next = pending.get(vvGet(this.s.applied, origin) + 1);
          if (next === undefined || !this.depsApplied(next)) break;
          pending.delete(next.seq);
          this.apply(next);
          progress = true;
        }
        if (pending.size === 0) this.s.buffer.delete(origin);
      }
    }
    this.settleWaiting();
  }

  private depsApplied(w: ReplicatedWrite): boolean {
    for (const [node, n] of Object.entries(w.deps)) {
      if (node !== w.origin && vvGet(this.s.applied, node) < n) return false;
    }
    return true;
  }

  private apply(w: ReplicatedWrite): void {
    this.setKey(w.key, dvvSync(this.s.keys.get(w.key) ?? dvvNew(), w.clock));
    this.s.lamport = Math.max(this.s.lamport, maxTime(w.clock));
    this.s.applied[w.origin] = w.seq;
    this.s.appliedDirty = true;
    this.s.counters.applied++;
    const early = this.s.early.get(w.origin);
    if (early !== undefined && early <= w.seq) this.s.early.delete(w.origin);
  }

  /**
   * exposeEarly is the deliberate bug of `causal-broken-no-deps`: it makes a replicated write visible the moment it
   * arrives, without the dependency check, so a reader can see an effect before its cause.
   */
  private exposeEarly(w: ReplicatedWrite): void {
    if (w.seq <= (this.s.early.get(w.origin) ?? 0)) return;
    this.setKey(w.key, dvvSync(this.s.keys.get(w.key) ?? dvvNew(), w.clock));
    this.s.lamport = Math.max(this.s.lamport, maxTime(w.clock));
    this.s.early.set(w.origin, w.seq);
  }

  private setKey(key: string, clock: KeyClock): void {
    this.s.keys.set(key, clock);
    this.s.dirtyKeys.add(key);
  }

  private handleAck(from: NodeId, upTo: number): void {
    const mine = vvGet(this.s.applied, this.id);
    // An ack beyond what we ever wrote is a bug on the other side; never let it make us drop unsent writes.
    const prev = this.s.acked.get(from) ?? 0;
    if (upTo > prev) this.s.acked.set(from, Math.min(upTo, mine));
    this.collectOutLog();
    const batchEnd = this.s.catchUp.get(from);
    if (batchEnd !== undefined && upTo >= batchEnd) this.resendTo(from);
  }

  /** collectOutLog drops the writes every peer has applied: nobody will ever need them from us again. */
  private collectOutLog(): void {
    let floor = Number.POSITIVE_INFINITY;
    for (const p of this.peers) floor = Math.min(floor, this.s.acked.get(p) ?? 0);
    let i = 0;
    while (i < this.s.outLog.length && this.s.outLog[i]!.seq <= floor) {
      this.s.outPersist.push({ type: "del", key: outKey(this.s.outLog[i]!.seq) });
      i++;
    }
    if (i > 0) this.s.outLog = this.s.outLog.slice(i);
  }

  /** retransmit resends, per peer and at most every resendMs, the oldest writes that peer has not acknowledged. */
  private retransmit(): void {
    if (this.s.outLog.length === 0) return;
    for (const p of this.peers) {
      if (this.s.now - (this.s.lastSent.get(p) ?? Number.NEGATIVE_INFINITY) < this.cfg.resendMs) continue;
      this.resendTo(p);
    }
  }

  /**
   * resendTo sends a peer the oldest writes it has not acknowledged: at most maxBatch of them and kv BATCH_BYTES
   * (always at least one), so a batch of large values stays under the transport's frame limit. A full batch puts
   * the peer in catch-up mode (see `catchUp`).
   */
  private resendTo(p: NodeId): void {
    const acked = this.s.acked.get(p) ?? 0;
    const last = this.s.outLog[this.s.outLog.length - 1];
    if (last === undefined || last.seq <= acked) {
      this.s.catchUp.delete(p);
      return;
    }
    const { entries: writes, full } = takeBatch(unackedWrites(this.s.outLog, acked), {
      maxEntries: this.cfg.maxBatch,
      sizeOf: writeBytes,
    });
    this.s.send.push({ to: p, message: { type: "writes", writes } });
    this.s.lastSent.set(p, this.s.now);
    if (full) this.s.catchUp.set(p, writes[writes.length - 1]!.seq);
    else this.s.catchUp.delete(p);
  }
}

function* unackedWrites(outLog: readonly ReplicatedWrite[], acked: number): Generator<ReplicatedWrite> {
  for (const w of outLog) if (w.seq > acked) yield w;
}

/** writeBytes bounds a replicated write's encoded size from above: its key and the values its clock carries. */
function writeBytes(w: ReplicatedWrite): number {
  let n = 64 + utf8Bytes(w.key) + 16 * Object.keys(w.deps).length;
  for (const [, , values] of w.clock.entries) {
    n += 32;
    for (const v of values) n += 16 + (typeof v.v === "string" ? utf8Bytes(v.v) : 8);
  }
  return n;
}

/** decodeContext turns a client's opaque causal context back into a version vector. */
function decodeContext(context: string): VersionVector {
  try {
    return vvDecode(context);
  } catch {
    throw new KvError("KV_INVALID_ARGUMENT", "context is not a causal context returned by this engine");
  }
}

function isSessionRecord(x: unknown): x is SessionRecord {
  if (typeof x !== "object" || x === null) return false;
  const r = x as SessionRecord;
  return (
    Number.isSafeInteger(r.seq) && typeof r.reply === "object" && r.reply !== null && r.reply.ok === true
  );
}

function asKvError(e: unknown): KvError {
  if (e instanceof KvError) return e;
  return new KvError("KV_INVALID_ARGUMENT", e instanceof Error ? e.message : String(e));
}
