import { takeBatch, utf8Bytes } from "@consistency-lab/kv";
import type { Entry } from "./messages.js";

/**
 * RaftLog is the replicated log: a snapshot offset (everything up to `snapIndex` is compacted into the snapshot)
 * followed by the entries still held. It also tracks which entries are not yet handed to the disk, so the core
 * can emit `e/<index>` records and know what is stable.
 *
 * Invariants: snapIndex <= applied <= committed <= lastIndex(); stable <= lastIndex().
 */
export class RaftLog {
  snapIndex = 0;
  snapTerm = 0;
  entries: Entry[] = [];
  committed = 0;
  applied = 0;
  /** Entries <= stable have been handed to the driver in a persist batch (durable before anything that follows). */
  stable = 0;
  /** Lowest index rewritten since the last flush (Infinity when none). */
  dirtyFrom = Number.POSITIVE_INFINITY;
  /** Highest index with an `e/` record on disk, for deleting truncated suffixes. */
  persistedLast = 0;
  /**
   * Only in a core that does not keep Raft's safety properties (`RaftCore.keepsSafety`): overwrite a committed
   * entry instead of failing (the state machine diverges).
   */
  allowCommittedOverwrite = false;

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** term returns the term of the entry at `i`, or undefined when it is compacted or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.snapIndex) return this.snapTerm;
    if (i < this.snapIndex || i > this.lastIndex()) return undefined;
    return this.entries[i - this.snapIndex - 1]!.term;
  }

  entry(i: number): Entry | undefined {
    if (i <= this.snapIndex || i > this.lastIndex()) return undefined;
    return this.entries[i - this.snapIndex - 1];
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** isUpToDate: a candidate's log is at least as up-to-date as ours (Raft §5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * slice returns entries [lo, hi] (inclusive), capped by count and bytes (kv takeBatch: always at least one, so
   * a large entry still goes, alone).
   */
  slice(lo: number, hi: number, maxEntries: number, maxBytes: number): Entry[] {
    const from = Math.max(lo, this.firstIndex());
    const to = Math.min(hi, this.lastIndex());
    const entries = this.entries;
    const base = this.snapIndex + 1;
    function* range(): Generator<Entry> {
      for (let i = from; i <= to; i++) yield entries[i - base]!;
    }
    return takeBatch(range(), { maxEntries, maxBytes, sizeOf: entrySize }).entries;
  }

  /** append adds entries at the end (leader proposals). */
  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1)
        throw new Error(`raft log: append of ${e.index} after ${this.lastIndex()}`);
      this.entries.push(e);
      if (e.index < this.dirtyFrom) this.dirtyFrom = e.index;
    }
  }

  /**
   * maybeAppend is the follower side of AppendEntries (Raft §5.3): when the entry at prevIndex has prevTerm, drop
   * any conflicting suffix and append what is new. Returns the last index now known to match the leader, or null
   * when the consistency check fails.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | null {
    // Entries at or below the snapshot are committed and therefore identical to ours (Log Matching, §5.3).
    if (prevIndex < this.snapIndex) {
      const skip = this.snapIndex - prevIndex;
      if (skip > entries.length) return prevIndex + entries.length;
      prevTerm = skip === 0 ? prevTerm : entries[skip - 1]!.term;
      entries = entries.slice(skip);
      prevIndex = this.snapIndex;
      if (prevTerm !== this.snapTerm) return null;
    } else if (!this.matchTerm(prevIndex, prevTerm)) {
      return null;
    }
    const lastNew = prevIndex + entries.length;
    for (const e of entries) {
      const t = this.term(e.index);
      if (t === e.term) continue;
      if (t !== undefined) {
        // Raft §5.4 (Leader Completeness): a committed entry is never overwritten. Reaching here is a bug.
        if (e.index <= this.committed) {
          if (!this.allowCommittedOverwrite)
            throw new Error(`raft log: conflict at committed index ${e.index}`);
          this.committed = e.index - 1;
        }
        this.entries.length = e.index - this.snapIndex - 1;
        if (this.stable >= e.index) this.stable = e.index - 1;
      }
      this.append(entries.slice(e.index - entries[0]!.index));
      break;
    }
    return lastNew;
  }

  /**
   * findConflictByTerm returns the largest index <= `index` whose term is <= `term`, with its term: the fast
   * backtracking probe of etcd-io/raft. Returns term 0 when the term is unknown (compacted).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= this.snapIndex; i--) {
      const t = this.term(i);
      if (t === undefined) break;
      if (t <= term) return { index: i, term: t };
    }
    return { index: Math.min(index, this.snapIndex), term: 0 };
  }

  /** compact drops entries up to `index`, which a snapshot now covers. */
  compact(index: number): void {
    if (index <= this.snapIndex) return;
    const t = this.term(index);
    if (t === undefined) throw new Error(`raft log: compact to unknown index ${index}`);
    this.entries = this.entries.slice(index - this.snapIndex);
    this.snapIndex = index;
    this.snapTerm = t;
  }

  /** restoreSnapshot replaces the whole log by a snapshot (InstallSnapshot, Raft §7). */
  restoreSnapshot(index: number, term: number): void {
    this.entries = [];
    this.snapIndex = index;
    this.snapTerm = term;
    this.committed = index;
    this.applied = index;
    this.stable = index;
    this.dirtyFrom = Number.POSITIVE_INFINITY;
  }
}

/**
 * entrySize bounds an entry's wire size from above (strings in UTF-8 bytes, as msgpack sends them, not UTF-16
 * units: a value of 3-byte characters is three times its `length`), for batching and flow control.
 */
export function entrySize(e: Entry): number {
  const c = e.cmd;
  if (c.kind !== "kv") return 32;
  let n = 48 + utf8Bytes(c.key);
  if (c.value) n += utf8Bytes(c.value);
  if (c.expected) n += utf8Bytes(c.expected);
  if (c.session) n += 16 + 3 * c.session.clientId.length;
  return n;
}

/** entryKey is the record key of a log entry; zero-padded so records sort by index. */
export function entryKey(index: number): string {
  return `e/${index.toString().padStart(12, "0")}`;
}
