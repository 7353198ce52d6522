/**
 * Rng is the only source of randomness an engine core may use. Its state is plain data (four 32-bit words of
 * xoshiro128**, Blackman & Vigna 2018), so a core holding one can be cloned and compared.
 */
export interface RngState {
  s: [number, number, number, number];
}

/** splitmix32 expands a 32-bit seed into well-mixed words (used to seed xoshiro). */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** hashString is FNV-1a over UTF-16 code units: a stable 32-bit hash for deriving stream seeds from names. */
export function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/** Rng: xoshiro128** over a plain-data state. Same seed ⇒ same sequence on every platform. */
export class Rng {
  readonly state: RngState;

  constructor(seed: number | RngState) {
    if (typeof seed === "number") {
      const sm = { x: seed >>> 0 };
      const s: [number, number, number, number] = [
        splitmix32(sm),
        splitmix32(sm),
        splitmix32(sm),
        splitmix32(sm),
      ];
      if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
      this.state = { s };
    } else {
      this.state = { s: [...seed.s] as [number, number, number, number] };
    }
  }

  /** fork derives an independent stream named `name`; drawing from it never perturbs this one. */
  fork(name: string): Rng {
    const [a, b, c, d] = this.state.s;
    return new Rng(hashString(name, (a ^ rotl(b, 7) ^ rotl(c, 13) ^ rotl(d, 19)) >>> 0));
  }

  /** nextU32 returns the next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.state.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** next returns a float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** int returns an integer in [0, n). */
  int(n: number): number {
    if (!(n > 0)) throw new TypeError(`Rng.int: n must be positive, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** range returns an integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** chance returns true with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new TypeError("Rng.pick: empty list");
    return items[this.int(items.length)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** exponential draws from an exponential distribution with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}
