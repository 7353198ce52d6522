import {
  type ClientReply,
  type ClientRequest,
  CoreBase,
  dvvJoin,
  dvvNew,
  dvvSync,
  dvvUpdate,
  type EngineInit,
  errorReply,
  indexPositions,
  KvError,
  type NodeId,
  type NodeStatus,
  type PersistOp,
  ReplicationStream,
  SessionParking,
  type Shipment,
  type StreamSource,
  utf8Bytes,
  type VersionVector,
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

/**
 * CausalState is everything a causal node holds besides its outbox (CoreBase's), as plain data (Maps, arrays of
 * plain objects, the replication stream and the parked requests), so a core can be cloned and compared.
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
  /**
   * Shipping the out-log to every peer: the highest own seq each peer has told us it applied (volatile: after a
   * restart everything unacked is resent), batches in flight, retransmission every resendMs. Catch-up is
   * ack-clocked, so a peer that fell far behind (a partition under load) catches up at the speed of the network
   * instead of one batch per resend interval — which, under sustained writes, it never would.
   */
  stream: ReplicationStream<number>;
  /** Writes received before their dependencies, per origin, by seq. Volatile: the origin retransmits. */
  buffer: Map<NodeId, Map<number, ReplicatedWrite>>;
  /** Requests held until this node has caught up with their session token. */
  waiting: SessionParking<VersionVector>;
  /**
   * The last write each client session made AT THIS NODE: its seq and the reply it got, persisted with the write.
   * A write retried here with the same seq (its reply was lost: a crash, a dropped connection) gets that reply
   * again instead of a second write. Clients retry such a write only at the node that took it (the engine's
   * `writeRetry` is `same-node`): another node cannot know what this one accepted, and a second copy there would be
   * a different write, concurrent with the client's later ones.
   */
  sessions: Map<string, SessionRecord>;
  dirtyKeys: Set<string>;
  appliedDirty: boolean;
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
export class CausalCore extends CoreBase<CausalMessage> {
  readonly id: NodeId;
  readonly peers: readonly NodeId[];
  private readonly cfg: CausalConfig;
  private readonly s: CausalState;

  constructor(init: Pick<EngineInit, "id" | "peers" | "now" | "records">, cfg: CausalConfig) {
    super();
    this.id = init.id;
    this.peers = init.peers.filter((p) => p !== init.id);
    this.cfg = cfg;
    this.s = {
      now: init.now,
      lamport: 0,
      applied: {},
      keys: new Map(),
      outLog: [],
      // The resend timer is tick time only: resendMs is the interval a user set, whatever the tick count.
      stream: new ReplicationStream(
        { peers: this.peers, acked: 0, now: init.now },
        { resendMs: cfg.resendMs, resendTicks: Number.POSITIVE_INFINITY, maxEntries: cfg.maxBatch },
      ),
      buffer: new Map(),
      waiting: new SessionParking(),
      sessions: new Map(),
      dirtyKeys: new Set(),
      appliedDirty: false,
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

  // ------------------------------------------------------------------ hooks (src/engines.ts overrides them)

  /**
   * keepsSessionTable is whether a write retried at this node with its session's seq is answered from the session
   * table instead of being written again. The retry-anywhere variant says no, as the engine was before it kept one.
   */
  protected keepsSessionTable(): boolean {
    return true;
  }

  /**
   * onBuffered is called when a peer's write is buffered until its turn (its predecessor and dependencies
   * applied). A correct node shows nothing of it until then; the no-deps variant makes it visible at once.
   */
  protected onBuffered(_w: ReplicatedWrite): void {}

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

  /** checkRequest refuses a session token or a context this engine did not hand out. */
  protected override checkRequest(req: ClientRequest): void {
    this.sessionVector(req);
    if (req.options?.context !== undefined) decodeContext(req.options.context);
  }

  protected handleRequest(req: ClientRequest): void {
    const need = this.sessionVector(req);
    if (
      req.op !== "get" &&
      req.session !== undefined &&
      this.keepsSessionTable() &&
      this.answerRetry(req, req.session)
    ) {
      return;
    }
    const waitMs = this.cfg.session === "refuse" ? 0 : this.cfg.sessionWaitMs;
    const admitted = this.s.waiting.admit(req, need, vvDominates(this.s.applied, need), this.s.now, waitMs);
    if (admitted === "serve") this.serve(req);
    else if (admitted === "refuse") this.refuseBehind(req, need);
  }

  tick(now: number): void {
    if (now > this.s.now) this.s.now = now;
    this.settleWaiting();
    this.sendWrites(this.s.stream.tick(this.s.now, this.outSource()));
  }

  /** beforeReady writes the key clocks and the applied vector changed since the last Ready, once each. */
  protected override beforeReady(): void {
    const batched: PersistOp[] = [];
    for (const key of this.s.dirtyKeys) {
      const clock = this.s.keys.get(key);
      if (clock !== undefined) batched.push({ type: "put", key: KEY_PREFIX + key, value: clock });
    }
    if (this.s.appliedDirty) batched.push({ type: "put", key: APPLIED, value: vvEncode(this.s.applied) });
    this.out.persist.unshift(...batched);
    this.s.dirtyKeys = new Set();
    this.s.appliedDirty = false;
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
      waiting: this.s.waiting.size,
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
        this.out.reply(this.withToken(reply));
        return;
      }
      case "put":
      case "delete": {
        const context = this.write(req.key, req.op === "put" ? req.value! : null, ctx);
        const reply = this.withToken({ id: req.id, ok: true, context, meta: this.meta() });
        this.remember(req, reply);
        this.out.reply(reply);
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
        this.out.reply(this.withToken(reply));
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
      this.out.put(outKey(seq), w);
      this.sendWrites(this.s.stream.ship(this.outSource()));
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
      this.out.reply(
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
    this.out.reply(this.withToken({ ...prev.reply, id: req.id }));
    return true;
  }

  /** remember records a session's write and its reply, persisted in the same batch as the write. */
  private remember(req: ClientRequest, reply: ClientReply): void {
    if (req.session === undefined) return;
    const { id: _id, token: _token, ...rest } = reply;
    const rec: SessionRecord = { seq: req.session.seq, reply: rest };
    this.s.sessions.set(req.session.clientId, rec);
    this.out.put(SESSION_PREFIX + req.session.clientId, rec);
  }

  private withToken(reply: ClientReply): ClientReply {
    // Everything this node has applied is in the causal past of what it served, so it is the session's new vector.
    reply.token = vvEncode(this.s.applied);
    return reply;
  }

  protected meta(): ClientReply["meta"] {
    return { node: this.id };
  }

  /**
   * settleWaiting serves the held requests whose session this node has now caught up with and refuses those past
   * their deadline, in arrival order.
   */
  private settleWaiting(): void {
    this.s.waiting.settle(
      this.s.now,
      (need) => vvDominates(this.s.applied, need),
      (w) => this.serve(w.req),
      (w) => this.refuseBehind(w.req, w.need),
    );
  }

  private refuseBehind(req: ClientRequest, need: VersionVector): void {
    this.out.reply(errorReply(req.id, this.behind(need), this.meta()));
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
      this.onBuffered(w);
    }
    this.deliver();
    // Cumulative ack of what is applied (and, by the Ready contract, persisted before this ack is sent).
    this.out.to(from, { type: "ack", upTo: vvGet(this.s.applied, from) });
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
    this.merge(w);
    this.s.applied[w.origin] = w.seq;
    this.s.appliedDirty = true;
    this.s.counters.applied++;
  }

  /** merge makes a write's key clock part of what this node serves (`dvvSync`: idempotent and commutative). */
  protected merge(w: ReplicatedWrite): void {
    this.setKey(w.key, dvvSync(this.s.keys.get(w.key) ?? dvvNew(), w.clock));
    this.s.lamport = Math.max(this.s.lamport, maxTime(w.clock));
  }

  private setKey(key: string, clock: KeyClock): void {
    this.s.keys.set(key, clock);
    this.s.dirtyKeys.add(key);
  }

  private handleAck(from: NodeId, upTo: number): void {
    // An ack beyond what we ever wrote is a bug on the other side; never let it make us drop unsent writes.
    const at = Math.min(upTo, vvGet(this.s.applied, this.id));
    this.sendWrites(this.s.stream.ack(from, at, this.outSource()));
    this.collectOutLog();
  }

  /** collectOutLog drops the writes every peer has applied: nobody will ever need them from us again. */
  private collectOutLog(): void {
    let floor = Number.POSITIVE_INFINITY;
    for (const p of this.peers) floor = Math.min(floor, this.s.stream.acked(p) ?? 0);
    let i = 0;
    while (i < this.s.outLog.length && this.s.outLog[i]!.seq <= floor) {
      this.out.del(outKey(this.s.outLog[i]!.seq));
      i++;
    }
    if (i > 0) this.s.outLog = this.s.outLog.slice(i);
  }

  private sendWrites(batches: Shipment<number, ReplicatedWrite>[]): void {
    for (const b of batches) this.out.to(b.to, { type: "writes", writes: b.entries });
  }

  /**
   * outSource is the out-log as the replication stream ships it: this node's writes by seq, position = the seq a
   * peer applied. Batches hold at most maxBatch writes and kv BATCH_BYTES (always at least one), so a batch of
   * large values stays under the transport's frame limit.
   */
  private outSource(): StreamSource<number, ReplicatedWrite> {
    return {
      ...indexPositions,
      entriesAfter: (_peer, from) => writesAfter(this.s.outLog, from),
      sizeOf: writeBytes,
      advance: (from, writes) => writes.at(-1)?.seq ?? from,
    };
  }
}

/** writesAfter yields the out-log's writes with seq > `acked`, in seq order (the out-log holds consecutive seqs). */
function* writesAfter(outLog: readonly ReplicatedWrite[], acked: number): Generator<ReplicatedWrite> {
  let i = outLog.length === 0 ? 0 : Math.max(0, Math.min(outLog.length, acked + 1 - outLog[0]!.seq));
  while (i > 0 && outLog[i - 1]!.seq > acked) i--;
  while (i < outLog.length && outLog[i]!.seq <= acked) i++;
  for (; i < outLog.length; i++) yield outLog[i]!;
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
