import type { PersistOp } from "@consistency-lab/kv";
import type { Storage } from "./storage.js";

/** SuiteApi is the slice of vitest (or any runner with the same shape) the storage suite needs. */
export interface SuiteApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void> | void, timeoutMs?: number): void;
  expect(value: unknown): any;
}

/**
 * StorageFixture is one place to store records (a directory, a backing map). `create()` returns a new Storage
 * over the SAME place every call, so the suite can close one and open another to model a restart.
 */
export interface StorageFixture {
  create(): Storage;
  cleanup(): Promise<void>;
}

/**
 * storageSuite is the ONE conformance suite every Storage backend passes (the abstract-level pattern: the suite
 * is published beside the interface and called with a factory). Assertions compare error codes, never messages.
 */
export function storageSuite(t: SuiteApi, factory: () => StorageFixture | Promise<StorageFixture>): void {
  const { describe, it, expect } = t;

  async function withFixture(fn: (f: StorageFixture) => Promise<void>): Promise<void> {
    const f = await factory();
    try {
      await fn(f);
    } finally {
      await f.cleanup();
    }
  }

  async function reopen(f: StorageFixture, s: Storage): Promise<ReadonlyMap<string, unknown>> {
    await s.close();
    const again = f.create();
    const records = await again.open();
    await again.close();
    return records;
  }

  describe("storage suite", () => {
    it("opens empty the first time", () =>
      withFixture(async (f) => {
        const s = f.create();
        expect([...(await s.open())]).toEqual([]);
        await s.close();
      }));

    it("returns every applied record after a reopen", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        await s.apply([
          { type: "put", key: "a", value: 1 },
          { type: "put", key: "b", value: "two" },
        ]);
        await s.apply([{ type: "put", key: "c", value: { term: 3, votedFor: "n2" } }]);
        const records = await reopen(f, s);
        expect(Object.fromEntries(records)).toEqual({ a: 1, b: "two", c: { term: 3, votedFor: "n2" } });
      }));

    it("applies ops of one batch in list order", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        await s.apply([
          { type: "put", key: "x", value: 1 },
          { type: "del", key: "x" },
          { type: "del", key: "y" },
          { type: "put", key: "y", value: 2 },
          { type: "put", key: "z", value: 1 },
          { type: "put", key: "z", value: 3 },
        ]);
        expect(Object.fromEntries(await reopen(f, s))).toEqual({ y: 2, z: 3 });
      }));

    it("deletes records, and deleting an absent record is fine", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        await s.apply([{ type: "put", key: "k", value: "v" }]);
        await s.apply([{ type: "del", key: "k" }]);
        await s.apply([{ type: "del", key: "never-written" }]);
        expect(Object.fromEntries(await reopen(f, s))).toEqual({});
      }));

    it("round-trips JSON values of every shape", () =>
      withFixture(async (f) => {
        const values: Record<string, unknown> = {
          null: null,
          zero: 0,
          neg: -1.5,
          big: Number.MAX_SAFE_INTEGER,
          t: true,
          f: false,
          empty: "",
          text: "héllo ✓ \u0000 \n",
          arr: [1, "2", [3], { four: 4 }],
          obj: { nested: { deep: [null, { e: "x" }] } },
        };
        const s = f.create();
        await s.open();
        await s.apply(
          Object.entries(values).map(([key, value]) => ({ type: "put", key, value }) as PersistOp),
        );
        expect(Object.fromEntries(await reopen(f, s))).toEqual(values);
      }));

    it("keeps keys apart that share prefixes or use unusual characters", () =>
      withFixture(async (f) => {
        const keys = ["log/1", "log/10", "log/2", "!format", "r:x", "", " ", "ключ", "a\u0000b"];
        const s = f.create();
        await s.open();
        await s.apply(keys.map((key, i) => ({ type: "put", key, value: i })));
        const records = await reopen(f, s);
        expect(records.size).toBe(keys.length);
        for (const [i, k] of keys.entries()) expect(records.get(k)).toBe(i);
      }));

    it("accepts an empty batch", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        await s.apply([]);
        expect((await reopen(f, s)).size).toBe(0);
      }));

    it("keeps many batches (a log of 500 entries)", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        for (let i = 1; i <= 500; i += 50) {
          const ops: PersistOp[] = [];
          for (let j = i; j < i + 50; j++)
            ops.push({ type: "put", key: `log/${j}`, value: { index: j, term: 1 } });
          ops.push({ type: "put", key: "last", value: i + 49 });
          await s.apply(ops);
        }
        const records = await reopen(f, s);
        expect(records.size).toBe(501);
        expect(records.get("last")).toBe(500);
        expect(records.get("log/250")).toEqual({ index: 250, term: 1 });
      }));

    it("rejects apply after close with KV_CLOSED, and opens again", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        await s.apply([{ type: "put", key: "a", value: 1 }]);
        await s.close();
        await expect(s.apply([{ type: "put", key: "b", value: 2 }])).rejects.toMatchObject({
          code: "KV_CLOSED",
        });
        const again = f.create();
        expect(Object.fromEntries(await again.open())).toEqual({ a: 1 });
        await again.close();
      }));

    it("refuses a value JSON cannot carry with TypeError and applies none of the batch", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        await expect(
          s.apply([
            { type: "put", key: "ok", value: 1 },
            { type: "put", key: "bad", value: undefined },
          ]),
        ).rejects.toBeInstanceOf(TypeError);
        expect((await reopen(f, s)).size).toBe(0);
      }));

    it("refuses a malformed op list with TypeError", () =>
      withFixture(async (f) => {
        const s = f.create();
        await s.open();
        await expect(s.apply([{ type: "upsert", key: "k" } as unknown as PersistOp])).rejects.toBeInstanceOf(
          TypeError,
        );
        await expect(s.apply([{ type: "put", value: 1 } as unknown as PersistOp])).rejects.toBeInstanceOf(
          TypeError,
        );
        await s.close();
      }));
  });
}
