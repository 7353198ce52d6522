import { CoreBase } from "./core-base.js";
import type { EngineDefinition, EngineInit, NodeStatus } from "./engine.js";
import { KvError } from "./errors.js";
import type { KvStore } from "./kv-store.js";
import { toResult } from "./reply.js";
import { NOTHING, type Supports } from "./supports.js";
import type {
  CasResult,
  ClientReply,
  ClientRequest,
  GetResult,
  KvOp,
  RequestOptions,
  WriteResult,
} from "./types.js";

const RECORD_PREFIX = "d/";

/**
 * MemoryCore is the one-node reference engine: a map, applied in arrival order, every write persisted before it
 * is acknowledged. It is trivially linearizable, and the baseline every other engine's semantics are compared to.
 */
export class MemoryCore extends CoreBase<never> {
  readonly id: string;
  private readonly data = new Map<string, string>();
  private served = 0;

  constructor(init: Pick<EngineInit, "id" | "records">) {
    super();
    this.id = init.id;
    for (const [k, v] of init.records) {
      if (k.startsWith(RECORD_PREFIX) && typeof v === "string")
        this.data.set(k.slice(RECORD_PREFIX.length), v);
    }
  }

  step(): void {
    // A single node has no peers; a message is a driver bug.
    throw new Error("MemoryCore has no peers");
  }

  protected meta(): ClientReply["meta"] {
    return { node: this.id };
  }

  protected handleRequest(req: ClientRequest): void {
    this.served++;
    const { reply, write } = serveFromMap(this.data, req, this.meta());
    if (write) this.write(write.key, write.value);
    this.out.reply(reply);
  }

  private write(key: string, value: string | null): void {
    if (value === null) {
      this.data.delete(key);
      this.out.del(RECORD_PREFIX + key);
    } else {
      this.data.set(key, value);
      this.out.put(RECORD_PREFIX + key, value);
    }
  }

  tick(): void {}

  status(): NodeStatus {
    return { id: this.id, role: "single", leader: this.id, keys: this.data.size, served: this.served };
  }

  dump(): Map<string, string[]> {
    return new Map([...this.data].map(([k, v]) => [k, [v]]));
  }
}

/**
 * serveFromMap answers one validated request against a single copy of the data, the reference semantics of the KV
 * interface: get reads, put and delete write, cas writes only when the current value equals `expected` (null:
 * absent). It returns the reply and the write to apply (value null = delete), leaving durability to the caller.
 */
export function serveFromMap(
  data: ReadonlyMap<string, string>,
  req: ClientRequest,
  meta: ClientReply["meta"],
): { reply: ClientReply; write?: { key: string; value: string | null } } {
  const current = data.get(req.key) ?? null;
  const base = { id: req.id, ok: true, ...(meta ? { meta } : {}) };
  switch (req.op) {
    case "get":
      return { reply: { ...base, value: current } };
    case "put":
      return { reply: base, write: { key: req.key, value: req.value! } };
    case "delete":
      return { reply: base, write: { key: req.key, value: null } };
    case "cas": {
      const swapped = current === (req.expected ?? null);
      return swapped
        ? { reply: { ...base, swapped }, write: { key: req.key, value: req.value! } }
        : { reply: { ...base, swapped } };
    }
  }
}

/** What the reference engine promises: everything, since it has one copy and applies requests in order. */
export const MEMORY_SUPPORTS: Supports = {
  ...NOTHING,
  linearizable: true,
  sequential: true,
  causal: true,
  causalConvergence: true,
  readYourWrites: true,
  monotonicReads: true,
  monotonicWrites: true,
  writesFollowReads: true,
  convergence: true,
  noLostWrites: true,
  casAtomic: true,
  conflicts: "none",
  availability: "leader",
};

/** memoryEngine registers MemoryCore with the simulator and CLI (always one node). */
export const memoryEngine: EngineDefinition<never> = {
  name: "memory",
  description: "one-node reference engine: a map applied in arrival order (the baseline)",
  options: [],
  defaultNodes: 1,
  maxNodes: 1,
  create: (init) => new MemoryCore(init),
  supports: () => MEMORY_SUPPORTS,
};

/**
 * MemoryStore is the reference KvStore: a MemoryCore driven in-process. Nothing is durable across instances
 * unless `records` from an earlier instance's `records()` are passed in.
 */
export class MemoryStore implements KvStore {
  private readonly core: MemoryCore;
  private readonly durable = new Map<string, unknown>();
  private closed = false;
  private nextId = 0;

  constructor(options: { id?: string; records?: ReadonlyMap<string, unknown> } = {}) {
    for (const [k, v] of options.records ?? []) this.durable.set(k, v);
    this.core = new MemoryCore({ id: options.id ?? "memory", records: this.durable });
  }

  /** records returns the durable records, as a restart would read them. */
  records(): ReadonlyMap<string, unknown> {
    return new Map(this.durable);
  }

  private run(op: KvOp, req: Omit<ClientRequest, "id" | "op">): ClientReply {
    if (this.closed) throw new KvError("KV_CLOSED", "store is closed");
    const id = String(++this.nextId);
    this.core.request({ id, op, ...req });
    const r = this.core.ready();
    for (const p of r.persist) {
      if (p.type === "put") this.durable.set(p.key, p.value);
      else this.durable.delete(p.key);
    }
    const reply = r.replies.find((x) => x.id === id);
    if (!reply) throw new Error("MemoryCore produced no reply");
    return reply;
  }

  async get(key: string, options?: RequestOptions): Promise<GetResult> {
    return toResult("get", this.run("get", withOptions({ key }, options)));
  }

  async put(key: string, value: string, options?: RequestOptions): Promise<WriteResult> {
    return toResult("put", this.run("put", withOptions({ key, value }, options)));
  }

  async delete(key: string, options?: RequestOptions): Promise<WriteResult> {
    return toResult("delete", this.run("delete", withOptions({ key }, options)));
  }

  async cas(
    key: string,
    expected: string | null,
    value: string,
    options?: RequestOptions,
  ): Promise<CasResult> {
    return toResult("cas", this.run("cas", withOptions({ key, expected, value }, options)));
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function withOptions<T extends object>(
  req: T,
  options: RequestOptions | undefined,
): T & { options?: RequestOptions } {
  return options === undefined ? req : { ...req, options };
}
