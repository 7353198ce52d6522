import type { NodeId } from "../types.js";

/**
 * VersionVector maps each node to the number of its events seen (Parker et al. 1983; Mattern 1989). A missing entry
 * means 0; functions here never store zero entries, so two equal vectors are also deep-equal as objects.
 * Plain data: survives structuredClone and JSON round trips.
 */
export type VersionVector = Record<NodeId, number>;

/** Ordering is how two vectors relate in the partial order of causality. */
export type Ordering = "before" | "after" | "equal" | "concurrent";

/** vvNew returns the empty vector (no events). */
export function vvNew(): VersionVector {
  return {};
}

/** vvGet returns the counter of `node` in `vv` (0 when absent). */
export function vvGet(vv: VersionVector, node: NodeId): number {
  return Object.hasOwn(vv, node) ? vv[node]! : 0;
}

/** vvIncrement returns a copy of `vv` with `node`'s counter advanced by one (a new event at `node`). */
export function vvIncrement(vv: VersionVector, node: NodeId): VersionVector {
  return vvSet({ ...vv }, node, vvGet(vv, node) + 1);
}

/**
 * vvSet sets `node`'s counter in place and returns `vv`; a zero counter removes the entry. Use it only on a vector
 * the caller owns.
 */
export function vvSet(vv: VersionVector, node: NodeId, counter: number): VersionVector {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new TypeError(`vvSet: bad counter ${counter}`);
  // A node id that is an Object.prototype key would corrupt plain-object lookups.
  if (node === "__proto__") throw new TypeError("vvSet: node id __proto__ is not allowed");
  if (counter === 0) delete vv[node];
  else vv[node] = counter;
  return vv;
}

/** vvMerge returns the join (entry-wise max) of two vectors: the least vector that dominates both. */
export function vvMerge(a: VersionVector, b: VersionVector): VersionVector {
  const out: VersionVector = { ...a };
  for (const [node, n] of Object.entries(b)) if (n > vvGet(out, node)) out[node] = n;
  return out;
}

/** vvDominates is true when `a` has seen everything `b` has (a ≥ b entry-wise; equal vectors dominate each other). */
export function vvDominates(a: VersionVector, b: VersionVector): boolean {
  for (const [node, n] of Object.entries(b)) if (vvGet(a, node) < n) return false;
  return true;
}

/** vvCompare relates `a` to `b`: "before" when a < b, "after" when a > b, "equal", or "concurrent". */
export function vvCompare(a: VersionVector, b: VersionVector): Ordering {
  const ab = vvDominates(a, b);
  const ba = vvDominates(b, a);
  if (ab && ba) return "equal";
  if (ab) return "after";
  if (ba) return "before";
  return "concurrent";
}

/** vvEquals is true when both vectors hold the same counters (absent = 0). */
export function vvEquals(a: VersionVector, b: VersionVector): boolean {
  return vvCompare(a, b) === "equal";
}

/** vvContainsDot is true when `vv` has seen event `counter` of `node`. */
export function vvContainsDot(vv: VersionVector, node: NodeId, counter: number): boolean {
  return vvGet(vv, node) >= counter;
}

/** vvSum is the total number of events a vector has seen; a cheap size/progress figure. */
export function vvSum(vv: VersionVector): number {
  let s = 0;
  for (const n of Object.values(vv)) s += n;
  return s;
}

/**
 * vvEncode renders a vector as a compact string, entries sorted by node id: `n1=3,n2=7`. Node ids are
 * percent-encoded so `=` and `,` inside them cannot be confused with separators. The result is JSON-safe and
 * canonical (equal vectors encode identically), so it can serve as an opaque token or a map key.
 */
export function vvEncode(vv: VersionVector): string {
  return Object.keys(vv)
    .filter((k) => vv[k]! > 0)
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${vv[k]}`)
    .join(",");
}

/** vvDecode parses what `vvEncode` produced. Throws TypeError on anything else (a token is untrusted input). */
export function vvDecode(s: string): VersionVector {
  if (typeof s !== "string") throw new TypeError("vvDecode: not a string");
  const out: VersionVector = {};
  if (s === "") return out;
  for (const part of s.split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) throw new TypeError(`vvDecode: bad entry ${JSON.stringify(part)}`);
    let node: string;
    try {
      node = decodeURIComponent(part.slice(0, i));
    } catch {
      throw new TypeError(`vvDecode: bad node id in ${JSON.stringify(part)}`);
    }
    const digits = part.slice(i + 1);
    if (!/^[1-9][0-9]*$/.test(digits))
      throw new TypeError(`vvDecode: bad counter in ${JSON.stringify(part)}`);
    const n = Number(digits);
    if (!Number.isSafeInteger(n))
      throw new TypeError(`vvDecode: counter too large in ${JSON.stringify(part)}`);
    if (Object.hasOwn(out, node)) throw new TypeError(`vvDecode: duplicate node ${JSON.stringify(node)}`);
    vvSet(out, node, n);
  }
  return out;
}
