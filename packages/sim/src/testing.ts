import {
  type ClientReply,
  type ClientRequest,
  deepClone,
  type EngineCore,
  type EngineDefinition,
  type EngineInit,
  errorReply,
  fingerprint,
  KvError,
  NOTHING,
  type NodeStatus,
  type PersistOp,
  type Ready,
} from "@consistency-lab/kv";

export { describeReply, HandNetwork, type HandNetworkOptions, type Wire } from "./hand-network.js";
export {
  parseTranscript,
  renderTranscript,
  runTranscript,
  type TranscriptBlock,
  type TranscriptCommand,
  type TranscriptConfig,
  type TranscriptTestApi,
  transcriptTests,
} from "./transcript.js";

/**
 * Toy engines for the simulator's own tests, the bench and other packages' driver tests. They are deliberately
 * simple and are not consistency models anyone should use.
 */

const RECORD_PREFIX = "d/";

/** ForwardMessage is a token passed around the ring by forwardEngine. */
export interface ForwardMessage {
  hop: number;
}

/**
 * ForwardCore forwards every message it receives to the next node of the ring, and starts `seeds` tokens of its
 * own when created. Requests are answered from a local, unreplicated map (persisted), so a workload can run too.
 */
export class ForwardCore implements EngineCore<ForwardMessage> {
  readonly id: string;
  private readonly next: string;
  private readonly maxHops: number;
  private readonly data = new Map<string, string>();
  private send: { to: string; message: ForwardMessage }[] = [];
  private replies: ClientReply[] = [];
  private persist: PersistOp[] = [];
  private received = 0;
  private lastTick = 0;

  constructor(init: EngineInit) {
    this.id = init.id;
    const i = init.peers.indexOf(init.id);
    this.next = init.peers[(i + 1) % init.peers.length]!;
    this.maxHops = Number(init.options.hops ?? 0);
    this.lastTick = init.now;
    for (const [k, v] of init.records) if (k.startsWith(RECORD_PREFIX)) this.data.set(k.slice(2), String(v));
    const seeds = Number(init.options.seeds ?? 1);
    for (let s = 0; s < seeds; s++) this.send.push({ to: this.next, message: { hop: 0 } });
  }

  step(_from: string, message: ForwardMessage): void {
    this.received++;
    if (this.maxHops > 0 && message.hop + 1 >= this.maxHops) return;
    this.send.push({ to: this.next, message: { hop: message.hop + 1 } });
  }

  request(req: ClientRequest): void {
    const meta = { node: this.id };
    const cur = this.data.get(req.key) ?? null;
    if (req.op === "get") {
      this.replies.push({ id: req.id, ok: true, value: cur, meta });
      return;
    }
    const swapped = req.op !== "cas" || cur === (req.expected ?? null);
    if (swapped) {
      if (req.op === "delete") {
        this.data.delete(req.key);
        this.persist.push({ type: "del", key: RECORD_PREFIX + req.key });
      } else {
        this.data.set(req.key, req.value!);
        this.persist.push({ type: "put", key: RECORD_PREFIX + req.key, value: req.value! });
      }
    }
    this.replies.push(
      req.op === "cas" ? { id: req.id, ok: true, swapped, meta } : { id: req.id, ok: true, meta },
    );
  }

  tick(now: number): void {
    this.lastTick = now;
  }

  ready(): Ready<ForwardMessage> {
    const r = { persist: this.persist, send: this.send, replies: this.replies };
    this.persist = [];
    this.send = [];
    this.replies = [];
    return r;
  }

  status(): NodeStatus {
    return { id: this.id, role: "replica", received: this.received, lastTick: this.lastTick };
  }

  dump(): Map<string, string[]> {
    return new Map([...this.data].map(([k, v]) => [k, [v]]));
  }
}

/**
 * forwardEngine registers ForwardCore. Options: `seeds` (tokens each node starts, default 1), `hops` (a token
 * stops after this many hops; 0 = never).
 */
export const forwardEngine: EngineDefinition<ForwardMessage> = {
  name: "forward",
  description: "test engine: forwards every message to the next node of the ring; local unreplicated map",
  options: [
    { name: "seeds", type: "number", default: 1, description: "tokens each node starts with" },
    { name: "hops", type: "number", default: 0, description: "hops before a token stops (0 = never)" },
  ],
  defaultNodes: 3,
  create: (init) => new ForwardCore(init),
  supports: () => ({ ...NOTHING }),
};

/** EchoMessage is the leader's asynchronous replication of one write to a follower. */
export interface EchoMessage {
  type: "apply";
  key: string;
  value: string | null;
}

/**
 * EchoCore is a toy primary-backup KV: the first peer is the fixed leader; it applies requests in arrival
 * order, persists each write before acknowledging it and copies it to the followers without waiting. A follower
 * answers every request with KV_NOT_LEADER naming the leader. Its status reports the last tick it saw.
 */
export class EchoCore implements EngineCore<EchoMessage> {
  readonly id: string;
  private readonly leaderId: string;
  private readonly peers: string[];
  private readonly durable: boolean;
  private readonly data = new Map<string, string>();
  private send: { to: string; message: EchoMessage }[] = [];
  private replies: ClientReply[] = [];
  private persist: PersistOp[] = [];
  private lastTick: number;
  private ticks = 0;
  private applied = 0;

  constructor(init: EngineInit) {
    this.id = init.id;
    this.peers = init.peers;
    this.leaderId = init.peers[0]!;
    this.durable = init.options.persist !== false;
    this.lastTick = init.now;
    for (const [k, v] of init.records) if (k.startsWith(RECORD_PREFIX)) this.data.set(k.slice(2), String(v));
  }

  private get isLeader(): boolean {
    return this.id === this.leaderId;
  }

  step(_from: string, m: EchoMessage): void {
    this.apply(m.key, m.value);
  }

  private apply(key: string, value: string | null): void {
    this.applied++;
    if (value === null) this.data.delete(key);
    else this.data.set(key, value);
    if (this.durable) {
      this.persist.push(
        value === null
          ? { type: "del", key: RECORD_PREFIX + key }
          : { type: "put", key: RECORD_PREFIX + key, value },
      );
    }
  }

  request(req: ClientRequest): void {
    const meta = { node: this.id };
    if (!this.isLeader) {
      this.replies.push(
        errorReply(
          req.id,
          new KvError("KV_NOT_LEADER", `${this.id} is not the leader`, { leader: this.leaderId }),
          meta,
        ),
      );
      return;
    }
    const cur = this.data.get(req.key) ?? null;
    if (req.op === "get") {
      this.replies.push({ id: req.id, ok: true, value: cur, meta });
      return;
    }
    const swapped = req.op !== "cas" || cur === (req.expected ?? null);
    if (swapped) {
      const value = req.op === "delete" ? null : req.value!;
      this.apply(req.key, value);
      for (const p of this.peers)
        if (p !== this.id) this.send.push({ to: p, message: { type: "apply", key: req.key, value } });
    }
    this.replies.push(
      req.op === "cas" ? { id: req.id, ok: true, swapped, meta } : { id: req.id, ok: true, meta },
    );
  }

  tick(now: number): void {
    this.lastTick = now;
    this.ticks++;
  }

  ready(): Ready<EchoMessage> {
    const r = { persist: this.persist, send: this.send, replies: this.replies };
    this.persist = [];
    this.send = [];
    this.replies = [];
    return r;
  }

  status(): NodeStatus {
    return {
      id: this.id,
      role: this.isLeader ? "leader" : "follower",
      leader: this.leaderId,
      lastTick: this.lastTick,
      ticks: this.ticks,
      applied: this.applied,
    };
  }

  dump(): Map<string, string[]> {
    return new Map([...this.data].map(([k, v]) => [k, [v]]));
  }

  clone(): EchoCore {
    return deepClone(this);
  }

  fingerprint(): string {
    return fingerprint(this);
  }
}

/** echoEngine registers EchoCore. Option `persist` (default true): whether writes are persisted at all. */
export const echoEngine: EngineDefinition<EchoMessage> = {
  name: "echo",
  description: "test engine: fixed leader n1 applies and copies writes to followers asynchronously",
  options: [
    { name: "persist", type: "boolean", default: true, description: "persist writes before acknowledging" },
  ],
  defaultNodes: 3,
  create: (init) => new EchoCore(init),
  supports: () => ({ ...NOTHING, convergence: true }),
};

/** PingMessage is one ping of pingEngine, numbered per sender → receiver link. */
export interface PingMessage {
  seq: number;
}

/**
 * PingCore sends one numbered ping to every peer on each tick and counts, per sender, the pings it received and
 * how many arrived out of order. It has no KV: requests are refused with KV_NOT_SUPPORTED.
 */
export class PingCore implements EngineCore<PingMessage> {
  readonly id: string;
  private readonly peers: string[];
  private readonly sent = new Map<string, number>();
  private readonly received: Record<string, number> = {};
  private readonly lastSeq: Record<string, number> = {};
  private outOfOrder = 0;
  private send: { to: string; message: PingMessage }[] = [];
  private replies: ClientReply[] = [];

  constructor(init: EngineInit) {
    this.id = init.id;
    this.peers = init.peers.filter((p) => p !== init.id);
    for (const p of this.peers) {
      this.received[p] = 0;
      this.lastSeq[p] = 0;
    }
  }

  step(from: string, m: PingMessage): void {
    this.received[from] = (this.received[from] ?? 0) + 1;
    if (m.seq < (this.lastSeq[from] ?? 0)) this.outOfOrder++;
    else this.lastSeq[from] = m.seq;
  }

  request(req: ClientRequest): void {
    this.replies.push(
      errorReply(req.id, new KvError("KV_NOT_SUPPORTED", "ping engine has no KV"), { node: this.id }),
    );
  }

  tick(): void {
    for (const p of this.peers) {
      const seq = (this.sent.get(p) ?? 0) + 1;
      this.sent.set(p, seq);
      this.send.push({ to: p, message: { seq } });
    }
  }

  ready(): Ready<PingMessage> {
    const r = { persist: [], send: this.send, replies: this.replies };
    this.send = [];
    this.replies = [];
    return r;
  }

  status(): NodeStatus {
    return { id: this.id, role: "replica", received: { ...this.received }, outOfOrder: this.outOfOrder };
  }
}

/** pingEngine registers PingCore: steady all-to-all traffic for network fault tests. */
export const pingEngine: EngineDefinition<PingMessage> = {
  name: "ping",
  description: "test engine: every node pings every peer on each tick",
  options: [],
  defaultNodes: 3,
  create: (init) => new PingCore(init),
  supports: () => ({ ...NOTHING }),
};
