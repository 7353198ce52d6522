import type { NodeId } from "../types.js";
import { type VersionVector, vvGet } from "./version-vector.js";

/**
 * DvvEntry is one node's part of a DVV set: `[node, counter, values]`. `counter` is the number of events of
 * `node` the clock has seen; `values` holds the still-live values written at the newest dots of `node`, newest
 * first: values[0] has dot (node, counter), values[1] has dot (node, counter - 1), and so on.
 *
 * Invariant: values.length <= counter. The live dots of a node are always a suffix of its events because contexts
 * are version vectors (downward closed): a context that covers dot k of a node covers every dot below k too.
 */
export type DvvEntry<V> = [node: NodeId, counter: number, values: V[]];

/**
 * DvvSet is a per-key clock with its siblings: a compact dotted version vector set (Preguiça, Baquero, Almeida,
 * Fonte, Gonçalves, "Dotted Version Vectors: Logical Clocks for Optimistic Replication", 2010; Almeida et al.,
 * "Scalable and Accurate Causality Tracking for Eventually Consistent Stores", DAIS 2014, the design of Riak's
 * dvvset). Entries are sorted by node id, and a node appears only once, so the size is bounded by the number of
 * nodes that coordinated writes, never by the number of clients.
 *
 * A DvvSet is an immutable value: every function returns a new one. Plain data (JSON and structuredClone safe as
 * long as V is).
 */
export interface DvvSet<V> {
  entries: DvvEntry<V>[];
}

/** DvvDot names one write: event `counter` of `node`. */
export interface DvvDot {
  node: NodeId;
  counter: number;
}

/** dvvNew returns an empty set: no values, empty causal context. */
export function dvvNew<V>(): DvvSet<V> {
  return { entries: [] };
}

/** dvvJoin returns the causal context of a set: the version vector of every event it has seen (live or not). */
export function dvvJoin<V>(set: DvvSet<V>): VersionVector {
  const out: VersionVector = {};
  for (const [node, counter] of set.entries) if (counter > 0) out[node] = counter;
  return out;
}

/** dvvValues returns the siblings: every live value, ordered by node id, then newest first. */
export function dvvValues<V>(set: DvvSet<V>): V[] {
  const out: V[] = [];
  for (const [, , values] of set.entries) out.push(...values);
  return out;
}

/** dvvDots returns every live value with its dot, in the order of `dvvValues`. */
export function dvvDots<V>(set: DvvSet<V>): { dot: DvvDot; value: V }[] {
  const out: { dot: DvvDot; value: V }[] = [];
  for (const [node, counter, values] of set.entries) {
    for (const [i, value] of values.entries()) out.push({ dot: { node, counter: counter - i }, value });
  }
  return out;
}

/** dvvSize returns the number of siblings (live values). */
export function dvvSize<V>(set: DvvSet<V>): number {
  let n = 0;
  for (const [, , values] of set.entries) n += values.length;
  return n;
}

/**
 * dvvDiscard drops every value whose dot `context` covers and raises each counter to at least the context's,
 * so the result's causal context covers `context` (dvvset `discard`). It is what a write with `context` does to
 * the siblings before adding its own value.
 */
export function dvvDiscard<V>(set: DvvSet<V>, context: VersionVector): DvvSet<V> {
  const byNode = new Map<NodeId, DvvEntry<V>>();
  for (const [node, counter, values] of set.entries) {
    const seen = vvGet(context, node);
    // Dots counter, counter-1, … are live; those <= seen are now obsolete.
    const keep = Math.max(0, Math.min(values.length, counter - seen));
    byNode.set(node, [node, Math.max(counter, seen), values.slice(0, keep)]);
  }
  for (const [node, n] of Object.entries(context)) {
    if (n > 0 && !byNode.has(node)) byNode.set(node, [node, n, []]);
  }
  return { entries: sortEntries([...byNode.values()]) };
}

/**
 * dvvEvent adds `value` as a new write coordinated by `node`, at the next dot of `node` (dvvset `event`).
 * The coordinator must hold the newest counter for itself on this key, which holds when every write of this key at
 * `node` goes through `node`'s own stored set.
 */
export function dvvEvent<V>(set: DvvSet<V>, node: NodeId, value: V): DvvSet<V> {
  if (node === "__proto__") throw new TypeError("dvvEvent: node id __proto__ is not allowed");
  const entries = set.entries.map((e): DvvEntry<V> => [e[0], e[1], e[2]]);
  const i = entries.findIndex((e) => e[0] === node);
  if (i >= 0) {
    const [, counter, values] = entries[i]!;
    entries[i] = [node, counter + 1, [value, ...values]];
  } else {
    entries.push([node, 1, [value]]);
  }
  return { entries: sortEntries(entries) };
}

/**
 * dvvUpdate is a client write at coordinator `node` with the causal context the client read (`context`; empty for
 * a blind write): it supersedes exactly the siblings `context` covers, keeps every concurrent one, and adds
 * `value` at a fresh dot (dvvset `update/3` = discard then event).
 */
export function dvvUpdate<V>(set: DvvSet<V>, context: VersionVector, node: NodeId, value: V): DvvSet<V> {
  return dvvEvent(dvvDiscard(set, context), node, value);
}

/**
 * dvvSync merges two replicas' sets: a value survives when it is live in every set that has seen its dot, so
 * obsolete siblings disappear and concurrent ones are kept (dvvset `sync`). It is a join: commutative,
 * associative and idempotent.
 */
export function dvvSync<V>(a: DvvSet<V>, b: DvvSet<V>): DvvSet<V> {
  const out: DvvEntry<V>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.entries.length || j < b.entries.length) {
    const ea = a.entries[i];
    const eb = b.entries[j];
    if (eb === undefined || (ea !== undefined && ea[0] < eb[0])) {
      out.push([ea![0], ea![1], ea![2].slice()]);
      i++;
    } else if (ea === undefined || eb[0] < ea[0]) {
      out.push([eb[0], eb[1], eb[2].slice()]);
      j++;
    } else {
      out.push(mergeEntry(ea, eb));
      i++;
      j++;
    }
  }
  return { entries: out };
}

/**
 * mergeEntry keeps the dots live in both views of one node. With counters n1 >= n2, the live dots are
 * (n1 - l1, n1] from the newer side intersected with everything the older side has not made obsolete,
 * (n2 - l2, ∞): that is the newest min(l1, n1 - n2 + l2) values of the newer side.
 */
function mergeEntry<V>(x: DvvEntry<V>, y: DvvEntry<V>): DvvEntry<V> {
  const [hi, lo] = x[1] >= y[1] ? [x, y] : [y, x];
  const keep = Math.min(hi[2].length, hi[1] - lo[1] + lo[2].length);
  return [hi[0], hi[1], hi[2].slice(0, Math.max(0, keep))];
}

/** dvvLess is true when everything `a` has seen, `b` has seen too, and `b` has seen more (a strictly before b). */
export function dvvLess<V>(a: DvvSet<V>, b: DvvSet<V>): boolean {
  let strictly = false;
  const bj = dvvJoin(b);
  for (const [node, counter] of a.entries) {
    if (counter > vvGet(bj, node)) return false;
  }
  const aj = dvvJoin(a);
  for (const [node, counter] of b.entries) if (counter > vvGet(aj, node)) strictly = true;
  return strictly;
}

/** dvvEquals is true when both sets have the same context and the same live dots (values are not compared). */
export function dvvEquals<V>(a: DvvSet<V>, b: DvvSet<V>): boolean {
  if (a.entries.length !== b.entries.length) return false;
  return a.entries.every((e, i) => {
    const f = b.entries[i]!;
    return e[0] === f[0] && e[1] === f[1] && e[2].length === f[2].length;
  });
}

/** dvvMap applies `f` to every live value, keeping dots (e.g. to strip payloads for a digest). */
export function dvvMap<V, W>(set: DvvSet<V>, f: (v: V) => W): DvvSet<W> {
  return {
    entries: set.entries.map(([node, counter, values]): DvvEntry<W> => [node, counter, values.map(f)]),
  };
}

/** isDvvSet checks that untrusted data (a peer message, a record) has the shape and invariants of a DvvSet. */
export function isDvvSet(x: unknown, isValue: (v: unknown) => boolean = () => true): x is DvvSet<unknown> {
  if (typeof x !== "object" || x === null || !Array.isArray((x as DvvSet<unknown>).entries)) return false;
  let prev: string | undefined;
  for (const e of (x as DvvSet<unknown>).entries) {
    if (!Array.isArray(e) || e.length !== 3) return false;
    const [node, counter, values] = e as unknown[];
    if (typeof node !== "string" || node === "__proto__") return false;
    if (prev !== undefined && !(prev < node)) return false;
    if (!Number.isSafeInteger(counter) || (counter as number) < 0) return false;
    if (!Array.isArray(values) || values.length > (counter as number) || !values.every(isValue)) return false;
    prev = node;
  }
  return true;
}

function sortEntries<V>(entries: DvvEntry<V>[]): DvvEntry<V>[] {
  return entries.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}
