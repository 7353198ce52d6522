import type { PersistOp } from "@consistency-lab/kv";
import {
  hasTombstonesOnly,
  isKeyState,
  type KeyState,
  mergeStates,
  reapSiblings,
  stateDigest,
} from "./versioned.js";

/** KEY_PREFIX prefixes the record of each key this node is a primary replica of. */
export const KEY_PREFIX = "k/";

/** ReplicaEntry is one key at one replica: its state, the state's digest, and since when it is only tombstones. */
export interface ReplicaEntry {
  state: KeyState;
  digest: string;
  /** Local time the key became deleted (tombstones only); the reap delay counts from here. */
  deadSince?: number;
}

/**
 * Replica is a node's own copy of the keys it is a primary for. Every change is joined (never overwritten), and
 * is returned as a persist op so the core can make it durable before acknowledging it.
 */
export class Replica {
  readonly entries = new Map<string, ReplicaEntry>();
  /** Keys holding only tombstones: the reaper visits these, not every key, on each tick. */
  private readonly dead = new Set<string>();

  /** restore rebuilds the replica from its records; malformed records are skipped, not trusted. */
  restore(records: ReadonlyMap<string, unknown>): void {
    for (const [k, v] of records) {
      if (!k.startsWith(KEY_PREFIX)) continue;
      const rec = v as { state?: unknown; deadSince?: unknown };
      if (typeof rec !== "object" || rec === null || !isKeyState(rec.state)) continue;
      const e: ReplicaEntry = { state: rec.state, digest: stateDigest(rec.state) };
      const key = k.slice(KEY_PREFIX.length);
      if (typeof rec.deadSince === "number" && hasTombstonesOnly(rec.state)) {
        e.deadSince = rec.deadSince;
        this.dead.add(key);
      }
      this.entries.set(key, e);
    }
  }

  get(key: string): KeyState | undefined {
    return this.entries.get(key)?.state;
  }

  digest(key: string): string {
    return this.entries.get(key)?.digest ?? stateDigest(undefined);
  }

  /**
   * merge joins `incoming` into the key and returns the persist op when the state changed. `now` stamps the start
   * of the reap delay when the key becomes deleted.
   */
  merge(key: string, incoming: KeyState, now: number): PersistOp | undefined {
    const cur = this.entries.get(key);
    const next = mergeStates(cur?.state, incoming)!;
    return this.set(key, next, now, cur);
  }

  /** overwrite replaces the key's state. Only the broken read-repair variant uses it: it can lose writes. */
  overwrite(key: string, state: KeyState, now: number): PersistOp | undefined {
    return this.set(key, state, now, this.entries.get(key));
  }

  private set(
    key: string,
    next: KeyState,
    now: number,
    cur: ReplicaEntry | undefined,
  ): PersistOp | undefined {
    const digest = stateDigest(next);
    if (cur !== undefined && cur.digest === digest) return undefined;
    const e: ReplicaEntry = { state: next, digest };
    if (hasTombstonesOnly(next)) {
      e.deadSince = cur?.deadSince ?? now;
      this.dead.add(key);
    } else {
      this.dead.delete(key);
    }
    this.entries.set(key, e);
    return this.record(key, e);
  }

  /**
   * reap drops the tombstones of keys deleted at least `delayMs` ago (siblings mode). The key keeps its causal
   * context, so a late copy of a deleted value is recognised as superseded and does not come back (the failure
   * behind Riak's delete_mode and Cassandra's gc_grace "zombies", engines.md §4.2). LWW keys keep their tombstone
   * stamp for the same reason: without it an older write would win again.
   */
  reap(now: number, delayMs: number): PersistOp[] {
    const out: PersistOp[] = [];
    for (const key of [...this.dead]) {
      const e = this.entries.get(key);
      if (e === undefined || e.deadSince === undefined || e.state.t !== "s") {
        this.dead.delete(key);
        continue;
      }
      if (now - e.deadSince < delayMs) continue;
      this.dead.delete(key);
      const state = reapSiblings(e.state);
      const next: ReplicaEntry = { state, digest: stateDigest(state) };
      this.entries.set(key, next);
      out.push(this.record(key, next));
    }
    return out;
  }

  private record(key: string, e: ReplicaEntry): PersistOp {
    const value: { state: KeyState; deadSince?: number } = { state: e.state };
    if (e.deadSince !== undefined) value.deadSince = e.deadSince;
    return { type: "put", key: KEY_PREFIX + key, value };
  }
}
