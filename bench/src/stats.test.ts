import { describe, expect, it } from "vitest";
import { quantile, summarize } from "./stats.js";

describe("stats", () => {
  it("takes nearest-rank quantiles", () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(s, 0.5)).toBe(50);
    expect(quantile(s, 0.99)).toBe(99);
    expect(quantile(s, 1)).toBe(100);
    expect(quantile([7], 0.5)).toBe(7);
  });
  it("summarizes unsorted samples", () => {
    const r = summarize([5, 1, 3, 2, 4]);
    expect(r).toMatchObject({ count: 5, p50: 3, max: 5, mean: 3 });
  });
});
