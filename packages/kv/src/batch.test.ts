import { describe, expect, it } from "vitest";
import { BATCH_BYTES, MAX_MESSAGE_BYTES, takeBatch } from "./batch.js";
import { LIMITS, utf8Bytes } from "./validate.js";

const len = (s: string) => s.length;

describe("takeBatch", () => {
  it("takes everything when under both limits", () => {
    const b = takeBatch(["a", "bb", "ccc"], { maxEntries: 10, maxBytes: 100, sizeOf: len });
    expect(b).toEqual({ entries: ["a", "bb", "ccc"], bytes: 6, full: false });
  });

  it("stops at maxEntries and says the batch is full", () => {
    const b = takeBatch(["a", "b", "c", "d"], { maxEntries: 2, maxBytes: 100, sizeOf: len });
    expect(b).toEqual({ entries: ["a", "b"], bytes: 2, full: true });
  });

  it("is not full when the last entry exactly fills the count", () => {
    expect(takeBatch(["a", "b"], { maxEntries: 2, sizeOf: len }).full).toBe(false);
  });

  it("stops before the entry that would pass maxBytes", () => {
    const b = takeBatch(["aaa", "bbb", "ccc"], { maxBytes: 7, sizeOf: len });
    expect(b).toEqual({ entries: ["aaa", "bbb"], bytes: 6, full: true });
  });

  it("takes an entry exactly at the byte budget", () => {
    expect(takeBatch(["aaa", "bbbb"], { maxBytes: 7, sizeOf: len }).entries).toEqual(["aaa", "bbbb"]);
  });

  it("sends an entry larger than the budget alone, never not at all", () => {
    const big = "x".repeat(50);
    expect(takeBatch([big, "a"], { maxBytes: 10, sizeOf: len })).toEqual({
      entries: [big],
      bytes: 50,
      full: true,
    });
  });

  it("with atLeastOne false, takes nothing that does not fit", () => {
    expect(takeBatch(["x".repeat(50)], { maxBytes: 10, sizeOf: len, atLeastOne: false })).toEqual({
      entries: [],
      bytes: 0,
      full: true,
    });
  });

  it("starts at `start` of an array", () => {
    expect(takeBatch(["a", "b", "c"], { start: 1, sizeOf: len }).entries).toEqual(["b", "c"]);
    expect(takeBatch(["a"], { start: 5, sizeOf: len })).toEqual({ entries: [], bytes: 0, full: false });
  });

  it("reads an iterable lazily, no further than the batch", () => {
    let pulled = 0;
    function* gen() {
      for (let i = 0; ; i++) {
        pulled++;
        yield `e${i}`;
      }
    }
    const b = takeBatch(gen(), { maxEntries: 3, sizeOf: len });
    expect(b.entries).toEqual(["e0", "e1", "e2"]);
    expect(b.full).toBe(true);
    expect(pulled).toBe(4);
  });

  it("an empty source gives an empty batch that is not full", () => {
    expect(takeBatch([], { sizeOf: len })).toEqual({ entries: [], bytes: 0, full: false });
  });

  it("defaults to BATCH_BYTES, so 64 KiB values go four at a time, not 64", () => {
    const values = Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(64 * 1024, "x"));
    const b = takeBatch(values, { maxEntries: 64, sizeOf: utf8Bytes });
    expect(b.entries.length).toBe(4);
    expect(b.bytes).toBeLessThanOrEqual(BATCH_BYTES);
  });

  it("keeps every batch of values up to the value limit under the frame limit", () => {
    // Worst cases: many entries just under the budget, then one at the value limit; multi-byte characters.
    const max = "é".repeat(LIMITS.maxValueBytes / 2);
    expect(utf8Bytes(max)).toBe(LIMITS.maxValueBytes);
    const mixes = [
      [max, max, max],
      ["a".repeat(BATCH_BYTES - 1), max, max],
      Array.from({ length: 100 }, () => "€".repeat(10_000)),
    ];
    const overhead = (s: string) => utf8Bytes(s) + LIMITS.maxKeyBytes + 256;
    for (const mix of mixes) {
      let start = 0;
      while (start < mix.length) {
        const b = takeBatch(mix, { start, maxEntries: 64, sizeOf: overhead });
        expect(b.entries.length).toBeGreaterThan(0);
        expect(b.bytes).toBeLessThan(MAX_MESSAGE_BYTES);
        start += b.entries.length;
      }
    }
  });
});
