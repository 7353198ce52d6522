import {
  type AdminCommand,
  BATCH_BYTES,
  type ClientReply,
  type ClientRequest,
  type EngineCore,
  type EngineInit,
  type Envelope,
  errorReply,
  type HybridLogicalClock,
  hlcCompareStamps,
  hlcNew,
  hlcNow,
  hlcReceive,
  KvError,
  lamportCompare,
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
import { type MultiLeaderConfig, resolveConfig } from "./config.js";
import type { ConflictRecord, MultiLeaderMessage, Update, UpdatesMessage, Version } from "./messages.js";

const META_KEY = "meta";
const UPDATE_PREFIX = "u/";
const KEY_PREFIX = "k/";
/**
 * Updates per origin per retransmission, so catching up after a partition is bounded per message; the message is
 * bounded in bytes too (kv BATCH_BYTES), or 64 large values would be over the transport's frame limit.
 */
const MAX_BATCH = 64;
/** Conflict records kept in memory (the count is kept in full). */
const CONFLICT_LOG_LIMIT = 1000;
/** Broken ring variant: laps an update may travel before the simulation's endless loop is cut. */
const BROKEN_LAPS = 3;
/**
 * Ticks after which a node retransmits even if its clock has not moved on: a node's clock stands still after it is
 * set back (the simulator's skew, NTP stepping a real clock), and retransmission must not stop with it.
 */
const SYNC_TICKS = 10;

interface Meta {
  hlc: HybridLogicalClock;
  lamport: number;
}

interface Parked {
  req: ClientRequest;
  token: VersionVector;
  deadline: number;
}

/** dot renders an update's identity, `origin:seq`. */
function dot(origin: NodeId, seq: number): string {
  return `${origin}:${seq}`;
}

/**
 * MultiLeaderCore is one leader of a multi-leader replicated KV store (DDIA ch. 5 "Multi-Leader Replication"):
 * every node accepts writes locally and replicates them to the others along a topology (all-to-all, ring or star),
 * retransmitting until each neighbour acknowledges. Updates are applied in causal order (buffered until their
 * dependencies are applied), and concurrent writes of a key are resolved by last-writer-wins on a hybrid logical
 * clock or a Lamport clock, or kept as siblings. Every resolution goes to a conflict log.
 *
 * Nothing here coordinates: a write is acknowledged once it is durable on the node that took it, so LWW silently
 * discards one of two concurrent writes (the conflict log records which), and a write on a node that then crashes
 * for good never reaches the others.
 */
export class MultiLeaderCore implements EngineCore<MultiLeaderMessage> {
  readonly id: NodeId;
  readonly cfg: MultiLeaderConfig;
  private readonly members: NodeId[];
  private readonly peers: NodeId[];

  private hlc: HybridLogicalClock = hlcNew();
  private lamport = 0;
  /** Invariant (correct variants): applied[o] = n ⇔ updates 1..n of origin o are applied here, and no others. */
  private applied: VersionVector = {};
  /** Every applied update by origin, seq - 1: what this node forwards and retransmits. */
  private log = new Map<NodeId, Update[]>();
  private state = new Map<string, Version[]>();
  private buffer = new Map<string, Update>();
  /** Who sent each buffered update: told (acked) as soon as it applies. */
  private bufferedFrom = new Map<string, NodeId>();
  /** What each neighbour acknowledged having applied. */
  private acked = new Map<NodeId, VersionVector>();
  /** Neighbours whose last retransmission was truncated: their next ack brings the next batch at once. */
  private readonly catchUp = new Set<NodeId>();
  /** Rounds of syncTo so far: which origin goes first in the next one. */
  private syncRounds = 0;
  private parked: Parked[] = [];
  private now: number;
  private lastSync = Number.NEGATIVE_INFINITY;
  private ticksSinceSync = 0;
  private conflictLog: ConflictRecord[] = [];

  private out: { persist: PersistOp[]; send: Envelope<MultiLeaderMessage>[]; replies: ClientReply[] } = {
    persist: [],
    send: [],
    replies: [],
  };
  private counters = { conflicts: 0, discarded: 0, duplicates: 0, writes: 0, replicated: 0, refused: 0 };

  constructor(init: EngineInit, broken: { loopPrevention?: boolean; causalOrder?: boolean } = {}) {
    this.id = init.id;
    this.members = [...init.peers];
    this.peers = this.members.filter((p) => p !== init.id);
    this.cfg = resolveConfig(init.options, broken);
    this.now = init.now;
    this.restore(init.records);
  }

  private restore(records: ReadonlyMap<string, unknown>): void {
    const meta = records.get(META_KEY) as Meta | undefined;
    if (meta) {
      this.hlc = { ...meta.hlc };
      this.lamport = meta.lamport;
    }
    for (const [k, v] of records) {
      if (k.startsWith(UPDATE_PREFIX)) {
        const u = v as Update;
        this.logPut(u);
        if (u.seq > vvGet(this.applied, u.origin)) this.applied[u.origin] = u.seq;
      } else if (k.startsWith(KEY_PREFIX)) {
        this.state.set(k.slice(KEY_PREFIX.length), v as Version[]);
      }
    }
  }

  private logPut(u: Update): void {
    let l = this.log.get(u.origin);
    if (!l) {
      l = [];
      this.log.set(u.origin, l);
    }
    l[u.seq - 1] = u;
  }

  // ------------------------------------------------------------------ topology

  /** targets are the neighbours this node sends updates to. */
  private targets(): NodeId[] {
    switch (this.cfg.topology) {
      case "all-to-all":
        return this.peers;
      case "ring": {
        const i = this.members.indexOf(this.id);
        const next = this.members[(i + 1) % this.members.length]!;
        return next === this.id ? [] : [next];
      }
      case "star": {
        const hub = this.members[0]!;
        return this.id === hub ? this.peers : [hub];
      }
    }
  }

  /** forwards tells whether this node passes update `u` on to neighbour `to`. */
  private forwards(u: Update, to: NodeId): boolean {
    // Loop prevention: never send an update to a node it has passed (its origin included).
    if (this.cfg.loopPrevention && (u.origin === to || u.path.includes(to))) return false;
    switch (this.cfg.topology) {
      case "all-to-all":
        return u.origin === this.id;
      case "ring":
        return true;
      case "star":
        return this.id === this.members[0] || u.origin === this.id;
    }
  }

  // ------------------------------------------------------------------ EngineCore

  request(req: ClientRequest): void {
    try {
      validateRequest(req);
    } catch (e) {
      this.out.replies.push(errorReply(req.id, e as KvError, this.meta()));
      return;
    }
    let token: VersionVector = {};
    let context: VersionVector | undefined;
    try {
      if (req.session?.token) token = vvDecode(req.session.token);
      if (req.options?.context !== undefined && req.options.context !== "")
        context = vvDecode(req.options.context);
    } catch {
      this.refuse(req, "KV_INVALID_ARGUMENT", "session token or context is not a version vector");
      return;
    }
    if (!vvDominates(this.applied, token)) {
      // The session has written something this node has not applied yet: wait for it, so a session's later write
      // depends on its earlier ones (monotonic writes) and its reads include them (read-your-writes).
      this.parked.push({ req, token, deadline: this.now + this.cfg.sessionWaitMs });
      return;
    }
    this.serve(req, token, context);
  }

  private serve(req: ClientRequest, token: VersionVector, context: VersionVector | undefined): void {
    const versions = this.state.get(req.key) ?? [];
    const live = versions.filter((v) => v.value !== null).map((v) => v.value!);
    // What a session has read joins its token with the causal past of the versions it saw, so the session never
    // reads, on another node, a state that lacks what those writes depended on (monotonic reads and writes as
    // observed by readers, writes-follow-reads).
    for (const v of versions) token = vvMerge(token, vvMerge(v.deps, { [v.origin]: v.seq }));
    if (req.op === "get") {
      const r: ClientReply = { id: req.id, ok: true, token: vvEncode(token), meta: this.meta() };
      if (live.length > 1) r.values = [...live].sort();
      else r.value = live[0] ?? null;
      if (this.cfg.conflicts === "siblings") r.context = vvEncode(this.keyContext(versions));
      this.out.replies.push(r);
      return;
    }
    let value: string | null;
    if (req.op === "cas") {
      // Local compare: another leader may swap from the same value at the same moment (no casAtomic).
      const current = live.length === 1 ? live[0]! : live.length === 0 ? null : undefined;
      if (current === undefined || current !== (req.expected ?? null)) {
        this.out.replies.push({
          id: req.id,
          ok: true,
          swapped: false,
          token: vvEncode(token),
          meta: this.meta(),
        });
        return;
      }
      value = req.value!;
      context = undefined;
    } else {
      value = req.op === "put" ? req.value! : null;
    }
    const u = this.localUpdate(req.key, value, context);
    const r: ClientReply = {
      id: req.id,
      ok: true,
      token: vvEncode(vvMerge(token, { [u.origin]: u.seq })),
      meta: this.meta(),
    };
    if (req.op === "cas") r.swapped = true;
    if (this.cfg.conflicts === "siblings")
      r.context = vvEncode(this.keyContext(this.state.get(req.key) ?? []));
    // Released after this Ready's persist: a write is acknowledged once durable here.
    this.out.replies.push(r);
  }

  private keyContext(versions: Version[]): VersionVector {
    let vv: VersionVector = {};
    for (const v of versions) vv = vvMerge(vv, v.vv ?? { [v.origin]: v.seq });
    return vv;
  }

  private localUpdate(key: string, value: string | null, context: VersionVector | undefined): Update {
    this.counters.writes++;
    const seq = vvGet(this.applied, this.id) + 1;
    this.lamport += 1;
    const u: Update = {
      origin: this.id,
      seq,
      deps: { ...this.applied },
      key,
      value,
      hlc: hlcNow(this.hlc, Math.max(0, this.now)),
      lamport: this.lamport,
      path: [this.id],
    };
    // A blind write supersedes what this node holds of the key; a write with a context supersedes what it covers.
    if (this.cfg.conflicts === "siblings") u.ctx = context ?? this.keyContext(this.state.get(key) ?? []);
    this.apply(u);
    for (const to of this.targets())
      if (this.forwards(u, to)) this.send(to, { type: "updates", updates: [u] });
    return u;
  }

  step(from: NodeId, m: MultiLeaderMessage): void {
    if (m.type === "ack") {
      const before = this.acked.get(from) ?? {};
      const after = vvMerge(before, m.applied);
      this.acked.set(from, after);
      // Catch-up is ack-clocked: a neighbour that was sent a truncated batch gets the next one as soon as it
      // acknowledges progress, not one batch per sync interval — under sustained writes it would never catch up.
      if (this.catchUp.has(from) && !vvDominates(before, after)) this.syncTo(from);
      return;
    }
    this.receive(from, m);
  }

  private receive(from: NodeId, m: UpdatesMessage): void {
    for (const u of m.updates) {
      hlcReceive(this.hlc, u.hlc, Math.max(0, this.now));
      this.lamport = Math.max(this.lamport, u.lamport) + 1;
      if (!this.cfg.loopPrevention) {
        this.brokenRingReceive(u);
        continue;
      }
      if (vvGet(this.applied, u.origin) >= u.seq) {
        this.counters.duplicates++;
        continue;
      }
      this.buffer.set(dot(u.origin, u.seq), u);
      this.bufferedFrom.set(dot(u.origin, u.seq), from);
    }
    const ackTo = this.drainBuffer();
    ackTo.add(from);
    // Sent after this Ready's persist: the ack means the updates are durable here. Every node whose updates
    // applied now hears of it at once (catch-up is ack-clocked), not only the one whose message unblocked them.
    for (const to of ackTo) this.send(to, { type: "ack", applied: { ...this.applied } });
    if (this.parked.length > 0) this.serveParked();
  }

  /**
   * drainBuffer applies buffered updates whose dependencies are all applied, until none is, and returns the nodes
   * that sent the updates it applied.
   */
  private drainBuffer(): Set<NodeId> {
    const forward: Update[] = [];
    const senders = new Set<NodeId>();
    let progress = true;
    while (progress && this.buffer.size > 0) {
      progress = false;
      for (const [k, u] of this.buffer) {
        if (vvGet(this.applied, u.origin) >= u.seq) {
          this.buffer.delete(k);
          this.bufferedFrom.delete(k);
          continue;
        }
        if (this.cfg.causalOrder) {
          // Causal delivery: the next update of its origin, and everything its origin had applied before it.
          const next = vvGet(this.applied, u.origin) === u.seq - 1;
          if (!next || !vvDominates(this.applied, { ...u.deps, [u.origin]: 0 })) continue;
        }
        this.buffer.delete(k);
        const sender = this.bufferedFrom.get(k);
        if (sender !== undefined) senders.add(sender);
        this.bufferedFrom.delete(k);
        this.counters.replicated++;
        const mine: Update = { ...u, path: [...u.path, this.id] };
        this.apply(mine);
        forward.push(mine);
        progress = true;
      }
    }
    // Ring and star pass what they applied straight on; retransmission (sync) covers any loss.
    for (const to of this.targets()) {
      const batch = forward.filter((u) => this.forwards(u, to));
      if (batch.length > 0) this.send(to, { type: "updates", updates: batch });
    }
    return senders;
  }

  /**
   * brokenRingReceive is the ring without loop prevention: an update is applied and forwarded every time it
   * arrives, as if it were new, re-stamped by the forwarding node like a re-executed statement (MySQL circular
   * replication without server ids). The laps are capped only so that a simulation ends.
   */
  private brokenRingReceive(u: Update): void {
    const hops = (u.hops ?? 0) + 1;
    const restamped: Update = {
      ...u,
      hlc: hlcNow(this.hlc, Math.max(0, this.now)),
      lamport: ++this.lamport,
      deps: { ...this.applied },
      path: [...u.path, this.id],
      hops,
    };
    this.counters.replicated++;
    this.apply(restamped, true);
    if (hops < BROKEN_LAPS * this.members.length) {
      for (const to of this.targets()) this.send(to, { type: "updates", updates: [restamped] });
    }
  }

  tick(now: number): void {
    if (now > this.now) this.now = now;
    this.ticksSinceSync++;
    if (this.now - this.lastSync >= this.cfg.syncMs || this.ticksSinceSync >= SYNC_TICKS) {
      this.lastSync = this.now;
      this.ticksSinceSync = 0;
      this.sync();
    }
    if (this.parked.length > 0) this.serveParked();
  }

  /** sync retransmits to each neighbour what it has not acknowledged (until acked: convergence after heal). */
  private sync(): void {
    for (const to of this.targets()) this.syncTo(to);
  }

  private syncTo(to: NodeId): void {
    const acked = this.acked.get(to) ?? {};
    const batch: Update[] = [];
    let bytes = 0;
    let truncated = false;
    // A count bound per origin, a byte bound per message. Each round starts at the next origin, so when the byte
    // budget runs out before every origin had its turn, every origin still goes first now and then: an update
    // waiting at the neighbour for another origin's update is never starved of it.
    const origins = [...this.log.keys()];
    const first = this.syncRounds++ % Math.max(1, origins.length);
    for (let i = 0; i < origins.length; i++) {
      const origin = origins[(first + i) % origins.length]!;
      const b = takeBatch(this.unacked(origin, vvGet(acked, origin), to), {
        maxEntries: MAX_BATCH,
        maxBytes: BATCH_BYTES - bytes,
        sizeOf: updateBytes,
        atLeastOne: batch.length === 0,
      });
      for (const u of b.entries) batch.push(u);
      bytes += b.bytes;
      if (b.full) truncated = true;
    }
    if (truncated) this.catchUp.add(to);
    else this.catchUp.delete(to);
    if (batch.length > 0) this.send(to, { type: "updates", updates: batch });
  }

  /** unacked yields the updates of `origin` after `acked` that go to `to`, oldest first. */
  private *unacked(origin: NodeId, acked: number, to: NodeId): Generator<Update> {
    const list = this.log.get(origin) ?? [];
    for (let seq = acked + 1; seq <= list.length; seq++) {
      const u = list[seq - 1];
      if (u && this.forwards(u, to)) yield u;
    }
  }

  private serveParked(): void {
    const keep: Parked[] = [];
    for (const p of this.parked) {
      if (vvDominates(this.applied, p.token)) {
        let context: VersionVector | undefined;
        if (p.req.options?.context) context = vvDecode(p.req.options.context);
        this.serve(p.req, p.token, context);
      } else if (this.now >= p.deadline) {
        this.counters.refused++;
        this.refuse(p.req, "KV_UNAVAILABLE", "this node has not yet applied the session's earlier writes");
      } else keep.push(p);
    }
    this.parked = keep;
  }

  admin(cmd: AdminCommand): void {
    if (cmd.command === "conflicts") {
      this.out.replies.push({
        id: cmd.id,
        ok: true,
        value: JSON.stringify(this.conflictLog),
        meta: this.meta(),
      });
      return;
    }
    this.out.replies.push(
      errorReply(cmd.id, new KvError("KV_NOT_SUPPORTED", `unknown admin command ${cmd.command}`)),
    );
  }

  ready(): Ready<MultiLeaderMessage> {
    const r = this.out;
    this.out = { persist: [], send: [], replies: [] };
    return r;
  }

  status(): NodeStatus {
    let lag = 0;
    for (const to of this.targets()) {
      const a = this.acked.get(to) ?? {};
      for (const list of this.log.values()) {
        for (let seq = 1; seq <= list.length; seq++) {
          const u = list[seq - 1];
          if (u && seq > vvGet(a, u.origin) && this.forwards(u, to)) lag++;
        }
      }
    }
    return {
      id: this.id,
      role: "leader",
      leader: this.id,
      members: this.members,
      applied: vvEncode(this.applied),
      lag,
      buffered: this.buffer.size,
      conflicts: this.counters.conflicts,
      discarded: this.counters.discarded,
      duplicates: this.counters.duplicates,
      writes: this.counters.writes,
      replicated: this.counters.replicated,
      topology: this.cfg.topology,
      conflictRule: this.cfg.conflicts,
    };
  }

  /** conflicts returns the most recent conflict-log records, oldest first. */
  conflicts(): readonly ConflictRecord[] {
    return this.conflictLog;
  }

  dump(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [k, versions] of this.state) {
      const live = versions.filter((v) => v.value !== null).map((v) => v.value!);
      if (live.length > 0) out.set(k, live.sort());
    }
    return out;
  }

  // ------------------------------------------------------------------ applying

  /** apply makes an update part of this replica: log, key state and clocks, all persisted in this Ready. */
  private apply(u: Update, overwrite = false): void {
    if (!overwrite || vvGet(this.applied, u.origin) < u.seq) {
      if (u.seq > vvGet(this.applied, u.origin)) this.applied[u.origin] = u.seq;
      this.logPut(u);
      this.out.persist.push({ type: "put", key: `${UPDATE_PREFIX}${u.origin}/${u.seq}`, value: u });
    }
    const version: Version = {
      value: u.value,
      origin: u.origin,
      seq: u.seq,
      hlc: u.hlc,
      lamport: u.lamport,
      deps: u.deps,
    };
    const current = this.state.get(u.key) ?? [];
    let next: Version[];
    if (overwrite) next = [version];
    else if (this.cfg.conflicts === "siblings") next = this.resolveSiblings(u, version, current);
    else next = this.resolveLww(u, version, current);
    this.state.set(u.key, next);
    this.out.persist.push({ type: "put", key: KEY_PREFIX + u.key, value: next });
    const meta: Meta = { hlc: { ...this.hlc }, lamport: this.lamport };
    this.out.persist.push({ type: "put", key: META_KEY, value: meta });
  }

  private resolveLww(u: Update, v: Version, current: Version[]): Version[] {
    const cur = current[0];
    if (!cur) return [v];
    const newer =
      this.cfg.conflicts === "lww-lamport"
        ? lamportCompare({ time: v.lamport, node: v.origin }, { time: cur.lamport, node: cur.origin }) > 0
        : hlcCompareStamps({ ...v.hlc, node: v.origin }, { ...cur.hlc, node: cur.origin }) > 0;
    // A write that had seen the current version replaces it: no conflict. Otherwise they are concurrent.
    const causal = vvGet(u.deps, cur.origin) >= cur.seq;
    if (!causal) {
      const [kept, lost] = newer ? [v, cur] : [cur, v];
      this.logConflict(u.key, [kept], [lost]);
    }
    return newer ? [v] : [cur];
  }

  private resolveSiblings(u: Update, v: Version, current: Version[]): Version[] {
    const ctx = u.ctx ?? u.deps;
    v.vv = vvMerge(ctx, { [u.origin]: u.seq });
    // A version is obsolete when the other's causal history contains its dot (dotted version vectors).
    if (current.some((c) => c.vv !== undefined && vvGet(c.vv, u.origin) >= u.seq)) return current;
    const kept = current.filter((c) => vvGet(v.vv!, c.origin) < c.seq);
    kept.push(v);
    if (kept.length > 1) this.logConflict(u.key, kept, []);
    return kept;
  }

  private logConflict(key: string, kept: Version[], discarded: Version[]): void {
    this.counters.conflicts++;
    this.counters.discarded += discarded.length;
    const show = (x: Version) => ({ value: x.value, dot: dot(x.origin, x.seq) });
    this.conflictLog.push({
      key,
      rule: this.cfg.conflicts,
      kept: kept.map(show),
      discarded: discarded.map(show),
      at: this.now,
    });
    if (this.conflictLog.length > CONFLICT_LOG_LIMIT) this.conflictLog.shift();
  }

  // ------------------------------------------------------------------ helpers

  private send(to: NodeId, message: MultiLeaderMessage): void {
    this.out.send.push({ to, message });
  }

  private refuse(req: ClientRequest, code: KvError["code"], message: string): void {
    this.out.replies.push(errorReply(req.id, new KvError(code, message), this.meta()));
  }

  private meta(): ClientReply["meta"] {
    return { node: this.id };
  }
}

/** updateBytes bounds an update's encoded size from above: key and value in UTF-8, clocks and path per node. */
function updateBytes(u: Update): number {
  let n = 128 + utf8Bytes(u.key) + (u.value === null ? 0 : utf8Bytes(u.value));
  n += 32 * (Object.keys(u.deps).length + u.path.length + (u.ctx ? Object.keys(u.ctx).length : 0));
  return n;
}
