import {
  type ClientReply,
  type ClientRequest,
  type EngineCore,
  type EngineDefinition,
  type NodeId,
  type OptionValue,
  type Ready,
  Rng,
  resolveOptions,
} from "@consistency-lab/kv";

/** Wire is a message in flight on a hand network. */
export interface Wire<M> {
  from: NodeId;
  to: NodeId;
  message: M;
}

export interface HandNetworkOptions<M> {
  engine: EngineDefinition<M>;
  /** How many nodes (named n1…nN), or their ids. Default: the engine's defaultNodes, else 3. */
  nodes?: number | NodeId[];
  /** Engine options (`--option` values); defaults are applied as the node runtime applies them. */
  options?: Record<string, OptionValue>;
  /** Seeds each core's rng (node i gets seed*1000+i). Default 1. */
  seed?: number;
  /** Renders a message for traces; default `type` and the other fields as JSON. */
  describe?: (message: M) => string;
}

/**
 * HandNetwork drives any engine's cores by hand, the way etcd-io/raft's `raft_test.go` network does: requests,
 * ticks and deliveries happen only when a test says so, each node's persisted records are its disk, links can be
 * cut (both ways or one way), nodes crashed and restarted from their disk. Messages are delivered FIFO and nothing
 * is random except the cores' own injected rngs. `clone()` branches the whole network (cores through their own
 * `clone()`), for tests that a cloned core behaves as the original.
 */
export class HandNetwork<M, C extends EngineCore<M> = EngineCore<M>> {
  readonly cores = new Map<NodeId, C>();
  readonly disks = new Map<NodeId, Map<string, unknown>>();
  readonly ids: NodeId[];
  readonly replies: ClientReply[] = [];
  /** Lines of what happened (messages queued, replies), when `recordTrace` is on. */
  readonly trace: string[] = [];
  /** Every message ever queued, for assertions on what was sent. */
  readonly sent: Wire<M>[] = [];
  inflight: Wire<M>[] = [];
  now = 0;
  recordTrace = false;
  /** Optional filter: return false to drop a message. */
  filter: ((w: Wire<M>) => boolean) | null = null;
  /** Called with every Ready drained, in order (clone tests compare these). */
  onReady: ((id: NodeId, rd: Ready<M>) => void) | null = null;
  readonly engine: EngineDefinition<M>;
  readonly options: Record<string, OptionValue>;
  readonly seed: number;
  private readonly describeMessage: (message: M) => string;
  private readonly cut = new Set<string>();
  private readonly down = new Set<NodeId>();
  private seq = 0;

  constructor(o: HandNetworkOptions<M>) {
    this.engine = o.engine;
    this.options = resolveOptions(o.engine.options, o.options ?? {});
    this.seed = o.seed ?? 1;
    this.describeMessage = o.describe ?? defaultDescribe;
    const nodes = o.nodes ?? o.engine.defaultNodes ?? 3;
    this.ids = typeof nodes === "number" ? Array.from({ length: nodes }, (_, i) => `n${i + 1}`) : [...nodes];
    for (const id of this.ids) {
      this.disks.set(id, new Map());
      this.cores.set(id, this.make(id));
    }
  }

  private make(id: NodeId): C {
    return this.engine.create({
      id,
      peers: this.ids,
      rng: new Rng(this.seed * 1000 + this.ids.indexOf(id) + 1),
      options: { ...this.options },
      now: this.now,
      records: new Map(this.disks.get(id)!),
    }) as C;
  }

  core(id: NodeId): C {
    const c = this.cores.get(id);
    if (c === undefined) throw new Error(`hand network: no node ${id}`);
    return c;
  }

  isDown(id: NodeId): boolean {
    return this.down.has(id);
  }

  isolate(id: NodeId): void {
    for (const o of this.ids) if (o !== id) this.cutLink(id, o);
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** partition cuts every link between the groups (nodes in no group keep their links). */
  partition(groups: NodeId[][]): void {
    for (const [i, g] of groups.entries())
      for (const h of groups.slice(i + 1)) for (const a of g) for (const b of h) this.cutLink(a, b);
  }

  heal(): void {
    this.cut.clear();
  }

  /** crash stops a node and drops what is in flight to and from it; its disk survives. */
  crash(id: NodeId): void {
    this.down.add(id);
    this.inflight = this.inflight.filter((w) => w.to !== id && w.from !== id);
  }

  restart(id: NodeId): void {
    this.down.delete(id);
    this.cores.set(id, this.make(id));
  }

  /** setDisk replaces a node's disk, e.g. to start a core from a hand-built state, then restarts it. */
  setDisk(id: NodeId, records: Record<string, unknown>): void {
    this.disks.set(id, new Map(Object.entries(records)));
    this.restart(id);
  }

  /** messages returns every message ever queued that matches. */
  messages(pred: (w: Wire<M>) => boolean): Wire<M>[] {
    return this.sent.filter(pred);
  }

  /** request hands a client request to a node and drains it; returns the request id. */
  request(node: NodeId, req: Omit<ClientRequest, "id"> & { id?: string }): string {
    const id = req.id ?? `r${++this.seq}`;
    this.core(node).request({ ...req, id } as ClientRequest);
    this.flush(node);
    return id;
  }

  admin(node: NodeId, command: string, args: Record<string, unknown> = {}): string {
    const id = `a${++this.seq}`;
    const core = this.core(node);
    if (core.admin === undefined) throw new Error(`hand network: ${this.engine.name} has no admin commands`);
    core.admin({ id, command, args });
    this.flush(node);
    return id;
  }

  reply(id: string): ClientReply | undefined {
    return this.replies.find((r) => r.id === id);
  }

  /** flush drains one node's Ready: persist to its disk, then queue its messages and collect its replies. */
  flush(id: NodeId): void {
    if (this.down.has(id)) return;
    const rd = this.core(id).ready();
    this.onReady?.(id, rd);
    const disk = this.disks.get(id)!;
    for (const op of rd.persist) {
      if (op.type === "put") disk.set(op.key, structuredClone(op.value));
      else disk.delete(op.key);
    }
    for (const e of [...(rd.sendEarly ?? []), ...rd.send]) {
      const w: Wire<M> = { from: id, to: e.to, message: structuredClone(e.message) };
      if (this.recordTrace) this.trace.push(`${id}->${e.to} ${this.describeMessage(w.message)}`);
      this.inflight.push(w);
      this.sent.push(w);
    }
    for (const r of rd.replies) {
      if (this.recordTrace) this.trace.push(`${id} reply ${describeReply(r)}`);
      this.replies.push(r);
    }
  }

  /** deliverOne delivers the oldest message (or drops it on a cut link); false when none is left. */
  deliverOne(): boolean {
    const w = this.inflight.shift();
    if (w === undefined) return false;
    if (this.down.has(w.to) || this.cut.has(`${w.from}>${w.to}`)) return true;
    if (this.filter !== null && !this.filter(w)) return true;
    this.core(w.to).step(w.from, w.message);
    this.flush(w.to);
    return true;
  }

  /** settle delivers messages until none is in flight (bounded). */
  settle(max = 100_000): void {
    for (let i = 0; i < max && this.deliverOne(); i++);
  }

  /** advance moves every live node's clock on by `ms` and drains each, delivering nothing. */
  advance(ms: number): void {
    this.now += ms;
    for (const id of this.ids) {
      if (this.down.has(id)) continue;
      this.core(id).tick(this.now);
      this.flush(id);
    }
  }

  /** tick advances every live node's clock by `ms` and settles. */
  tick(ms: number): void {
    this.advance(ms);
    this.settle();
  }

  /** runFor advances time in `step` ms ticks. */
  runFor(ms: number, step = 10): void {
    for (let t = 0; t < ms; t += step) this.tick(step);
  }

  /**
   * leader is the live node whose status says it leads in the highest term (or epoch), if any: for engines that
   * have a leader.
   */
  leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const id of this.ids) {
      if (this.down.has(id)) continue;
      const s = this.core(id).status();
      if (s.role !== "leader") continue;
      const term = s.term ?? 0;
      if (best === null || term > best.term) best = { id, term };
    }
    return best?.id ?? null;
  }

  /**
   * elect ticks in 10 ms steps until some node leads and has committed all it holds (its status' commitIndex
   * reached its lastIndex, where it reports them), and returns it; throws after `maxMs`.
   */
  elect(maxMs = 5000): NodeId {
    for (let t = 0; ; t += 10) {
      const l = this.leader();
      if (l !== null) {
        const s = this.core(l).status();
        if (s.commitIndex === undefined || s.lastIndex === undefined || s.commitIndex >= s.lastIndex)
          return l;
      }
      if (t >= maxMs) throw new Error(`hand network: no leader elected in ${maxMs} ms`);
      this.tick(10);
    }
  }

  /**
   * clone branches the network: every core through its own `clone()` (a core without one fails the call), disks,
   * messages in flight, cut links, crashed nodes and the clock. Replies, traces and `onReady` start empty.
   */
  clone(): HandNetwork<M, C> {
    const copy = Object.create(Object.getPrototypeOf(this)) as HandNetwork<M, C>;
    const fields = copy as unknown as Record<string, unknown>;
    Object.assign(fields, this);
    fields.cores = new Map(
      [...this.cores].map(([id, c]) => {
        if (c.clone === undefined) throw new Error(`${this.engine.name}: core has no clone()`);
        return [id, c.clone() as C];
      }),
    );
    fields.disks = new Map([...this.disks].map(([id, d]) => [id, structuredClone(d)]));
    fields.inflight = structuredClone(this.inflight);
    fields.replies = [];
    fields.trace = [];
    fields.sent = [];
    fields.onReady = null;
    fields.cut = new Set(this.cut);
    fields.down = new Set(this.down);
    return copy;
  }
}

function defaultDescribe(message: unknown): string {
  if (typeof message !== "object" || message === null) return JSON.stringify(message);
  const { type, ...rest } = message as Record<string, unknown>;
  const body = JSON.stringify(rest);
  return typeof type === "string" ? (body === "{}" ? type : `${type} ${body}`) : body;
}

/** describeReply renders a reply for transcripts: id, ok or the error code, then value(s) and swapped. */
export function describeReply(r: ClientReply): string {
  let s = `${r.id} ${r.ok ? "ok" : (r.error?.code ?? "?")}`;
  if (r.values !== undefined && r.values.length > 1) s += ` values=${JSON.stringify(r.values)}`;
  else if (r.value !== undefined) s += ` value=${r.value}`;
  if (r.swapped !== undefined) s += ` swapped=${r.swapped}`;
  return s;
}
