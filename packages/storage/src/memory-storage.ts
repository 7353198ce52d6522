import { KvError, type PersistOp } from "@consistency-lab/kv";
import { encodeValue, type Storage, validateOps } from "./storage.js";

/**
 * MemoryStorage keeps records in a Map: nothing survives the process. Pass the same `backing` map to a new
 * MemoryStorage to model a restart of the same node within one process (tests, in-process clusters).
 * Values are stored JSON-encoded, so a core that persists something JSON cannot carry fails here just as it
 * would on LevelStorage.
 */
export class MemoryStorage implements Storage {
  private readonly backing: Map<string, string>;
  private isOpen = false;

  constructor(backing: Map<string, string> = new Map()) {
    this.backing = backing;
  }

  async open(): Promise<ReadonlyMap<string, unknown>> {
    this.isOpen = true;
    const out = new Map<string, unknown>();
    for (const [k, v] of this.backing) out.set(k, JSON.parse(v));
    return out;
  }

  async apply(ops: readonly PersistOp[]): Promise<void> {
    validateOps(ops);
    if (!this.isOpen) throw new KvError("KV_CLOSED", "storage is not open");
    // Encode everything first so a bad value leaves the batch unapplied (atomicity).
    const encoded = ops.map((op) => (op.type === "put" ? encodeValue(op.key, op.value) : null));
    ops.forEach((op, i) => {
      if (op.type === "put") this.backing.set(op.key, encoded[i]!);
      else this.backing.delete(op.key);
    });
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }
}
