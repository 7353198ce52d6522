import { type DvvSet, dvvDots, isDvvSet } from "@consistency-lab/kv";

/**
 * StoredValue is one write of a key as a replica keeps it: the value (`null` for a delete tombstone) and the
 * Lamport time of the write. Every write gets a time above everything its node had applied, so the times order
 * writes consistently with causality (Lamport 1978); `resolve=lww` uses them to arbitrate between siblings.
 */
export interface StoredValue {
  v: string | null;
  t: number;
}

/** KeyClock is a key's state on a replica: its DVV set of stored values (siblings when concurrent). */
export type KeyClock = DvvSet<StoredValue>;

/** Resolve is how reads present concurrent writes: every sibling, or one winner by Lamport time and node id. */
export type Resolve = "siblings" | "lww";

/** isStoredValue checks a stored value from the wire or disk. */
export function isStoredValue(x: unknown): x is StoredValue {
  if (typeof x !== "object" || x === null) return false;
  const { v, t } = x as StoredValue;
  return (v === null || typeof v === "string") && Number.isSafeInteger(t) && t > 0;
}

/** isKeyClock checks a key clock from the wire or disk. */
export function isKeyClock(x: unknown): x is KeyClock {
  return isDvvSet(x, isStoredValue);
}

/** siblingValues lists a key's distinct live values, sorted so every replica answers alike; tombstones are dropped. */
export function siblingValues(clock: KeyClock): string[] {
  const out = new Set<string>();
  for (const { value } of dvvDots(clock)) if (value.v !== null) out.add(value.v);
  return [...out].sort();
}

/**
 * arbitrated picks the sibling with the highest (Lamport time, writer node): one total order every replica agrees
 * on and that extends causality, which is what causal convergence asks for (Bouajjani et al. POPL'17, CCv).
 * A winning tombstone means the key is absent.
 */
export function arbitrated(clock: KeyClock): string | null {
  let best: { t: number; node: string; v: string | null } | undefined;
  for (const { dot, value } of dvvDots(clock)) {
    if (best === undefined || value.t > best.t || (value.t === best.t && dot.node > best.node)) {
      best = { t: value.t, node: dot.node, v: value.v };
    }
  }
  return best?.v ?? null;
}

/** readView is what a read returns under `resolve`: the sorted siblings, or the one arbitrated value (or none). */
export function readView(clock: KeyClock, resolve: Resolve): string[] {
  if (resolve === "siblings") return siblingValues(clock);
  const v = arbitrated(clock);
  return v === null ? [] : [v];
}

/** maxTime is the highest Lamport time among a clock's live values (0 when none). */
export function maxTime(clock: KeyClock): number {
  let t = 0;
  for (const { value } of dvvDots(clock)) if (value.t > t) t = value.t;
  return t;
}
