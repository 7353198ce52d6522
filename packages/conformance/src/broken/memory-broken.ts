import {
  type ClientReply,
  type ClientRequest,
  type EngineCore,
  type EngineDefinition,
  type EngineInit,
  errorReply,
  type KvError,
  MEMORY_SUPPORTS,
  type NodeStatus,
  type PersistOp,
  type Ready,
  serveFromMap,
  validateRequest,
} from "@consistency-lab/kv";

/** A replicated write: the node that took it, its sequence number there, and the new value (null = delete). */
interface ReplicateMessage {
  type: "replicate";
  origin: string;
  seq: number;
  key: string;
  value: string | null;
}

/**
 * LaggingReplicaCore is a deliberately broken two-replica store, kept to prove that the conformance suite and the
 * checker catch what they claim to. Every node acknowledges a write as soon as it applied it locally, then ships it
 * to the others with no ordering or acknowledgement; reads are served from whichever replica the client reached.
 * It declares what the one-node reference declares (linearizable, …), so every stale read it serves is a
 * violation of a declared guarantee. Teaching point: "acknowledged" must mean "replicated before anyone can read
 * elsewhere", or reads on another replica go back in time.
 */
class LaggingReplicaCore implements EngineCore<ReplicateMessage> {
  readonly id: string;
  private readonly peers: string[];
  private readonly data = new Map<string, string>();
  private seq = 0;
  private persist: PersistOp[] = [];
  private send: { to: string; message: ReplicateMessage }[] = [];
  private replies: ClientReply[] = [];

  constructor(init: EngineInit) {
    this.id = init.id;
    this.peers = init.peers.filter((p) => p !== init.id);
    for (const [k, v] of init.records) {
      if (k.startsWith("d/") && typeof v === "string") this.data.set(k.slice(2), v);
      if (k === "seq" && typeof v === "number") this.seq = v;
    }
  }

  step(_from: string, m: ReplicateMessage): void {
    // Applied in arrival order, whatever order the writes happened in: the second half of the bug.
    this.apply(m.key, m.value);
  }

  request(req: ClientRequest): void {
    try {
      validateRequest(req);
    } catch (e) {
      this.replies.push(errorReply(req.id, e as KvError, { node: this.id }));
      return;
    }
    const { reply, write } = serveFromMap(this.data, req, { node: this.id });
    if (write) this.write(write.key, write.value);
    this.replies.push(reply);
  }

  private write(key: string, value: string | null): void {
    this.apply(key, value);
    this.seq++;
    this.persist.push({ type: "put", key: "seq", value: this.seq });
    for (const to of this.peers) {
      this.send.push({ to, message: { type: "replicate", origin: this.id, seq: this.seq, key, value } });
    }
  }

  private apply(key: string, value: string | null): void {
    if (value === null) {
      this.data.delete(key);
      this.persist.push({ type: "del", key: `d/${key}` });
    } else {
      this.data.set(key, value);
      this.persist.push({ type: "put", key: `d/${key}`, value });
    }
  }

  tick(): void {}

  ready(): Ready<ReplicateMessage> {
    const r = { persist: this.persist, send: this.send, replies: this.replies };
    this.persist = [];
    this.send = [];
    this.replies = [];
    return r;
  }

  status(): NodeStatus {
    return { id: this.id, role: "replica", leader: null, keys: this.data.size };
  }

  dump(): Map<string, string[]> {
    return new Map([...this.data].map(([k, v]) => [k, [v]]));
  }
}

/** memoryBrokenLaggingReplica: acks writes before replicating, reads from either replica. Must be caught. */
export const memoryBrokenLaggingReplica: EngineDefinition<ReplicateMessage> = {
  name: "memory-broken-lagging-replica",
  description: "two replicas that ack writes before replicating and serve reads from either replica",
  broken: "acknowledges a write before it is replicated and serves reads from a replica that may not have it",
  keptBecause:
    "proves the suite can fail: src/memory.test.ts 'is caught breaking a declared guarantee within 20 seeds, with a replay command'",
  options: [],
  defaultNodes: 2,
  create: (init) => new LaggingReplicaCore(init),
  supports: () => MEMORY_SUPPORTS,
};
