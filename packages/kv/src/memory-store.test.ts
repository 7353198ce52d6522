import { describe, expect, it } from "vitest";
import { MemoryStore } from "./memory-store.js";

describe("MemoryStore", () => {
  it("gets, puts, deletes and compares-and-sets", async () => {
    const s = new MemoryStore();
    expect((await s.get("k")).value).toBeNull();
    await s.put("k", "a");
    expect((await s.get("k")).value).toBe("a");
    expect((await s.cas("k", "b", "c")).swapped).toBe(false);
    expect((await s.cas("k", "a", "c")).swapped).toBe(true);
    expect((await s.get("k")).value).toBe("c");
    await s.delete("k");
    expect((await s.get("k")).value).toBeNull();
    expect((await s.cas("k", null, "x")).swapped).toBe(true);
    expect((await s.cas("k", null, "y")).swapped).toBe(false);
  });

  it("refuses bad input with coded errors", async () => {
    const s = new MemoryStore();
    await expect(s.get("")).rejects.toMatchObject({ code: "KV_INVALID_KEY" });
    await expect(s.put("k", 3 as unknown as string)).rejects.toMatchObject({ code: "KV_INVALID_VALUE" });
    await expect(s.put("k", "x".repeat(1024 * 1024 + 1))).rejects.toMatchObject({ code: "KV_TOO_LARGE" });
    await s.close();
    await expect(s.get("k")).rejects.toMatchObject({ code: "KV_CLOSED" });
  });

  it("survives a restart from its durable records", async () => {
    const s = new MemoryStore();
    await s.put("a", "1");
    await s.put("b", "2");
    await s.delete("b");
    const t = new MemoryStore({ records: s.records() });
    expect((await t.get("a")).value).toBe("1");
    expect((await t.get("b")).value).toBeNull();
  });
});
