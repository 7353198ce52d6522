import { dvvJoin, dvvNew, dvvSync, dvvUpdate } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { arbitrated, isKeyClock, type KeyClock, readView, siblingValues } from "./key-clock.js";

describe("key clock views", () => {
  const a: KeyClock = dvvUpdate(dvvNew(), {}, "n1", { v: "a", t: 5 });
  const b: KeyClock = dvvUpdate(dvvNew(), {}, "n2", { v: "b", t: 5 });
  const both = dvvSync(a, b);

  it("siblings lists distinct live values sorted, without tombstones", () => {
    const withTomb = dvvSync(both, dvvUpdate(dvvNew(), {}, "n3", { v: null, t: 9 }));
    expect(siblingValues(withTomb)).toEqual(["a", "b"]);
    expect(readView(withTomb, "siblings")).toEqual(["a", "b"]);
  });

  it("lww picks the highest Lamport time, then the highest node id, whatever the sync order", () => {
    expect(arbitrated(both)).toBe("b");
    expect(arbitrated(dvvSync(b, a))).toBe("b");
    const later = dvvSync(both, dvvUpdate(dvvNew(), {}, "n0", { v: "late", t: 6 }));
    expect(readView(later, "lww")).toEqual(["late"]);
  });

  it("lww with a winning tombstone reads absent", () => {
    const del = dvvUpdate(both, dvvJoin(both), "n1", { v: null, t: 7 });
    expect(readView(del, "lww")).toEqual([]);
    expect(readView(dvvNew(), "lww")).toEqual([]);
  });

  it("validates stored clocks", () => {
    expect(isKeyClock(both)).toBe(true);
    expect(isKeyClock({ entries: [["n1", 1, ["a"]]] })).toBe(false);
    expect(isKeyClock({ entries: [["n1", 1, [{ v: "a", t: 0 }]]] })).toBe(false);
  });
});
