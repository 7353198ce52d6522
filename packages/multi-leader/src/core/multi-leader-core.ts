import {
  type AdminCommand,
  type ClientReply,
  type ClientRequest,
  CoreBase,
  type EngineInit,
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
  ReplicationStream,
  SessionParking,
  type Shipment,
  type StreamSource,
  utf8Bytes,
  type VersionVector,
  vectorPositions,
  vvDecode,
  vvDominates,
  vvEncode,
  vvGet,
  vvMerge,
} from "@consistency-lab/kv";
import type { ConflictRecord, MultiLeaderMessage, Update, UpdatesMessage, Version } from "./messages.js";
import { type MultiLeaderConfig, resolveConfig } from "./options.js";

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
/**
 * Ticks after which a node retransmits even if its clock has not moved on: a node's clock stands still after it is
 * set back (the simulator's skew, NTP stepping a real clock), and retransmission must not stop with it.
 */
const SYNC_TICKS = 10;

interface Meta {
  hlc: HybridLogicalClock;
  lamport: number;
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
export class MultiLeaderCore extends CoreBase<MultiLeaderMessage> {
  readonly id: NodeId;
  readonly cfg: MultiLeaderConfig;
  protected readonly members: NodeId[];
  private readonly peers: NodeId[];

  protected hlc: HybridLogicalClock = hlcNew();
  protected lamport = 0;
  /** Invariant (correct variants): applied[o] = n ⇔ updates 1..n of origin o are applied here, and no others. */
  protected applied: VersionVector = {};
  /** Every applied update by origin, seq - 1: what this node forwards and retransmits. */
  private log = new Map<NodeId, Update[]>();
  private state = new Map<string, Version[]>();
  private buffer = new Map<string, Update>();
  /** Who sent each buffered update: told (acked) as soon as it applies. */
  private bufferedFrom = new Map<string, NodeId>();
  /**
   * Shipping the log to each neighbour: what it acknowledged having applied (its version vector), batches in
   * flight, retransmission every syncMs until acknowledged (convergence after a heal).
   */
  private readonly stream: ReplicationStream<VersionVector>;
  /** Requests waiting until this node has applied what their session wrote and read. */
  private parked = new SessionParking<VersionVector>();
  protected now: number;
  private conflictLog: ConflictRecord[] = [];

  protected counters = { conflicts: 0, discarded: 0, duplicates: 0, writes: 0, replicated: 0, refused: 0 };

  constructor(init: EngineInit) {
    super();
    this.id = init.id;
    this.members = [...init.peers];
    this.peers = this.members.filter((p) => p !== init.id);
    this.cfg = resolveConfig(init.options);
    this.now = init.now;
    this.stream = new ReplicationStream(
      { peers: this.targets(), acked: {}, now: init.now },
      { resendMs: this.cfg.syncMs, resendTicks: SYNC_TICKS, maxEntries: MAX_BATCH },
    );
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

  // ------------------------------------------------------------------ hooks (src/engines.ts overrides them)

  /**
   * preventsLoops is whether an update is never sent to a node on its path (its origin included). The ring-loop
   * variant says no (MySQL circular replication without server ids).
   */
  protected preventsLoops(): boolean {
    return true;
  }

  /**
   * deliversInCausalOrder is whether a replica applies an update only after the previous update of its origin and
   * everything the update depends on. The out-of-order variant applies in arrival order and keeps a high-water
   * mark, so an update overtaken by a later one of its origin is taken for a duplicate and never applied.
   */
  protected deliversInCausalOrder(): boolean {
    return true;
  }

  /**
   * receiveUpdate takes one update from the wire (clocks already advanced): dropped when applied, else buffered
   * until `drainBuffer` can apply it.
   */
  protected receiveUpdate(from: NodeId, u: Update): void {
    if (vvGet(this.applied, u.origin) >= u.seq) {
      this.counters.duplicates++;
      return;
    }
    this.buffer.set(dot(u.origin, u.seq), u);
    this.bufferedFrom.set(dot(u.origin, u.seq), from);
  }

  // ------------------------------------------------------------------ topology

  /** targets are the neighbours this node sends updates to. */
  protected targets(): NodeId[] {
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
    return this.forwardsFrom(u.origin, to) && !(this.preventsLoops() && u.path.includes(to));
  }

  /** forwardsFrom tells whether this node passes any update of `origin` on to neighbour `to`. */
  private forwardsFrom(origin: NodeId, to: NodeId): boolean {
    if (this.preventsLoops() && origin === to) return false;
    switch (this.cfg.topology) {
      case "all-to-all":
        return origin === this.id;
      case "ring":
        return true;
      case "star":
        return this.id === this.members[0] || origin === this.id;
    }
  }

  // ------------------------------------------------------------------ EngineCore

  protected handleRequest(req: ClientRequest): void {
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
    // A session that has written something this node has not applied yet waits for it, so a session's later write
    // depends on its earlier ones (monotonic writes) and its reads include them (read-your-writes).
    const met = vvDominates(this.applied, token);
    const admitted = this.parked.admit(req, token, met, this.now, this.cfg.sessionWaitMs);
    if (admitted === "serve") this.serve(req, token, context);
    else if (admitted === "refuse") this.refuseBehind(req);
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
      this.out.reply(r);
      return;
    }
    let value: string | null;
    if (req.op === "cas") {
      // Local compare: another leader may swap from the same value at the same moment (no casAtomic).
      const current = live.length === 1 ? live[0]! : live.length === 0 ? null : undefined;
      if (current === undefined || current !== (req.expected ?? null)) {
        this.out.reply({
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
    this.out.reply(r);
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
    this.ship();
    return u;
  }

  step(from: NodeId, m: MultiLeaderMessage): void {
    if (m.type === "ack") {
      // Catch-up is ack-clocked: the next batches go as soon as the neighbour acknowledges the last ones, not one
      // batch per sync interval — under sustained writes it would never catch up.
      this.sendUpdates(this.stream.ack(from, m.applied, this.logSource()));
      return;
    }
    this.receive(from, m);
  }

  private receive(from: NodeId, m: UpdatesMessage): void {
    for (const u of m.updates) {
      hlcReceive(this.hlc, u.hlc, Math.max(0, this.now));
      this.lamport = Math.max(this.lamport, u.lamport) + 1;
      this.receiveUpdate(from, u);
    }
    const ackTo = this.drainBuffer();
    ackTo.add(from);
    // Sent after this Ready's persist: the ack means the updates are durable here. Every node whose updates
    // applied now hears of it at once (catch-up is ack-clocked), not only the one whose message unblocked them.
    for (const to of ackTo) this.out.to(to, { type: "ack", applied: { ...this.applied } });
    this.settleParked();
  }

  /**
   * drainBuffer applies buffered updates whose dependencies are all applied, until none is, and returns the nodes
   * that sent the updates it applied.
   */
  private drainBuffer(): Set<NodeId> {
    let applied = false;
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
        if (this.deliversInCausalOrder()) {
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
        applied = true;
        progress = true;
      }
    }
    // Ring and star pass what they applied straight on; retransmission covers any loss.
    if (applied) this.ship();
    return senders;
  }

  tick(now: number): void {
    if (now > this.now) this.now = now;
    this.sendUpdates(this.stream.tick(this.now, this.logSource()));
    this.settleParked();
  }

  /** ship sends what the log gained to each neighbour whose window has room. */
  private ship(): void {
    this.sendUpdates(this.stream.ship(this.logSource()));
  }

  private sendUpdates(batches: Shipment<VersionVector, Update>[]): void {
    for (const b of batches)
      if (b.entries.length > 0) this.out.to(b.to, { type: "updates", updates: b.entries });
  }

  /** logSource is the log as the replication stream ships it: updates by origin, position = a version vector. */
  private logSource(): StreamSource<VersionVector, Update> {
    return {
      ...vectorPositions,
      entriesAfter: (to, from, round) => this.unacked(to, from, round),
      sizeOf: updateBytes,
      advance: (from, updates) => {
        const out = { ...from };
        for (const u of updates) if (u.seq > vvGet(out, u.origin)) out[u.origin] = u.seq;
        return out;
      },
    };
  }

  /**
   * unacked yields the updates after `from` that go to `to`, oldest first per origin. Each batch starts at the
   * next origin (`round`), so when the byte budget runs out before every origin had its turn, every origin still
   * goes first now and then: an update waiting at the neighbour for another origin's update is never starved of it.
   */
  private *unacked(to: NodeId, from: VersionVector, round: number): Generator<Update> {
    const origins = [...this.log.keys()].filter((o) => this.forwardsFrom(o, to));
    for (let i = 0; i < origins.length; i++) {
      const origin = origins[(round + i) % origins.length]!;
      const list = this.log.get(origin)!;
      for (let seq = vvGet(from, origin) + 1; seq <= list.length; seq++) {
        const u = list[seq - 1];
        if (u && this.forwards(u, to)) yield u;
      }
    }
  }

  private settleParked(): void {
    this.parked.settle(
      this.now,
      (token) => vvDominates(this.applied, token),
      (p) => {
        const context = p.req.options?.context ? vvDecode(p.req.options.context) : undefined;
        this.serve(p.req, p.need, context);
      },
      (p) => this.refuseBehind(p.req),
    );
  }

  private refuseBehind(req: ClientRequest): void {
    this.counters.refused++;
    this.refuse(req, "KV_UNAVAILABLE", "this node has not yet applied the session's earlier writes");
  }

  admin(cmd: AdminCommand): void {
    if (cmd.command === "conflicts") {
      this.out.reply({
        id: cmd.id,
        ok: true,
        value: JSON.stringify(this.conflictLog),
        meta: this.meta(),
      });
      return;
    }
    this.out.reply(
      errorReply(cmd.id, new KvError("KV_NOT_SUPPORTED", `unknown admin command ${cmd.command}`)),
    );
  }

  status(): NodeStatus {
    let lag = 0;
    for (const to of this.targets()) {
      const a = this.stream.acked(to) ?? {};
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

  /**
   * apply makes an update part of this replica: log, key state and clocks, all persisted in this Ready. Only an
   * update with a dot not applied yet enters the log (a correct core applies nothing twice).
   */
  protected apply(u: Update): void {
    if (vvGet(this.applied, u.origin) < u.seq) {
      this.applied[u.origin] = u.seq;
      this.logPut(u);
      this.out.put(`${UPDATE_PREFIX}${u.origin}/${u.seq}`, u);
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
    const next = this.resolve(u, version, current);
    this.state.set(u.key, next);
    this.out.put(KEY_PREFIX + u.key, next);
    const meta: Meta = { hlc: { ...this.hlc }, lamport: this.lamport };
    this.out.put(META_KEY, meta);
  }

  /** resolve is what a key holds once `v` (of update `u`) meets its `current` versions. */
  protected resolve(u: Update, v: Version, current: Version[]): Version[] {
    return this.cfg.conflicts === "siblings"
      ? this.resolveSiblings(u, v, current)
      : this.resolveLww(u, v, current);
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

  private refuse(req: ClientRequest, code: KvError["code"], message: string): void {
    this.out.reply(errorReply(req.id, new KvError(code, message), this.meta()));
  }

  protected meta(): ClientReply["meta"] {
    return { node: this.id };
  }
}

/** updateBytes bounds an update's encoded size from above: key and value in UTF-8, clocks and path per node. */
function updateBytes(u: Update): number {
  let n = 128 + utf8Bytes(u.key) + (u.value === null ? 0 : utf8Bytes(u.value));
  n += 32 * (Object.keys(u.deps).length + u.path.length + (u.ctx ? Object.keys(u.ctx).length : 0));
  return n;
}
