/**
 * Replication batches bounded in bytes as well as entries.
 *
 * Every peer message travels as one transport frame, and the transport refuses a frame over its limit (transport-ws
 * DEFAULTS.maxPeerMessage, 2 MiB: the sender drops a larger one, as the simulator does). A
 * catch-up batch counted in entries alone is unbounded in bytes: 64 entries of 64 KiB is 4 MiB, never delivered, and
 * the lagging replica never converges. Every engine takes its batches through `takeBatch`.
 */

/** MAX_MESSAGE_BYTES is the largest message between nodes (transport-ws DEFAULTS.maxPeerMessage). */
export const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

/**
 * BATCH_BYTES is the default byte budget of one replication batch. A batch holds at most BATCH_BYTES, or a single
 * entry when that entry alone is larger, so with values up to LIMITS.maxValueBytes (1 MiB) every batch stays
 * under MAX_MESSAGE_BYTES with room for the keys, metadata and envelope.
 */
export const BATCH_BYTES = 256 * 1024;

/** BatchLimits bounds one batch. */
export interface BatchLimits<T> {
  /** Entries at most (default unbounded). */
  maxEntries?: number;
  /** Bytes at most, as measured by `sizeOf`, unless a single entry is larger (default BATCH_BYTES). */
  maxBytes?: number;
  /** An entry's size on the wire, an upper bound is fine (see `utf8Bytes` for strings). */
  sizeOf: (entry: T) => number;
  /** Index of the first entry to take when `entries` is an array (default 0). */
  start?: number;
  /**
   * Whether the first entry is taken even when it is over the byte budget (default true), so an entry larger than
   * the budget still goes, alone. False when the caller adds to a batch that already holds something.
   */
  atLeastOne?: boolean;
}

/** Batch is what `takeBatch` took. */
export interface Batch<T> {
  entries: T[];
  /** Sum of `sizeOf` over `entries`. */
  bytes: number;
  /** True when entries were left behind because a limit was reached (the receiver is still behind). */
  full: boolean;
}

/**
 * takeBatch takes entries in order from `entries` (from index `start` of an array, or an iterable, read lazily)
 * until the next one would pass `maxEntries` or `maxBytes`. The first entry is always taken (unless `atLeastOne`
 * is false), so an entry larger than the budget is sent alone rather than never.
 *
 * Invariant: `bytes <= maxBytes || entries.length <= 1`.
 */
export function takeBatch<T>(entries: readonly T[] | Iterable<T>, limits: BatchLimits<T>): Batch<T> {
  const maxEntries = limits.maxEntries ?? Number.POSITIVE_INFINITY;
  const maxBytes = limits.maxBytes ?? BATCH_BYTES;
  const atLeastOne = limits.atLeastOne ?? true;
  const out: T[] = [];
  let bytes = 0;
  const source = Array.isArray(entries)
    ? fromIndex(entries as readonly T[], limits.start ?? 0)
    : (entries as Iterable<T>);
  for (const e of source) {
    if (out.length >= maxEntries) return { entries: out, bytes, full: true };
    const size = limits.sizeOf(e);
    if (bytes + size > maxBytes && (out.length > 0 || !atLeastOne))
      return { entries: out, bytes, full: true };
    out.push(e);
    bytes += size;
  }
  return { entries: out, bytes, full: false };
}

function* fromIndex<T>(entries: readonly T[], start: number): Generator<T> {
  for (let i = Math.max(0, start); i < entries.length; i++) yield entries[i]!;
}
