import { describe, expect, it } from "vitest";
import { anomalyStats } from "./anomaly-stats.js";
import { HistoryBuilder } from "./testing/history-builder.js";

describe("anomalyStats", () => {
  it("counts a stale read with its versions and milliseconds behind", () => {
    // The builder advances time by 1 ms per event.
    const b = new HistoryBuilder()
      .op(1, "write", "x", 1) // events 1-2
      .op(1, "write", "x", 2) // 3-4: completes at 4 ms
      .op(1, "write", "x", 3) // 5-6
      .op(2, "read", "x", 1); // invoked at 7 ms: two versions behind, 3 ms after the first newer write completed
    const s = anomalyStats(b.ops());
    expect(s.staleReads).toBe(1);
    expect(s.maxVersionsBehind).toBe(2);
    expect(s.maxMsBehind).toBe(3);
  });

  it("does not count a read of a value whose newer write was concurrent", () => {
    const b = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .invoke(1, "write", "x", 2)
      .op(2, "read", "x", 1)
      .ok(1);
    expect(anomalyStats(b.ops()).staleReads).toBe(0);
  });

  it("counts reads of absent after an acknowledged write, siblings and duplicate cas claims", () => {
    const b = new HistoryBuilder()
      .op(1, "write", "x", 0)
      .op(2, "read", "x", null)
      .op(3, "read", "y", null, "ok", { values: ["a", "b", "c"] })
      .op(1, "cas", "x", [0, 1])
      .op(2, "cas", "x", [0, 2]);
    const s = anomalyStats(b.ops());
    expect(s.staleReads).toBe(1);
    expect(s.siblingReads).toBe(1);
    expect(s.maxSiblings).toBe(3);
    expect(s.duplicateCasClaims).toBe(1);
  });
});
