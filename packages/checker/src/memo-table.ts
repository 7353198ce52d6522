import { hashString } from "./values.js";

/**
 * LinearizedSet is the set of ops already linearized, as a bitset over ops in call order (Uint32Array words),
 * with an incrementally maintained Zobrist hash so the memo table never rehashes the whole set.
 *
 * Memo entries store a window of the words only: every word below `lo` is all ones (ops linearized long ago) and
 * every word above `hi` is zero (ops not yet reached), so an entry costs the concurrency window, not the history
 * length — this is what keeps 100k-op single-key histories in tens of MB instead of gigabytes.
 */
export class LinearizedSet {
  readonly words: Uint32Array;
  readonly size: number;
  hash = 0;
  lo = 0;
  hi = -1;
  private readonly zobrist: Int32Array;

  constructor(size: number) {
    this.size = size;
    this.words = new Uint32Array(Math.max(1, Math.ceil(size / 32)));
    this.zobrist = new Int32Array(size);
    // xorshift32 with a fixed seed: reproducible hashes, no Math.random.
    let x = 0x9e3779b9;
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.zobrist[i] = x;
    }
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  set(i: number): void {
    const w = i >>> 5;
    this.words[w]! |= 1 << (i & 31);
    this.hash ^= this.zobrist[i]!;
    if (w > this.hi) this.hi = w;
    while (this.lo < this.words.length && this.words[this.lo] === 0xffffffff) this.lo++;
  }

  clear(i: number): void {
    const w = i >>> 5;
    this.words[w]! &= ~(1 << (i & 31));
    this.hash ^= this.zobrist[i]!;
    if (w < this.lo) this.lo = w;
    while (this.hi >= 0 && this.words[this.hi] === 0) this.hi--;
  }

  /** window copies the words between lo and hi (inclusive). */
  window(): Uint32Array {
    return this.hi < this.lo ? EMPTY : this.words.slice(this.lo, this.hi + 1);
  }

  /** sameWindow compares the live set with a stored window. */
  sameWindow(lo: number, win: Uint32Array): boolean {
    const len = this.hi < this.lo ? 0 : this.hi - this.lo + 1;
    if (lo !== this.lo || win.length !== len) return false;
    for (let i = 0; i < len; i++) if (win[i] !== this.words[lo + i]) return false;
    return true;
  }
}

const EMPTY = new Uint32Array(0);

interface Entry<S> {
  lo: number;
  /** Window length in words; up to two words are kept inline (a, b) to avoid a typed-array allocation. */
  len: number;
  a: number;
  b: number;
  win: Uint32Array | undefined;
  state: S;
  next: Entry<S> | undefined;
}

/**
 * MemoTable remembers (linearized set, model state) configurations already explored (Lowe 2017, "Testing for
 * linearizability"), with a budget on the words it holds so a hard history ends as `unknown` instead of exhausting
 * memory.
 */
export class MemoTable<S> {
  private readonly buckets = new Map<number, Entry<S>>();
  words = 0;
  entries = 0;

  constructor(
    private readonly hashState: (s: S) => number,
    private readonly equal: (a: S, b: S) => boolean,
  ) {}

  /** add records the configuration; false when it was already there. */
  add(set: LinearizedSet, state: S): boolean {
    const h = (set.hash ^ Math.imul(this.hashState(state), 0x9e3779b1)) | 0;
    const head = this.buckets.get(h);
    const len = set.hi < set.lo ? 0 : set.hi - set.lo + 1;
    const words = set.words;
    for (let e = head; e; e = e.next) {
      if (e.lo !== set.lo || e.len !== len) continue;
      let same: boolean;
      if (e.win) same = set.sameWindow(e.lo, e.win);
      else same = (len < 1 || e.a === words[set.lo]) && (len < 2 || e.b === words[set.lo + 1]);
      if (same && this.equal(e.state, state)) return false;
    }
    const entry: Entry<S> = { lo: set.lo, len, a: 0, b: 0, win: undefined, state, next: head };
    if (len > 2) entry.win = set.window();
    else {
      if (len > 0) entry.a = words[set.lo]!;
      if (len > 1) entry.b = words[set.lo + 1]!;
    }
    this.buckets.set(h, entry);
    // Measured: an entry object with its Map slot costs about 28 words, a window array about 24 more.
    this.words += len + 28 + (entry.win ? 24 : 0);
    this.entries++;
    return true;
  }
}

/** stateHasher turns a model's optional `hash` into a 32-bit hash function. */
export function stateHasher<S>(hash?: (s: S) => string | number): (s: S) => number {
  const h = hash ?? defaultHash;
  return (s) => {
    const v = h(s as never);
    return typeof v === "number" ? v | 0 : hashString(v);
  };
}

function defaultHash(s: unknown): string | number {
  if (typeof s === "number") return s;
  if (typeof s === "string") return s;
  if (s === null || s === undefined) return 0;
  return JSON.stringify(s);
}

/** stateEqual is a model's `equal`, defaulting to `===`, then JSON equality for objects. */
export function stateEqual<S>(equal?: (a: S, b: S) => boolean): (a: S, b: S) => boolean {
  if (equal) return equal;
  return (a, b) =>
    a === b || (typeof a === "object" && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b));
}
