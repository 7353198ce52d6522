import {
  type AdminCommand,
  type ClientReply,
  type ClientRequest,
  type EngineCore,
  type EngineDefinition,
  type EngineOptions,
  type Envelope,
  type NodeStatus,
  type PersistOp,
  type Ready,
  Rng,
  resolveOptions,
  TraceHash,
  utf8Bytes,
} from "@consistency-lab/kv";
import { EventQueue } from "./event-queue.js";
import { DEFAULT_TICK_MS, type DelayDist, type NetworkConfig, resolveNetwork } from "./types.js";

// Event kinds. Numbers rather than strings: they are hashed into the trace and switched on per event.
const DELIVER = 1;
const REQUEST = 2;
const REPLY = 3;
const TICK = 4;
const PERSIST_DONE = 5;
const RESUME = 6;
const TIMER = 7;
const ADMIN = 8;
// Trace-only record kinds (not queued).
const T_SEND = 20;
const T_DROP = 21;
const T_DUP = 22;
const T_CRASH = 23;
const T_RESTART = 24;
const T_PAUSE = 25;
const T_SKEW = 26;
const T_NET = 27;
const T_EMIT = 28;

interface SimEvent {
  time: number;
  seq: number;
  kind: number;
  /** Target node index (or -1). */
  node: number;
  /** Sender node index for DELIVER; crash generation for PERSIST_DONE; pause deadline for RESUME. */
  from: number;
  payload: unknown;
}

interface PendingBatch {
  persist: PersistOp[];
  send: Envelope<unknown>[];
  replies: ClientReply[];
}

interface NodeState {
  readonly id: string;
  readonly index: number;
  core: EngineCore<unknown> | undefined;
  incarnation: number;
  /** Bumped on every crash so that events of an earlier life (persist completions) are ignored. */
  gen: number;
  readonly disk: Map<string, unknown>;
  skew: number;
  lastTick: number;
  /** Virtual ms the node resumes at; 0 when not paused. */
  pausedUntil: number;
  /** Inputs that arrived while paused, processed in arrival order on resume. */
  inbox: SimEvent[];
  /** Ready batches whose persist is not yet durable, oldest first (only with persistLatencyMs > 0). */
  persistQueue: PendingBatch[];
}

/** SimClusterOptions configures a SimCluster. */
export interface SimClusterOptions {
  engine: EngineDefinition<any>;
  /** Raw engine options, resolved with the engine's specs. */
  options?: Record<string, string | number | boolean>;
  /** A count (ids n1..nN) or explicit ids; defaults to the engine's `defaultNodes`, else 3. */
  nodes?: number | string[];
  seed: number;
  network?: Partial<NetworkConfig>;
  /** Node tick interval in virtual ms (default 10). */
  tickMs?: number;
  /** Virtual ms before a persist batch is durable (default 0: durable at once). */
  persistLatencyMs?: number;
  /** Debug mode: structuredClone every message, record and restored disk; hash message contents. */
  strict?: boolean;
  /** Deadline of `request` / `admin` when none is given (default 1000 ms). */
  defaultDeadlineMs?: number;
}

/** SimClusterStats counts what the simulated network and nodes did. */
export interface SimClusterStats {
  messages: number;
  delivered: number;
  dropped: number;
  /** Of `dropped`: peer messages over `maxMessageBytes` (the transport's frame limit). */
  oversized: number;
  duplicated: number;
  ticks: number;
  requests: number;
  replies: number;
  crashes: number;
  restarts: number;
  events: number;
}

/** LinkSettings overrides one directed link. `delay` and `jitter` are extra ms on top of the base distribution. */
export interface LinkSettings {
  delay?: number;
  jitter?: number;
  /** Loss rate of this link; a negative value restores the network-wide rate. */
  loss?: number;
}

/** Timeout is what `request` returns when the deadline passed before a reply. */
export interface Timeout {
  timeout: true;
}

/** isTimeout tells a `request` timeout from a reply. */
export function isTimeout(r: ClientReply | Timeout): r is Timeout {
  return (r as Timeout).timeout === true;
}

/**
 * SimulationError wraps an exception thrown by an engine core, naming the seed, node and virtual time so the
 * run can be replayed; the core's exception is the `cause`. A core that throws has a bug (etcd-io/raft panics).
 */
export class SimulationError extends Error {
  readonly seed: number;
  readonly node: string;
  readonly time: number;

  constructor(seed: number, node: string, time: number, what: string, cause: unknown) {
    super(
      `engine core ${node} threw during ${what} at ${time} ms (seed ${seed}): ${(cause as Error)?.message ?? String(cause)}`,
      {
        cause,
      },
    );
    this.name = "SimulationError";
    this.seed = seed;
    this.node = node;
    this.time = time;
  }
}

/** meanDelay is the mean of a delay distribution in ms. */
export function meanDelay(d: DelayDist): number {
  switch (d.kind) {
    case "constant":
      return d.ms;
    case "uniform":
      return (d.minMs + d.maxMs) / 2;
    case "exponential":
      return d.meanMs + (d.minMs ?? 0);
  }
}

/**
 * SimCluster is the deterministic discrete-event driver of an engine's cores (ARCHITECTURE §2): a virtual clock,
 * one event queue ordered by (time, seq), a simulated network with per-link delay, loss, duplication, reordering
 * and partitions, a simulated disk per node, crash/restart, pause and clock skew. It is synchronous, like
 * etcd-io/raft's test network: `request` runs the event loop until the reply or the deadline.
 *
 * Same seed and same calls ⇒ same run; `traceHash()` digests every delivery, drop, tick, reply and fault.
 */
export class SimCluster {
  /** Node ids, "n1".."nN" unless given. */
  readonly nodes: string[];
  readonly engine: EngineDefinition<any>;
  /** Engine options after defaults. */
  readonly options: EngineOptions;
  readonly seed: number;
  readonly tickMs: number;
  readonly persistLatencyMs: number;
  readonly strict: boolean;
  readonly defaultDeadlineMs: number;

  private readonly root: Rng;
  private readonly netRng: Rng;
  /** Draws what a crash leaves on disk (a batch written but not yet synced). */
  private readonly crashRng: Rng;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly states: NodeState[];
  private readonly index = new Map<string, number>();
  private readonly hash = new TraceHash();
  private readonly n: number;
  /** cut[from·N+to] = 1 when the directed link is partitioned. */
  private readonly cut: Uint8Array;
  private readonly linkLoss: Float64Array;
  private readonly linkDelay: Float64Array;
  private readonly linkJitter: Float64Array;
  /** Arrival time of the last in-order message per link: links are FIFO unless a message is reordered. */
  private readonly lastArrival: Float64Array;
  private readonly pending = new Map<string, (reply: ClientReply) => void>();
  /**
   * Where each pending request or admin command went: the target node and its crash generation at submit time.
   * A client's connection belongs to one incarnation of a node: when that node crashes the connection closes, and
   * a request sent on it can never reach the restarted node.
   */
  private readonly pendingAt = new Map<string, { node: number; gen: number }>();
  private net: NetworkConfig;
  private reorderSpread = 0;
  private seq = 0;
  private clock = 0;
  private requestCounter = 0;
  private inFlightMessages = 0;
  private readonly counters: SimClusterStats = {
    messages: 0,
    delivered: 0,
    dropped: 0,
    oversized: 0,
    duplicated: 0,
    ticks: 0,
    requests: 0,
    replies: 0,
    crashes: 0,
    restarts: 0,
    events: 0,
  };

  constructor(opts: SimClusterOptions) {
    this.engine = opts.engine;
    this.options = resolveOptions(opts.engine.options, opts.options ?? {});
    this.seed = opts.seed;
    this.tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
    this.persistLatencyMs = opts.persistLatencyMs ?? 0;
    this.strict = opts.strict ?? false;
    this.defaultDeadlineMs = opts.defaultDeadlineMs ?? 1000;
    if (!(this.tickMs > 0)) throw new TypeError(`tickMs must be positive, got ${this.tickMs}`);
    const nodes = opts.nodes ?? opts.engine.defaultNodes ?? 3;
    this.nodes =
      typeof nodes === "number" ? Array.from({ length: nodes }, (_, i) => `n${i + 1}`) : [...nodes];
    if (this.nodes.length === 0) throw new TypeError("a cluster needs at least one node");
    this.n = this.nodes.length;
    this.nodes.forEach((id, i) => {
      if (this.index.has(id)) throw new TypeError(`duplicate node id ${JSON.stringify(id)}`);
      this.index.set(id, i);
    });
    const links = this.n * this.n;
    this.cut = new Uint8Array(links);
    this.linkLoss = new Float64Array(links).fill(-1);
    this.linkDelay = new Float64Array(links);
    this.linkJitter = new Float64Array(links);
    this.lastArrival = new Float64Array(links);
    this.net = resolveNetwork(opts.network);
    this.reorderSpread = 3 * meanDelay(this.net.delay) + 1;
    this.root = new Rng(opts.seed >>> 0);
    this.netRng = this.root.fork("network");
    this.crashRng = this.root.fork("crash");
    this.states = this.nodes.map((id, index) => ({
      id,
      index,
      core: undefined,
      incarnation: 0,
      gen: 0,
      disk: new Map<string, unknown>(),
      skew: 0,
      lastTick: 0,
      pausedUntil: 0,
      inbox: [],
      persistQueue: [],
    }));
    for (const s of this.states) this.start(s);
    // Stagger the first ticks so nodes do not all tick at the same instant.
    for (const s of this.states)
      this.push(((s.index + 1) * this.tickMs) / (this.n + 1), TICK, s.index, -1, null);
  }

  // ---------------------------------------------------------------- clock and event loop

  /** now is the virtual time in ms. */
  get now(): number {
    return this.clock;
  }

  /** stats counts messages, drops, ticks and faults so far. */
  get stats(): Readonly<SimClusterStats> {
    return this.counters;
  }

  /** network is the current network-wide configuration. */
  get network(): NetworkConfig {
    return this.net;
  }

  /** inFlight is the number of peer messages sent and not yet delivered or dropped. */
  get inFlight(): number {
    return this.inFlightMessages;
  }

  /** traceHash digests every event so far (16 hex digits). */
  traceHash(): string {
    return this.hash.hex();
  }

  /** fork derives a named random stream from the run's seed (e.g. "workload", "faults"). */
  fork(name: string): Rng {
    return this.root.fork(name);
  }

  /** step processes the next event; false when the queue is empty (never, while nodes tick). */
  step(): boolean {
    const ev = this.queue.pop();
    if (ev === undefined) return false;
    this.clock = ev.time;
    this.counters.events++;
    this.dispatch(ev);
    return true;
  }

  /** runFor runs every event up to `now + ms`, then sets the clock there. */
  runFor(ms: number): void {
    const target = this.clock + ms;
    for (;;) {
      const e = this.queue.peek();
      if (e === undefined || e.time > target) break;
      this.step();
    }
    if (target > this.clock) this.clock = target;
  }

  /** runUntil runs until `pred()` holds (checked after every event) or `maxMs` passed; returns whether it held. */
  runUntil(pred: () => boolean, maxMs: number): boolean {
    if (pred()) return true;
    const target = this.clock + maxMs;
    for (;;) {
      const e = this.queue.peek();
      if (e === undefined || e.time > target) break;
      this.step();
      if (pred()) return true;
    }
    if (target > this.clock) this.clock = target;
    return false;
  }

  /** quiesce runs until no peer message is in flight, no node holds queued input, or `maxMs` passed. */
  quiesce(maxMs: number): boolean {
    return this.runUntil(
      () => this.inFlightMessages === 0 && this.states.every((s) => s.inbox.length === 0),
      maxMs,
    );
  }

  /** at schedules `fn` at virtual time `time` (clamped to now). */
  at(time: number, fn: () => void): void {
    this.push(Math.max(time, this.clock), TIMER, -1, -1, fn);
  }

  /** after schedules `fn` `ms` from now. */
  after(ms: number, fn: () => void): void {
    this.at(this.clock + ms, fn);
  }

  private push(time: number, kind: number, node: number, from: number, payload: unknown): void {
    this.queue.push({ time, seq: this.seq++, kind, node, from, payload });
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case DELIVER:
        this.inFlightMessages--;
        this.deliver(ev);
        return;
      case TICK: {
        this.push(ev.time + this.tickMs, TICK, ev.node, -1, null);
        const s = this.states[ev.node]!;
        if (s.core !== undefined && s.pausedUntil === 0) this.tickNode(s);
        return;
      }
      case REQUEST:
      case ADMIN:
        this.clientInput(ev);
        return;
      case REPLY:
        this.replyArrived(ev.payload as ClientReply);
        return;
      case PERSIST_DONE:
        this.persistDone(this.states[ev.node]!, ev.from);
        return;
      case RESUME:
        this.resume(this.states[ev.node]!, ev.from);
        return;
      case TIMER:
        (ev.payload as () => void)();
        return;
    }
  }

  // ---------------------------------------------------------------- nodes

  private start(s: NodeState): void {
    const name = s.incarnation === 0 ? `node:${s.id}` : `node:${s.id}:${s.incarnation}`;
    const now = Math.max(s.lastTick, this.clock + s.skew);
    s.lastTick = now;
    const records = this.strict ? structuredClone(s.disk) : new Map(s.disk);
    try {
      s.core = this.engine.create({
        id: s.id,
        peers: [...this.nodes],
        rng: this.root.fork(name),
        options: { ...this.options },
        now,
        records,
      }) as EngineCore<unknown>;
      this.drain(s);
    } catch (e) {
      throw this.coreError(s, "create", e);
    }
  }

  private tickNode(s: NodeState): void {
    let t = this.clock + s.skew;
    // A node's clock never goes backwards, even when its skew is reduced.
    if (t < s.lastTick) t = s.lastTick;
    s.lastTick = t;
    this.counters.ticks++;
    const h = this.hash;
    h.u32(TICK);
    h.u32(s.index);
    h.time(t);
    try {
      s.core!.tick(t);
      this.drain(s);
    } catch (e) {
      throw this.coreError(s, "tick", e);
    }
  }

  /** drain releases a core's Ready: persist first, then sends and replies (ARCHITECTURE §2). */
  private drain(s: NodeState): void {
    const core = s.core;
    if (core === undefined) return;
    const r: Ready<unknown> = core.ready();
    const early = r.sendEarly;
    if (early !== undefined) for (let i = 0; i < early.length; i++) this.send(s, early[i]!);
    const persist = r.persist;
    if (persist.length === 0 && r.send.length === 0 && r.replies.length === 0) return;
    if (this.persistLatencyMs > 0 && (persist.length > 0 || s.persistQueue.length > 0)) {
      // Held back until durable; a batch without records still waits for the ones before it.
      s.persistQueue.push({ persist, send: r.send, replies: r.replies });
      if (persist.length > 0)
        this.push(this.clock + this.persistLatencyMs, PERSIST_DONE, s.index, s.gen, null);
      return;
    }
    if (persist.length > 0) this.applyPersist(s, persist);
    this.release(s, r.send, r.replies);
  }

  private applyPersist(s: NodeState, persist: PersistOp[]): void {
    const disk = s.disk;
    for (let i = 0; i < persist.length; i++) {
      const p = persist[i]!;
      if (p.type === "put") disk.set(p.key, this.strict ? structuredClone(p.value) : p.value);
      else disk.delete(p.key);
    }
  }

  private persistDone(s: NodeState, gen: number): void {
    if (gen !== s.gen) return; // the node crashed meanwhile: that batch was lost
    const head = s.persistQueue.shift();
    if (head === undefined) return;
    this.applyPersist(s, head.persist);
    this.release(s, head.send, head.replies);
    while (s.persistQueue.length > 0 && s.persistQueue[0]!.persist.length === 0) {
      const b = s.persistQueue.shift()!;
      this.release(s, b.send, b.replies);
    }
  }

  private release(s: NodeState, send: Envelope<unknown>[], replies: ClientReply[]): void {
    for (let i = 0; i < send.length; i++) this.send(s, send[i]!);
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i]!;
      const h = this.hash;
      h.u32(T_EMIT);
      h.u32(s.index);
      h.str(reply.id);
      h.u32(reply.ok ? 1 : 0);
      this.push(this.clock + this.net.clientDelayMs, REPLY, s.index, -1, reply);
    }
  }

  // ---------------------------------------------------------------- network

  private sampleDelay(link: number): number {
    const d = this.net.delay;
    const rng = this.netRng;
    let ms: number;
    switch (d.kind) {
      case "constant":
        ms = d.ms;
        break;
      case "uniform":
        ms = d.minMs + rng.next() * (d.maxMs - d.minMs);
        break;
      case "exponential":
        ms = (d.minMs ?? 0) + rng.exponential(d.meanMs);
        break;
    }
    ms += this.linkDelay[link]!;
    const jitter = this.linkJitter[link]!;
    if (jitter > 0) ms += rng.next() * jitter;
    // Microsecond resolution keeps virtual times exactly reproducible when printed or hashed.
    return Math.round(ms * 1000) / 1000;
  }

  private send(s: NodeState, env: Envelope<unknown>): void {
    this.counters.messages++;
    const h = this.hash;
    const to = this.index.get(env.to);
    h.u32(T_SEND);
    h.u32(s.index);
    if (to === undefined) {
      h.str(String(env.to));
      this.counters.dropped++;
      return;
    }
    h.u32(to);
    const link = s.index * this.n + to;
    // A cut link drops at send time and again at arrival (Maelstrom drops at receive time).
    if (this.cut[link] === 1) {
      h.u32(T_DROP);
      this.counters.dropped++;
      return;
    }
    const ll = this.linkLoss[link]!;
    const loss = ll >= 0 ? ll : this.net.loss;
    const rng = this.netRng;
    if (loss > 0 && rng.next() < loss) {
      h.u32(T_DROP);
      this.counters.dropped++;
      return;
    }
    const limit = this.net.maxMessageBytes ?? 0;
    if (limit > 0 && encodedBytesOver(env.message, limit)) {
      // The transport drops a frame over its maxPayload at the sender (the receiver would close the link).
      h.u32(T_DROP);
      this.counters.dropped++;
      this.counters.oversized++;
      return;
    }
    const message = this.strict ? structuredClone(env.message) : env.message;
    if (this.strict) h.str(JSON.stringify(message) ?? "undefined");
    let t = this.clock + this.sampleDelay(link);
    const reorder = this.net.reorder;
    if (reorder > 0 && rng.next() < reorder) {
      t += Math.round(rng.next() * this.reorderSpread * 1000) / 1000;
    } else {
      const last = this.lastArrival[link]!;
      if (t < last) t = last;
      this.lastArrival[link] = t;
    }
    h.time(t);
    this.inFlightMessages++;
    this.push(t, DELIVER, to, s.index, message);
    const dup = this.net.dup;
    if (dup > 0 && rng.next() < dup) {
      const t2 =
        this.clock + this.sampleDelay(link) + Math.round(rng.next() * this.reorderSpread * 1000) / 1000;
      h.u32(T_DUP);
      h.time(t2);
      this.counters.duplicated++;
      this.inFlightMessages++;
      this.push(t2, DELIVER, to, s.index, this.strict ? structuredClone(message) : message);
    }
  }

  private deliver(ev: SimEvent): void {
    const s = this.states[ev.node]!;
    const h = this.hash;
    if (this.cut[ev.from * this.n + ev.node] === 1 || s.core === undefined) {
      h.u32(T_DROP);
      h.u32(ev.from);
      h.u32(ev.node);
      this.counters.dropped++;
      return;
    }
    if (s.pausedUntil !== 0) {
      s.inbox.push(ev);
      return;
    }
    this.stepNode(s, ev);
  }

  private stepNode(s: NodeState, ev: SimEvent): void {
    this.counters.delivered++;
    const h = this.hash;
    h.u32(DELIVER);
    h.u32(ev.from);
    h.u32(ev.node);
    h.time(this.clock);
    try {
      s.core!.step(this.nodes[ev.from]!, ev.payload);
      this.drain(s);
    } catch (e) {
      throw this.coreError(s, "step", e);
    }
  }

  // ---------------------------------------------------------------- clients

  private clientInput(ev: SimEvent): void {
    const s = this.states[ev.node]!;
    const h = this.hash;
    const id = (ev.payload as { id: string }).id;
    const at = this.pendingAt.get(id);
    if (s.core === undefined || (at !== undefined && at.gen !== s.gen)) {
      h.u32(T_DROP);
      h.u32(ev.kind);
      h.u32(ev.node);
      // Sent on a connection of an earlier incarnation: crash() already told the client it closed. Sent while the
      // node was down: the connection was refused, so the request certainly did not take effect.
      if (at !== undefined && at.gen === s.gen) {
        this.refuseClient(s, id, "KV_UNAVAILABLE", `cannot reach ${s.id}: connection refused`);
      }
      return;
    }
    if (s.pausedUntil !== 0) {
      s.inbox.push(ev);
      return;
    }
    this.inputNode(s, ev);
  }

  private inputNode(s: NodeState, ev: SimEvent): void {
    const h = this.hash;
    h.u32(ev.kind);
    h.u32(s.index);
    h.time(this.clock);
    if (ev.kind === REQUEST) {
      const req = ev.payload as ClientRequest;
      h.str(req.id);
      this.counters.requests++;
      try {
        s.core!.request(this.strict ? structuredClone(req) : req);
        this.drain(s);
      } catch (e) {
        throw this.coreError(s, "request", e);
      }
      return;
    }
    const cmd = ev.payload as AdminCommand;
    h.str(cmd.id);
    if (s.core!.admin === undefined) {
      this.push(this.clock + this.net.clientDelayMs, REPLY, s.index, -1, {
        id: cmd.id,
        ok: false,
        error: { code: "KV_NOT_SUPPORTED", message: `engine ${this.engine.name} has no admin commands` },
        meta: { node: s.id },
      } satisfies ClientReply);
      return;
    }
    try {
      s.core!.admin(cmd);
      this.drain(s);
    } catch (e) {
      throw this.coreError(s, "admin", e);
    }
  }

  private coreError(s: NodeState, what: string, e: unknown): unknown {
    if (e instanceof SimulationError) return e;
    return new SimulationError(this.seed, s.id, this.clock, what, e);
  }

  /** refuseClient answers a pending request from the client side (its connection was refused or closed). */
  private refuseClient(
    s: NodeState,
    id: string,
    code: "KV_ABORTED" | "KV_UNAVAILABLE",
    message: string,
  ): void {
    this.push(this.clock + this.net.clientDelayMs, REPLY, s.index, -1, {
      id,
      ok: false,
      error: { code, message },
      meta: { node: s.id },
    } satisfies ClientReply);
  }

  private replyArrived(reply: ClientReply): void {
    const cb = this.pending.get(reply.id);
    const h = this.hash;
    h.u32(REPLY);
    h.str(reply.id);
    h.time(this.clock);
    if (cb === undefined) return; // cancelled (deadline passed) or a duplicate
    this.pending.delete(reply.id);
    this.pendingAt.delete(reply.id);
    this.counters.replies++;
    cb(reply);
  }

  private nodeIndex(node: string): number {
    const i = this.index.get(node);
    if (i === undefined)
      throw new TypeError(`unknown node ${JSON.stringify(node)}; nodes are ${this.nodes.join(", ")}`);
    return i;
  }

  /**
   * submit sends a client request to `node` (arriving after `clientDelayMs`) and returns its id; `onReply` is
   * called from the event loop when the reply reaches the client. A request to a crashed node is never answered.
   */
  submit(node: string, req: Omit<ClientRequest, "id">, onReply: (reply: ClientReply) => void): string {
    const i = this.nodeIndex(node);
    const id = `r${++this.requestCounter}`;
    this.pending.set(id, onReply);
    this.pendingAt.set(id, { node: i, gen: this.states[i]!.gen });
    this.push(this.clock + this.net.clientDelayMs, REQUEST, i, -1, { ...req, id });
    return id;
  }

  /** cancel forgets a submitted request: its reply, if one comes, is ignored. */
  cancel(id: string): void {
    this.pending.delete(id);
    this.pendingAt.delete(id);
  }

  /** request sends a client request and runs the event loop until its reply or the deadline. */
  request(
    node: string,
    req: Omit<ClientRequest, "id">,
    opts: { deadlineMs?: number } = {},
  ): ClientReply | Timeout {
    let result: ClientReply | undefined;
    const id = this.submit(node, req, (r) => {
      result = r;
    });
    const ok = this.runUntil(() => result !== undefined, opts.deadlineMs ?? this.defaultDeadlineMs);
    if (!ok) this.cancel(id);
    return result ?? { timeout: true };
  }

  /** admin sends an operator command to `node` and runs until its reply or the deadline. */
  admin(
    node: string,
    cmd: Omit<AdminCommand, "id"> & { id?: string },
    opts: { deadlineMs?: number } = {},
  ): ClientReply | Timeout {
    const i = this.nodeIndex(node);
    const id = cmd.id ?? `a${++this.requestCounter}`;
    let result: ClientReply | undefined;
    this.pending.set(id, (r) => {
      result = r;
    });
    this.pendingAt.set(id, { node: i, gen: this.states[i]!.gen });
    this.push(this.clock + this.net.clientDelayMs, ADMIN, i, -1, { ...cmd, id });
    const ok = this.runUntil(() => result !== undefined, opts.deadlineMs ?? this.defaultDeadlineMs);
    if (!ok) this.cancel(id);
    return result ?? { timeout: true };
  }

  // ---------------------------------------------------------------- inspection

  /** core is the node's current incarnation (undefined while crashed). */
  core(node: string): EngineCore<unknown> | undefined {
    return this.states[this.nodeIndex(node)]!.core;
  }

  /** status is the node's status, or `{ role: "crashed" }` while crashed. */
  status(node: string): NodeStatus {
    const c = this.core(node);
    return c === undefined ? { id: node, role: "crashed" } : c.status();
  }

  /** leader is the node whose status role is "leader" (the highest term if several claim it), if any. */
  leader(): string | undefined {
    let best: string | undefined;
    let bestTerm = Number.NEGATIVE_INFINITY;
    for (const s of this.states) {
      if (s.core === undefined) continue;
      const st = s.core.status();
      if (st.role !== "leader") continue;
      const term = st.term ?? 0;
      if (term > bestTerm) {
        best = s.id;
        bestTerm = term;
      }
    }
    return best;
  }

  /** disk is the node's durable records. */
  disk(node: string): ReadonlyMap<string, unknown> {
    return this.states[this.nodeIndex(node)]!.disk;
  }

  /** isCrashed tells whether the node is down. */
  isCrashed(node: string): boolean {
    return this.core(node) === undefined;
  }

  /** isPaused tells whether the node is paused now. */
  isPaused(node: string): boolean {
    return this.states[this.nodeIndex(node)]!.pausedUntil !== 0;
  }

  /** skewOf is the node's current clock offset in ms. */
  skewOf(node: string): number {
    return this.states[this.nodeIndex(node)]!.skew;
  }

  /** isCut tells whether the directed link from → to is partitioned. */
  isCut(from: string, to: string): boolean {
    return this.cut[this.nodeIndex(from) * this.n + this.nodeIndex(to)] === 1;
  }

  // ---------------------------------------------------------------- faults

  private traceFault(kind: number, node: number, x = 0): void {
    const h = this.hash;
    h.u32(kind);
    h.u32(node);
    h.time(this.clock);
    h.time(x);
  }

  /**
   * crash discards the node's core, its unpersisted batches and queued input; its disk survives. As with a real
   * kill -9, the clients' connections to the node close: every request sent to it and not yet answered ends with
   * KV_ABORTED at its client (the request may or may not have taken effect), and the client may retry it.
   */
  crash(node: string): void {
    const s = this.states[this.nodeIndex(node)]!;
    if (s.core === undefined) return;
    s.core = undefined;
    const gen = s.gen;
    s.gen++;
    s.pausedUntil = 0;
    s.inbox = [];
    // The batch being synced may already be in the kernel's page cache, which a killed process does not take with
    // it: half the time it is on disk after the crash although the replies and messages waiting for its sync were
    // never released. Later batches had not been written yet (a node writes one batch at a time).
    const syncing = s.persistQueue.find((b) => b.persist.length > 0);
    if (syncing !== undefined && this.crashRng.chance(0.5)) this.applyPersist(s, syncing.persist);
    s.persistQueue = [];
    this.counters.crashes++;
    this.traceFault(T_CRASH, s.index);
    for (const [id, at] of this.pendingAt) {
      if (at.node === s.index && at.gen === gen) {
        this.refuseClient(s, id, "KV_ABORTED", `connection to ${s.id} closed with the request in flight`);
      }
    }
  }

  /** restart creates a fresh core from the node's disk, with a fresh rng stream `node:<id>:<incarnation>`. */
  restart(node: string): void {
    const s = this.states[this.nodeIndex(node)]!;
    if (s.core !== undefined) return;
    s.incarnation++;
    this.counters.restarts++;
    this.traceFault(T_RESTART, s.index, s.incarnation);
    this.start(s);
  }

  /** pause freezes the node for `ms`: no ticks, inputs queue up and are processed when it resumes. */
  pause(node: string, ms: number): void {
    const s = this.states[this.nodeIndex(node)]!;
    if (s.core === undefined || !(ms > 0)) return;
    const until = Math.max(s.pausedUntil, this.clock + ms);
    s.pausedUntil = until;
    this.traceFault(T_PAUSE, s.index, until);
    this.push(until, RESUME, s.index, until, null);
  }

  private resume(s: NodeState, until: number): void {
    if (s.pausedUntil !== until) return; // extended by a later pause, or crashed
    s.pausedUntil = 0;
    const inbox = s.inbox;
    s.inbox = [];
    // The clock first, as a real process reads the time when it wakes: the queued input then meets a core whose
    // clock is current (drivers promise input a clock at most one tick old).
    this.tickNode(s);
    for (const ev of inbox) {
      if (s.core === undefined || s.pausedUntil !== 0) break;
      if (ev.kind === DELIVER) this.stepNode(s, ev);
      else this.inputNode(s, ev);
    }
  }

  /** resumeAll ends every pause now. */
  resumeAll(): void {
    for (const s of this.states) if (s.pausedUntil !== 0) this.resume(s, s.pausedUntil);
  }

  /** skew sets the node's clock offset: it ticks with `now + ms` (never going backwards). */
  skew(node: string, ms: number): void {
    const s = this.states[this.nodeIndex(node)]!;
    s.skew = ms;
    this.traceFault(T_SKEW, s.index, ms);
  }

  /** partition cuts every link between nodes of different groups (both ways); unlisted nodes form one more group. */
  partition(groups: string[][]): void {
    const group = new Int32Array(this.n).fill(-1);
    groups.forEach((g, gi) => {
      for (const id of g) group[this.nodeIndex(id)] = gi;
    });
    for (let a = 0; a < this.n; a++) {
      for (let b = 0; b < this.n; b++) this.cut[a * this.n + b] = group[a] !== group[b] ? 1 : 0;
    }
    this.traceNet(1);
  }

  /** partitionOneWay cuts the links from every node of `from` to every node of `to` (added to existing cuts). */
  partitionOneWay(from: string[], to: string[]): void {
    for (const a of from)
      for (const b of to) if (a !== b) this.cut[this.nodeIndex(a) * this.n + this.nodeIndex(b)] = 1;
    this.traceNet(2);
  }

  /** heal removes every partition (link delay and loss overrides stay; see `resetLinks`). */
  heal(): void {
    this.cut.fill(0);
    this.traceNet(3);
  }

  /** resetLinks removes every per-link delay, jitter and loss override. */
  resetLinks(): void {
    this.linkLoss.fill(-1);
    this.linkDelay.fill(0);
    this.linkJitter.fill(0);
    this.traceNet(4);
  }

  /** setLink overrides the directed link from → to. */
  setLink(from: string, to: string, settings: LinkSettings): void {
    const link = this.nodeIndex(from) * this.n + this.nodeIndex(to);
    if (settings.delay !== undefined) this.linkDelay[link] = settings.delay;
    if (settings.jitter !== undefined) this.linkJitter[link] = settings.jitter;
    if (settings.loss !== undefined) this.linkLoss[link] = settings.loss;
    const h = this.hash;
    h.u32(T_NET);
    h.u32(link);
    h.time(settings.delay ?? -1);
    h.time(settings.jitter ?? -1);
    h.time(settings.loss ?? -1);
  }

  /** setNetwork changes network-wide settings from now on. */
  setNetwork(partial: Partial<NetworkConfig>): void {
    this.net = { ...this.net, ...partial };
    this.reorderSpread = 3 * meanDelay(this.net.delay) + 1;
    const h = this.hash;
    h.u32(T_NET);
    h.time(this.net.loss);
    h.time(this.net.dup);
    h.time(this.net.reorder);
    h.time(meanDelay(this.net.delay));
  }

  private traceNet(kind: number): void {
    const h = this.hash;
    h.u32(T_NET);
    h.u32(kind);
    h.time(this.clock);
    if (kind <= 2) for (let i = 0; i < this.cut.length; i++) if (this.cut[i] === 1) h.u32(i);
  }
}

/**
 * encodedBytesOver tells whether `message`, encoded as a transport frame, may be larger than `limit` bytes. It sums
 * an upper bound of the msgpack encoding (strings in UTF-8 plus a 5-byte header, numbers 9 bytes, containers a
 * 5-byte header plus their keys and members) and stops as soon as the bound passes the limit.
 */
export function encodedBytesOver(message: unknown, limit: number): boolean {
  // The frame's envelope, `{ t: "msg", m: ... }`.
  let total = 16;
  const stack: unknown[] = [message];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") total += 5 + (v.length < 64 ? 3 * v.length : utf8Bytes(v));
    else if (typeof v === "number" || typeof v === "bigint") total += 9;
    else if (v === null || v === undefined || typeof v === "boolean") total += 1;
    else if (ArrayBuffer.isView(v)) total += 5 + v.byteLength;
    else if (Array.isArray(v)) {
      total += 5;
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (v instanceof Map) {
      total += 5;
      for (const [k, x] of v) stack.push(k, x);
    } else if (typeof v === "object") {
      total += 5;
      for (const k in v) {
        total += 5 + 3 * k.length;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
    if (total > limit) return true;
  }
  return false;
}
