import type { PersistOp } from "@consistency-lab/kv";

/**
 * Storage is where a node keeps the records its engine core asked to persist (ARCHITECTURE §2).
 *
 * Contract (the storage suite checks it for every backend):
 * - `open()` loads and returns every record; a restart is "construct the core from these records".
 * - `apply(ops)` applies one Ready's persist list as ONE atomic batch, in list order, and resolves only once the
 *   batch is durable — the node releases sends and replies that depend on it only after that.
 * - `close()` releases the backend; `apply` after `close` rejects with KV_CLOSED. A closed storage may be opened again.
 * - Values are JSON data; what comes back from `open()` equals what was written, after a JSON round trip.
 * - Failures to open (corrupt, locked, newer format) reject with KvError code KV_STORAGE.
 */
export interface Storage {
  open(): Promise<ReadonlyMap<string, unknown>>;
  apply(ops: readonly PersistOp[]): Promise<void>;
  close(): Promise<void>;
}

/** encodeValue JSON-encodes a record value, throwing TypeError for values JSON cannot carry (a core bug). */
export function encodeValue(key: string, value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) throw new TypeError(`record ${JSON.stringify(key)}: value is not JSON-serialisable`);
  return s;
}

/** validateOps throws TypeError for a malformed persist list (programming mistakes, not conditions). */
export function validateOps(ops: readonly PersistOp[]): void {
  if (!Array.isArray(ops)) throw new TypeError("apply: ops must be an array");
  for (const op of ops) {
    if (typeof op !== "object" || op === null || typeof op.key !== "string") {
      throw new TypeError("apply: every op needs a string key");
    }
    if (op.type !== "put" && op.type !== "del")
      throw new TypeError(`apply: unknown op type ${String((op as { type?: unknown }).type)}`);
  }
}
