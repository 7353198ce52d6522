import { type ClientReply, type ClientRequest, type NodeId, Rng } from "@consistency-lab/kv";
import type { RaftMessage } from "../core/messages.js";
import type { RaftOptions } from "../core/options.js";
import { RaftCore } from "../core/raft-core.js";

/** A message on the wire of the in-test network. */
export interface Wire {
  from: NodeId;
  to: NodeId;
  message: RaftMessage;
}

/**
 * Network is the tiny in-test network of the paper-section tests (etcd-io/raft `raft_test.go` network): it
 * drives cores by hand, keeps each node's persisted records as its disk, and can drop, cut and isolate links.
 * Messages are delivered FIFO; nothing here is random except the cores' own injected rngs.
 */
export class Network {
  readonly cores = new Map<NodeId, RaftCore>();
  readonly disks = new Map<NodeId, Map<string, unknown>>();
  readonly ids: NodeId[];
  readonly replies: ClientReply[] = [];
  readonly trace: string[] = [];
  inflight: Wire[] = [];
  now = 0;
  private readonly cut = new Set<string>();
  private readonly down = new Set<NodeId>();
  /** Optional filter: return false to drop a message. */
  filter: ((w: Wire) => boolean) | null = null;
  recordTrace = false;
  /** Every message ever queued, for assertions on what was sent. */
  readonly sent: Wire[] = [];
  private seq = 0;

  constructor(
    n: number,
    readonly options: Partial<RaftOptions> & { voters?: number } = {},
    readonly seed = 1,
  ) {
    this.ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    for (const id of this.ids) {
      this.disks.set(id, new Map());
      this.cores.set(id, this.make(id, this.ids));
    }
  }

  private make(id: NodeId, peers: NodeId[]): RaftCore {
    return new RaftCore({
      id,
      peers,
      rng: new Rng(this.seed * 1000 + Number(id.slice(1))),
      options: this.options as never,
      now: this.now,
      records: new Map(this.disks.get(id)!),
    });
  }

  core(id: NodeId): RaftCore {
    return this.cores.get(id)!;
  }

  /** leader returns the node that believes it leads in the highest term, if any. */
  leader(): NodeId | null {
    let best: RaftCore | null = null;
    for (const [id, c] of this.cores) {
      if (this.down.has(id) || c.role !== "leader") continue;
      if (best === null || c.term > best.term) best = c;
    }
    return best?.id ?? null;
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

  heal(): void {
    this.cut.clear();
  }

  crash(id: NodeId): void {
    this.down.add(id);
    this.inflight = this.inflight.filter((w) => w.to !== id && w.from !== id);
  }

  /** setDisk replaces a node's disk, e.g. to start a core from a hand-built state, then restarts it. */
  setDisk(id: NodeId, records: Record<string, unknown>): void {
    this.disks.set(id, new Map(Object.entries(records)));
    this.restart(id);
  }

  /** messages returns every message ever queued that matches. */
  messages(pred: (w: Wire) => boolean): Wire[] {
    return this.sent.filter(pred);
  }

  restart(id: NodeId): void {
    this.down.delete(id);
    this.cores.set(id, this.make(id, this.ids));
  }

  request(node: NodeId, req: Omit<ClientRequest, "id"> & { id?: string }): string {
    const id = req.id ?? `r${++this.seq}`;
    this.core(node).request({ ...req, id } as ClientRequest);
    this.flush(node);
    return id;
  }

  admin(node: NodeId, command: string, args: Record<string, unknown>): string {
    const id = `a${++this.seq}`;
    this.core(node).admin({ id, command, args });
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
    const disk = this.disks.get(id)!;
    for (const op of rd.persist) {
      if (op.type === "put") disk.set(op.key, structuredClone(op.value));
      else disk.delete(op.key);
    }
    for (const e of [...(rd.sendEarly ?? []), ...rd.send]) {
      const w: Wire = { from: id, to: e.to, message: structuredClone(e.message) };
      if (this.recordTrace) this.trace.push(describe(w));
      this.inflight.push(w);
      this.sent.push(w);
    }
    for (const r of rd.replies) {
      if (this.recordTrace)
        this.trace.push(
          `${id} reply ${r.id} ${r.ok ? "ok" : r.error?.code}${r.value !== undefined ? ` value=${r.value}` : ""}${r.swapped !== undefined ? ` swapped=${r.swapped}` : ""}`,
        );
      this.replies.push(r);
    }
  }

  /** deliverOne delivers the oldest message; returns false when none is left. */
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

  /** tick advances every live node's clock by `ms` and settles. */
  tick(ms: number): void {
    this.now += ms;
    for (const id of this.ids) {
      if (this.down.has(id)) continue;
      this.core(id).tick(this.now);
      this.flush(id);
    }
    this.settle();
  }

  /** runFor advances time in 10 ms steps. */
  runFor(ms: number, step = 10): void {
    for (let t = 0; t < ms; t += step) this.tick(step);
  }

  /** elect runs until some node leads; returns it. */
  elect(maxMs = 5000): NodeId {
    for (let t = 0; t < maxMs; t += 10) {
      const l = this.leader();
      if (l !== null && this.core(l).log.committed >= this.core(l).log.lastIndex()) return l;
      this.tick(10);
    }
    throw new Error("no leader elected");
  }
}

/** describe renders a message for transcripts. */
export function describe(w: Wire): string {
  const m = w.message;
  const head = `${w.from}->${w.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "append-request":
      return `${head} prev=${m.prevIndex}/${m.prevTerm} commit=${m.commit} entries=[${m.entries.map((e) => `${e.index}/${e.term}:${e.cmd.kind === "kv" ? `${e.cmd.op} ${e.cmd.key}` : e.cmd.kind}`).join(", ")}]`;
    case "append-response":
      return `${head} ${m.success ? "ok" : "reject"} index=${m.index}${m.hintIndex !== undefined ? ` hint=${m.hintIndex}/${m.hintTerm}` : ""}`;
    case "vote-request":
    case "prevote-request":
      return `${head} last=${m.lastIndex}/${m.lastTerm}${"transfer" in m && m.transfer ? " transfer" : ""}`;
    case "vote-response":
    case "prevote-response":
      return `${head} ${m.granted ? "granted" : "rejected"}`;
    case "heartbeat":
      return `${head} commit=${m.commit}${m.ctx !== undefined ? ` ctx=${m.ctx}` : ""}`;
    case "heartbeat-response":
      return `${head} ctx=${m.ctx}`;
    case "snapshot-request":
      return `${head} snap=${m.snapshot.index}/${m.snapshot.term} keys=${m.snapshot.data.length}`;
    case "read-index-request":
      return `${head} ctx=${m.ctx}`;
    case "read-index-response":
      return `${head} ctx=${m.ctx} index=${m.index}`;
    case "timeout-now":
      return head;
  }
}
