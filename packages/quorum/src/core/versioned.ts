import {
  type DvvSet,
  dvvDiscard,
  dvvJoin,
  dvvNew,
  dvvSize,
  dvvSync,
  dvvUpdate,
  dvvValues,
  type HlcStamp,
  hashString,
  hlcCompareStamps,
  isDvvSet,
  isHlcTimestamp,
  utf8Bytes,
  type VersionVector,
  vvDecode,
  vvEncode,
} from "@consistency-lab/kv";

/** Payload is what a write stored: a value, or null for a delete's tombstone. */
export type Payload = string | null;

/** SiblingsState is a key's replica state in siblings mode: a DVV set whose values may be tombstones. */
export interface SiblingsState {
  t: "s";
  set: DvvSet<Payload>;
}

/** LwwState is a key's replica state in LWW mode: the one write with the greatest HLC stamp. */
export interface LwwState {
  t: "l";
  stamp: HlcStamp;
  value: Payload;
}

/** KeyState is what a replica stores for a key, in either conflict mode. Plain data, never mutated in place. */
export type KeyState = SiblingsState | LwwState;

/** stateBytes bounds a key's state's encoded size from above: its values in UTF-8 plus clocks and framing. */
export function stateBytes(key: string, s: KeyState): number {
  let n = 64 + utf8Bytes(key);
  if (s.t === "l") return n + (s.value === null ? 0 : utf8Bytes(s.value));
  for (const [node, , values] of s.set.entries) {
    n += 32 + 3 * node.length;
    for (const v of values) n += 8 + (v === null ? 0 : utf8Bytes(v));
  }
  return n;
}

/** emptySiblings is the state of a key nobody wrote. */
export function emptySiblings(): SiblingsState {
  return { t: "s", set: dvvNew() };
}

/**
 * mergeStates joins two replicas' states of a key. Siblings: DVV sync keeps every value no side has seen
 * superseded (Preguiça et al. 2010). LWW: the greater stamp wins, ties broken by node id, so replicas agree.
 * Both are joins (commutative, associative, idempotent), which is what lets read repair, hinted handoff and
 * anti-entropy apply in any order and still converge.
 */
export function mergeStates(a: KeyState | undefined, b: KeyState | undefined): KeyState | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.t === "s" && b.t === "s") return { t: "s", set: dvvSync(a.set, b.set) };
  if (a.t === "l" && b.t === "l") return hlcCompareStamps(a.stamp, b.stamp) >= 0 ? a : b;
  // A cluster never mixes modes; a record from the other mode is ignored rather than corrupting the key.
  return a;
}

/** writeSiblings is a client write at coordinator `actor` with causal context `context` (dvvset update). */
export function writeSiblings(
  base: SiblingsState,
  context: VersionVector,
  actor: string,
  value: Payload,
): SiblingsState {
  return { t: "s", set: dvvUpdate(base.set, context, actor, value) };
}

/** liveValues lists a state's values without tombstones, in the DVV set's deterministic order. */
export function liveValues(s: KeyState | undefined): string[] {
  if (s === undefined) return [];
  if (s.t === "l") return s.value === null ? [] : [s.value];
  return dvvValues(s.set).filter((v): v is string => v !== null);
}

/** siblingCount counts the stored versions a state holds, tombstones included. */
export function siblingCount(s: KeyState): number {
  return s.t === "l" ? 1 : dvvSize(s.set);
}

/** hasTombstonesOnly is true when a state holds versions and every one of them is a delete. */
export function hasTombstonesOnly(s: KeyState): boolean {
  if (s.t === "l") return s.value === null;
  const vs = dvvValues(s.set);
  return vs.length > 0 && vs.every((v) => v === null);
}

/**
 * reapSiblings drops a dead key's tombstones but keeps its causal context, so any older value that arrives later
 * (a late hint, a replica that missed the delete) is recognised as superseded and never comes back. The
 * context is a version vector of the coordinators, so what stays behind is a few numbers per deleted key.
 */
export function reapSiblings(s: SiblingsState): SiblingsState {
  return { t: "s", set: dvvDiscard(s.set, dvvJoin(s.set)) };
}

/** stateDigest is a stable fingerprint of a state, for read repair and Merkle leaves. */
export function stateDigest(s: KeyState | undefined): string {
  if (s === undefined) return "0";
  const text = JSON.stringify(s.t === "l" ? [s.stamp.l, s.stamp.c, s.stamp.node, s.value] : s.set.entries);
  return (
    hashString(text).toString(16).padStart(8, "0") +
    hashString(text, 0x9747b28c).toString(16).padStart(8, "0")
  );
}

/** encodeContext renders the opaque causal context a get or put returns. */
export function encodeContext(s: KeyState | undefined, mode: "siblings" | "lww"): string {
  if (mode === "lww") return s?.t === "l" ? `l:${s.stamp.l}.${s.stamp.c}` : "l:0.0";
  return `s:${s?.t === "s" ? vvEncode(dvvJoin(s.set)) : ""}`;
}

/** DecodedContext is a client's context: a version vector (siblings) or the newest stamp it saw (LWW). */
export type DecodedContext = { t: "s"; vv: VersionVector } | { t: "l"; l: number; c: number };

/** decodeContext parses a context token; a token that is not one of ours throws TypeError (untrusted input). */
export function decodeContext(token: string): DecodedContext {
  if (token.startsWith("s:")) return { t: "s", vv: vvDecode(token.slice(2)) };
  const m = /^l:(\d{1,15})\.(\d{1,15})$/.exec(token);
  if (m) return { t: "l", l: Number(m[1]), c: Number(m[2]) };
  throw new TypeError("not a quorum context");
}

/** isKeyState checks untrusted data (a peer message or a record) for the shape of a KeyState. */
export function isKeyState(x: unknown): x is KeyState {
  if (typeof x !== "object" || x === null) return false;
  const s = x as KeyState;
  const isPayload = (v: unknown) => v === null || typeof v === "string";
  if (s.t === "s") return isDvvSet(s.set, isPayload);
  if (s.t === "l") return isHlcTimestamp(s.stamp) && typeof s.stamp.node === "string" && isPayload(s.value);
  return false;
}
