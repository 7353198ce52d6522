/**
 * TraceHash is a 64-bit FNV-1a hash (Fowler–Noll–Vo, offset basis 0xcbf29ce484222325, prime 2^40 + 0x1b3)
 * folded over 16-bit units and kept in four 16-bit limbs, so that it is computed incrementally with plain int
 * arithmetic: no BigInt and no string building per event. Two runs with the same trace give the same hex digest
 * on every platform.
 */
export class TraceHash {
  private h0 = 0x2325;
  private h1 = 0x8422;
  private h2 = 0x9ce4;
  private h3 = 0xcbf2;

  /** unit folds one 16-bit unit: xor into the low limb, then multiply by the FNV prime mod 2^64. */
  private unit(u: number): void {
    const h0 = this.h0 ^ (u & 0xffff);
    const h1 = this.h1;
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = this.h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    const t3 = this.h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
    this.h0 = t0 & 0xffff;
    this.h1 = t1 & 0xffff;
    this.h2 = t2 & 0xffff;
    this.h3 = t3 & 0xffff;
  }

  /** u32 folds a 32-bit unsigned integer. */
  u32(x: number): void {
    this.unit(x & 0xffff);
    this.unit(x >>> 16);
  }

  /** int folds a non-negative integer up to 2^53 (or a negative one via its two's complement words). */
  int(x: number): void {
    const lo = x >>> 0;
    const hi = Math.floor(x / 4294967296) >>> 0;
    this.u32(lo);
    this.u32(hi);
  }

  /** time folds a virtual time in ms at microsecond resolution. */
  time(ms: number): void {
    this.int(Math.round(ms * 1000));
  }

  /** str folds a string's UTF-16 code units and its length (so "ab"+"c" differs from "a"+"bc"). */
  str(s: string): void {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.unit(s.charCodeAt(i));
  }

  /** hex returns the digest as 16 lowercase hex digits. */
  hex(): string {
    return [this.h3, this.h2, this.h1, this.h0].map((x) => x.toString(16).padStart(4, "0")).join("");
  }
}
