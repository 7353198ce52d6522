import type { NodeId } from "../types.js";

/**
 * HlcTimestamp is a hybrid logical clock reading (Kulkarni, Demirbas, Madeppa, Avva, Leone, "Logical Physical
 * Clocks", OPODIS 2014): `l` is the largest physical time (ms) heard of, `c` counts events that share that `l`.
 */
export interface HlcTimestamp {
  l: number;
  c: number;
}

/** HlcStamp is a timestamp with the node that issued it; `hlcCompareStamps` orders them totally (for LWW). */
export interface HlcStamp extends HlcTimestamp {
  node: NodeId;
}

/** HybridLogicalClock is a node's HLC state: the last timestamp it issued. Plain data, mutated in place. */
export interface HybridLogicalClock {
  l: number;
  c: number;
}

/** hlcNew returns a clock that has issued nothing yet. */
export function hlcNew(): HybridLogicalClock {
  return { l: 0, c: 0 };
}

/**
 * hlcNow issues a timestamp for a local or send event at physical time `physical` (Kulkarni et al. Fig. 5,
 * "send or local event"). It is greater than every timestamp this clock issued or received, even when `physical`
 * went backwards, and its `l` is at least `physical`.
 */
export function hlcNow(clock: HybridLogicalClock, physical: number): HlcTimestamp {
  physical = checkTime(physical);
  const l = Math.max(clock.l, physical);
  clock.c = l === clock.l ? clock.c + 1 : 0;
  clock.l = l;
  return { l: clock.l, c: clock.c };
}

/**
 * hlcReceive issues the timestamp of receiving a message stamped `remote` at physical time `physical`
 * (Kulkarni et al. Fig. 5, "receive event of message m"). The result is greater than both `remote` and every
 * timestamp this clock issued before.
 */
export function hlcReceive(clock: HybridLogicalClock, remote: HlcTimestamp, physical: number): HlcTimestamp {
  physical = checkTime(physical);
  if (!isHlcTimestamp(remote)) throw new TypeError("hlcReceive: bad remote timestamp");
  const l = Math.max(clock.l, remote.l, physical);
  let c: number;
  if (l === clock.l && l === remote.l) c = Math.max(clock.c, remote.c) + 1;
  else if (l === clock.l) c = clock.c + 1;
  else if (l === remote.l) c = remote.c + 1;
  else c = 0;
  clock.l = l;
  clock.c = c;
  return { l, c };
}

/** hlcCompare orders timestamps by `l`, then `c`: -1, 0 or 1. Causally later events compare greater. */
export function hlcCompare(a: HlcTimestamp, b: HlcTimestamp): -1 | 0 | 1 {
  if (a.l !== b.l) return a.l < b.l ? -1 : 1;
  if (a.c !== b.c) return a.c < b.c ? -1 : 1;
  return 0;
}

/**
 * hlcCompareStamps orders stamps totally: by timestamp, then by node id. Two nodes can issue the same {l, c}; the
 * node id breaks the tie the same way on every replica, which is what last-writer-wins needs to converge.
 */
export function hlcCompareStamps(a: HlcStamp, b: HlcStamp): -1 | 0 | 1 {
  const t = hlcCompare(a, b);
  if (t !== 0) return t;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}

/** isHlcTimestamp checks untrusted data for the shape of a timestamp. */
export function isHlcTimestamp(x: unknown): x is HlcTimestamp {
  if (typeof x !== "object" || x === null) return false;
  const { l, c } = x as HlcTimestamp;
  return Number.isSafeInteger(l) && l >= 0 && Number.isSafeInteger(c) && c >= 0;
}

/** checkTime validates a physical reading and truncates it to whole ms, so timestamps stay integers. */
function checkTime(physical: number): number {
  if (!Number.isFinite(physical) || physical < 0) throw new TypeError(`hlc: bad physical time ${physical}`);
  return Math.floor(physical);
}
