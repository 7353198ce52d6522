import type { NodeId, PersistOp } from "@consistency-lab/kv";
import { isKeyState, type KeyState, mergeStates, stateDigest } from "./versioned.js";

/** HINT_PREFIX prefixes the record of each hinted copy a fallback holds. */
export const HINT_PREFIX = "h/";

/** Hint is a copy of a key held by a fallback for its owner, a primary that was unreachable (Dynamo §4.6). */
export interface Hint {
  owner: NodeId;
  key: string;
  state: KeyState;
  digest: string;
}

const hintId = (owner: NodeId, key: string) => JSON.stringify([owner, key]);

/**
 * Hints is a fallback node's store of hinted copies. A hint is removed only when its owner acknowledged the very
 * state it was sent (same digest), so a write that joined the hint while the handoff was in flight is handed
 * off again rather than dropped.
 */
export class Hints {
  readonly byId = new Map<string, Hint>();

  restore(records: ReadonlyMap<string, unknown>): void {
    for (const [k, v] of records) {
      if (!k.startsWith(HINT_PREFIX)) continue;
      const h = v as Partial<Hint>;
      if (typeof h !== "object" || h === null || typeof h.owner !== "string" || typeof h.key !== "string")
        continue;
      if (!isKeyState(h.state)) continue;
      this.byId.set(hintId(h.owner, h.key), {
        owner: h.owner,
        key: h.key,
        state: h.state,
        digest: stateDigest(h.state),
      });
    }
  }

  get size(): number {
    return this.byId.size;
  }

  get(owner: NodeId, key: string): KeyState | undefined {
    return this.byId.get(hintId(owner, key))?.state;
  }

  /** forKey joins every hinted copy of `key`, whoever it is held for: what a fallback answers a read with. */
  forKey(key: string): KeyState | undefined {
    let out: KeyState | undefined;
    for (const h of this.byId.values()) if (h.key === key) out = mergeStates(out, h.state);
    return out;
  }

  /** add joins a hinted copy and returns the persist op when it changed. */
  add(owner: NodeId, key: string, state: KeyState): PersistOp | undefined {
    const id = hintId(owner, key);
    const cur = this.byId.get(id);
    const next = mergeStates(cur?.state, state)!;
    const digest = stateDigest(next);
    if (cur !== undefined && cur.digest === digest) return undefined;
    const h: Hint = { owner, key, state: next, digest };
    this.byId.set(id, h);
    return { type: "put", key: HINT_PREFIX + id, value: { owner, key, state: next } };
  }

  /** delivered removes a hint its owner acknowledged, unless it changed since it was sent. */
  delivered(owner: NodeId, key: string, digest: string): PersistOp | undefined {
    const id = hintId(owner, key);
    const cur = this.byId.get(id);
    if (cur === undefined || cur.digest !== digest) return undefined;
    this.byId.delete(id);
    return { type: "del", key: HINT_PREFIX + id };
  }

  /** due lists the hints whose owner `isLive` says is reachable again, in a stable order. */
  due(isLive: (n: NodeId) => boolean): Hint[] {
    return [...this.byId.values()]
      .filter((h) => isLive(h.owner))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.owner < b.owner ? -1 : 1));
  }
}
