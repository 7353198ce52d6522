import { describe, expect, it } from "vitest";
import { kvModel } from "./kv-model.js";
import { checkLinearizable, checkLinearizableSync } from "./linearizable.js";
import { parseHistory } from "./parse-history.js";
import { bruteForceLinearizable } from "./testing/brute-force.js";
import { generateKvHistory } from "./testing/generate.js";
import { HistoryBuilder } from "./testing/history-builder.js";

describe("generateKvHistory", () => {
  it("makes twins that differ in one read only, the same for the same seed", () => {
    const a = generateKvHistory({ processes: 10, keys: 3, ops: 300, seed: 7 });
    const b = generateKvHistory({ processes: 10, keys: 3, ops: 300, seed: 7 });
    expect(a).toEqual(b);
    expect(a.violating).toHaveLength(a.linearizable.length);
    const diff = a.linearizable.flatMap((e, i) =>
      JSON.stringify(e) === JSON.stringify(a.violating[i]) ? [] : [i],
    );
    expect(diff).toHaveLength(1);
    const changed = a.violating[diff[0]!]!;
    expect(changed).toMatchObject({ type: "ok", f: "read", key: a.stale.key, value: a.stale.staleValue });
    expect(a.linearizable[a.stale.invokeEvent]).toMatchObject({
      type: "invoke",
      f: "read",
      key: a.stale.key,
    });
    expect(new Set(a.linearizable.map((e) => e.process)).size).toBe(10);
    expect(generateKvHistory({ processes: 10, keys: 3, ops: 300, seed: 8 })).not.toEqual(a);
  });

  it("the linearizable twin is linearizable and the violating one fails on the stale read's key", () => {
    for (const seed of [1, 2, 3]) {
      for (const processes of [10, 20, 40]) {
        const t = generateKvHistory({ processes, keys: 10, ops: 500, seed });
        const ok = checkLinearizableSync(parseHistory(t.linearizable));
        expect(ok.verdict, `seed=${seed} processes=${processes}`).toBe("ok");
        const bad = checkLinearizableSync(parseHistory(t.violating));
        expect(bad.verdict, `seed=${seed} processes=${processes}`).toBe("violation");
        expect(bad.failingKey).toBe(t.stale.key);
      }
    }
  });

  it("places the stale read where staleAt asks, and honours info ops", () => {
    const early = generateKvHistory({ processes: 10, keys: 2, ops: 400, seed: 3, staleAt: 0.1 });
    const late = generateKvHistory({ processes: 10, keys: 2, ops: 400, seed: 3 });
    expect(early.stale.invokeEvent).toBeLessThan(late.stale.invokeEvent);
    const info = generateKvHistory({ processes: 10, keys: 5, ops: 300, seed: 3, infoRate: 0.03 });
    expect(info.linearizable.some((e) => e.type === "info")).toBe(true);
    expect(checkLinearizableSync(parseHistory(info.linearizable)).verdict).toBe("ok");
    expect(checkLinearizableSync(parseHistory(info.violating)).verdict).toBe("violation");
  });
});

describe("checkLinearizableSync on generated kv histories: differential against brute force", () => {
  it("agrees on small twins, and brute force confirms the violating twin", () => {
    let checked = 0;
    for (let seed = 1; seed <= 150; seed++) {
      let t: ReturnType<typeof generateKvHistory>;
      try {
        t = generateKvHistory({
          processes: 3 + (seed % 3),
          keys: 1 + (seed % 2),
          ops: 9,
          seed,
          stallRate: 0.2,
          stallFactor: 4,
          infoRate: seed % 4 === 0 ? 0.2 : 0,
          staleAt: (seed % 5) / 4,
        });
      } catch {
        continue; // no read could be made stale in so few ops
      }
      for (const events of [t.linearizable, t.violating]) {
        const ops = parseHistory(events);
        const expected = bruteForceLinearizable(ops, kvModel) ? "ok" : "violation";
        expect(checkLinearizableSync(ops).verdict, `seed=${seed}`).toBe(expected);
      }
      expect(bruteForceLinearizable(parseHistory(t.linearizable), kvModel), `seed=${seed}`).toBe(true);
      expect(bruteForceLinearizable(parseHistory(t.violating), kvModel), `seed=${seed}`).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });
});

describe("checkLinearizableSync: keys side by side, first failing key decides", () => {
  /** A key that is expensive to search (24 concurrent writes, a read that only fits at the end) and a cheap one. */
  function hardAndCheap(cheapValue: number): HistoryBuilder {
    const b = new HistoryBuilder();
    for (let p = 0; p < 24; p++) b.invoke(p, "write", "hard", p);
    b.op(99, "read", "hard", 1000);
    for (let p = 0; p < 24; p++) b.ok(p);
    for (let i = 0; i < 30; i++) b.op(100, "write", "cheap", i).op(101, "read", "cheap", i);
    b.op(100, "write", "cheap", 99).op(101, "read", "cheap", cheapValue);
    return b;
  }

  it("stops at a cheap failing key instead of finishing a hard one, and says the rest was not searched", () => {
    const r = checkLinearizableSync(hardAndCheap(3).ops(), { timeLimitMs: 60_000 });
    expect(r.verdict).toBe("violation");
    expect(r.failingKey).toBe("cheap");
    const hard = r.perKey?.find((k) => k.key === "hard");
    expect(hard?.verdict).toBe("unknown");
    expect(hard?.reason).toMatch(/not searched to the end/);
    expect(r.explanation).toMatch(/1 other key\(s\) were not searched to the end/);
  });

  it("keeps searching the hard key when the cheap one is linearizable (ends at the limit, never ok)", () => {
    const r = checkLinearizableSync(hardAndCheap(99).ops(), { timeLimitMs: 200 });
    expect(r.perKey?.find((k) => k.key === "cheap")?.verdict).toBe("ok");
    expect(r.verdict).not.toBe("ok");
  });

  it("workers stop at the first failing key too", async () => {
    const b = new HistoryBuilder();
    for (let k = 0; k < 6; k++) b.op(1, "write", `k${k}`, k).op(2, "read", `k${k}`, k === 3 ? 7 : k);
    const r = await checkLinearizable(b.ops(), { workers: 2 });
    expect(r.verdict).toBe("violation");
    expect(r.failingKey).toBe("k3");
    expect(r.perKey).toHaveLength(6);
  });
});
