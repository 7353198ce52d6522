import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kvModel, registerModel } from "./kv-model.js";
import { checkLinearizable, checkLinearizableSync } from "./linearizable.js";
import type { Op } from "./op.js";
import { checkSequentialSync } from "./sequential.js";
import { bruteForceLinearizable, bruteForceSequential } from "./testing/brute-force.js";
import { HistoryBuilder } from "./testing/history-builder.js";

const lin = (ops: Op[]) => checkLinearizableSync(ops).verdict;

describe("checkLinearizableSync: hand-written histories", () => {
  it("accepts sequential write then read", () => {
    const b = new HistoryBuilder().op(1, "write", "x", 1).op(2, "read", "x", 1);
    expect(lin(b.ops())).toBe("ok");
  });

  it("rejects a stale read after a completed write, and explains it", () => {
    const b = new HistoryBuilder().op(1, "write", "x", 1).op(1, "write", "x", 2).op(2, "read", "x", 1);
    const r = checkLinearizableSync(b.ops());
    expect(r.verdict).toBe("violation");
    expect(r.failingKey).toBe("x");
    expect(r.longestPrefix?.map((o) => o.value)).toEqual([1, 2]);
    expect(r.unlinearizable?.map((o) => o.f)).toEqual(["read"]);
    expect(r.explanation).toContain("p2 read x → 1");
  });

  it("accepts a read concurrent with a write returning either value", () => {
    for (const v of [null, 1]) {
      const b = new HistoryBuilder().invoke(1, "write", "x", 1).invoke(2, "read", "x").read(2, v).ok(1);
      expect(lin(b.ops())).toBe("ok");
    }
  });

  it("rejects a read of the initial value after another read saw the new one (new-old inversion)", () => {
    const b = new HistoryBuilder()
      .invoke(1, "write", "x", 1)
      .op(2, "read", "x", 1)
      .op(3, "read", "x", null)
      .ok(1);
    expect(lin(b.ops())).toBe("violation");
  });

  it("lets an info write take effect late, or never", () => {
    const late = new HistoryBuilder()
      .invoke(1, "write", "x", 1)
      .info(1)
      .op(2, "read", "x", null)
      .op(2, "read", "x", 1);
    expect(lin(late.ops())).toBe("ok");
    const never = new HistoryBuilder().invoke(1, "write", "x", 1).info(1).op(2, "read", "x", null);
    expect(lin(never.ops())).toBe("ok");
    const flip = new HistoryBuilder()
      .invoke(1, "write", "x", 1)
      .info(1)
      .op(2, "read", "x", 1)
      .op(2, "read", "x", null);
    expect(lin(flip.ops())).toBe("violation");
  });

  it("treats a never-completed invoke as info", () => {
    const b = new HistoryBuilder().invoke(1, "write", "x", 1).op(2, "read", "x", 1);
    expect(lin(b.ops())).toBe("ok");
  });

  it("ignores a fail with an error, and counts a write fail as not taken effect", () => {
    const b = new HistoryBuilder()
      .op(1, "write", "x", 1, "fail", { error: "KV_NOT_LEADER" })
      .op(2, "read", "x", 1);
    expect(lin(b.ops())).toBe("violation");
    const c = new HistoryBuilder()
      .op(1, "write", "x", 1, "fail", { error: "KV_NOT_LEADER" })
      .op(2, "read", "x", null);
    expect(lin(c.ops())).toBe("ok");
  });

  it("cas: ok swaps, fail without error observed a mismatch, expected null is put-if-absent", () => {
    const ok = new HistoryBuilder()
      .op(1, "cas", "x", [null, 1])
      .op(2, "cas", "x", [1, 2])
      .op(3, "read", "x", 2);
    expect(lin(ok.ops())).toBe("ok");
    const badFail = new HistoryBuilder().op(1, "write", "x", 1).op(2, "cas", "x", [1, 2], "fail");
    expect(lin(badFail.ops())).toBe("violation");
    const goodFail = new HistoryBuilder()
      .op(1, "write", "x", 3)
      .op(2, "cas", "x", [1, 2], "fail")
      .op(3, "read", "x", 3);
    expect(lin(goodFail.ops())).toBe("ok");
    const double = new HistoryBuilder().op(1, "cas", "x", [null, 1]).op(2, "cas", "x", [null, 2]);
    expect(lin(double.ops())).toBe("violation");
  });

  it("delete of an absent key is ok and reads absent after", () => {
    const b = new HistoryBuilder()
      .op(1, "delete", "x", null)
      .op(2, "write", "x", 1)
      .op(1, "delete", "x", null)
      .op(2, "read", "x", null);
    expect(lin(b.ops())).toBe("ok");
  });

  it("a read with several siblings is a violation for a register, and says why", () => {
    const b = new HistoryBuilder().op(1, "write", "x", 1).op(2, "read", "x", null, "ok", { values: [1, 2] });
    const r = checkLinearizableSync(b.ops());
    expect(r.verdict).toBe("violation");
    expect(r.explanation).toContain("siblings");
  });

  it("append: kv model concatenates; register model rejects append", () => {
    const b = new HistoryBuilder()
      .op(1, "append", "l", "a")
      .op(2, "append", "l", "b")
      .op(3, "read", "l", "ab");
    expect(checkLinearizableSync(b.ops(), { model: kvModel }).verdict).toBe("ok");
    expect(checkLinearizableSync(b.ops(), { model: registerModel }).verdict).toBe("violation");
    const bad = new HistoryBuilder()
      .op(1, "append", "l", "a")
      .op(2, "append", "l", "b")
      .op(3, "read", "l", "ba");
    expect(checkLinearizableSync(bad.ops()).verdict).toBe("violation");
  });

  it("partitions by key and names the smallest failing key", () => {
    const b = new HistoryBuilder();
    for (let i = 0; i < 5; i++) b.op(1, "write", "big", i).op(2, "read", "big", i);
    b.op(1, "write", "big", 9).op(2, "read", "big", 0);
    b.op(1, "write", "small", 1).op(2, "read", "small", 2);
    const r = checkLinearizableSync(b.ops());
    expect(r.verdict).toBe("violation");
    expect(r.keys).toBe(2);
    expect(r.failingKey).toBe("small");
    expect(r.explanation).toMatch(/other key/);
  });

  it("a hard history ends unknown at the time limit instead of passing", () => {
    // Many concurrent writes with reads that only fit at the very end: exponential without a limit.
    const b = new HistoryBuilder();
    for (let p = 0; p < 24; p++) b.invoke(p, "write", "x", p);
    b.op(99, "read", "x", 1000);
    for (let p = 0; p < 24; p++) b.ok(p);
    const r = checkLinearizableSync(b.ops(), { timeLimitMs: 50 });
    expect(["unknown", "violation"]).toContain(r.verdict);
    const r2 = checkLinearizableSync(b.ops(), { timeLimitMs: 50, memoryLimitMb: 0.001 });
    expect(r2.verdict).not.toBe("ok");
  });
});

/** A random small history over one or two keys: a few processes invoking and completing ops with random outcomes. */
const stepArb = fc.record({
  proc: fc.integer({ min: 0, max: 2 }),
  f: fc.constantFrom("read", "write", "cas", "delete") as fc.Arbitrary<"read" | "write" | "cas" | "delete">,
  key: fc.constantFrom("a", "b"),
  v: fc.integer({ min: 0, max: 2 }),
  e: fc.constantFrom(null, 0, 1, 2),
  outcome: fc.constantFrom("ok", "ok", "ok", "fail", "info") as fc.Arbitrary<"ok" | "fail" | "info">,
  readsNull: fc.boolean(),
});

function buildRandom(steps: (typeof stepArb extends fc.Arbitrary<infer T> ? T : never)[]): Op[] {
  const b = new HistoryBuilder();
  const inFlight = new Map<number, string>();
  for (const s of steps) {
    const f = inFlight.get(s.proc);
    if (f === undefined) {
      const value = s.f === "write" ? s.v : s.f === "cas" ? [s.e, s.v] : null;
      b.invoke(s.proc, s.f, s.key, value);
      inFlight.set(s.proc, s.f);
    } else {
      inFlight.delete(s.proc);
      if (s.outcome === "info") b.info(s.proc);
      else if (s.outcome === "fail") b.fail(s.proc, f === "cas" ? {} : { error: "KV_UNAVAILABLE" });
      else b.ok(s.proc, f === "read" ? { value: s.readsNull ? null : s.v } : {});
    }
  }
  return b.ops();
}

describe("checkLinearizableSync: differential against brute force", () => {
  it("agrees on random small histories with info ops", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 14 }), (steps) => {
        const ops = buildRandom(steps);
        const expected = bruteForceLinearizable(ops, kvModel) ? "ok" : "violation";
        expect(checkLinearizableSync(ops).verdict).toBe(expected);
      }),
      { numRuns: process.env.CLAB_SOAK ? 50_000 : 3000 },
    );
  });
});

describe("checkLinearizableSync: differential with unique written values (precedence pruning active)", () => {
  it("agrees with brute force", () => {
    const step = fc.record({
      proc: fc.integer({ min: 0, max: 3 }),
      f: fc.constantFrom("read", "read", "write", "write", "cas", "delete") as fc.Arbitrary<
        "read" | "write" | "cas" | "delete"
      >,
      pick: fc.nat(),
      outcome: fc.constantFrom("ok", "ok", "ok", "ok", "fail", "info") as fc.Arbitrary<
        "ok" | "fail" | "info"
      >,
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 16 }), (steps) => {
        const b = new HistoryBuilder();
        const inFlight = new Map<number, string>();
        const written: (number | null)[] = [null];
        let next = 1;
        for (const s of steps) {
          const f = inFlight.get(s.proc);
          if (f === undefined) {
            const value =
              s.f === "write" ? next++ : s.f === "cas" ? [written[s.pick % written.length], next++] : null;
            if (s.f === "write") written.push(value as number);
            if (s.f === "cas") written.push((value as number[])[1]!);
            b.invoke(s.proc, s.f, "x", value);
            inFlight.set(s.proc, s.f);
          } else {
            inFlight.delete(s.proc);
            if (s.outcome === "info") b.info(s.proc);
            else if (s.outcome === "fail") b.fail(s.proc, f === "cas" ? {} : { error: "KV_UNAVAILABLE" });
            else b.ok(s.proc, f === "read" ? { value: written[s.pick % written.length] } : {});
          }
        }
        const ops = b.ops();
        const expected = bruteForceLinearizable(ops, kvModel) ? "ok" : "violation";
        expect(checkLinearizableSync(ops).verdict).toBe(expected);
      }),
      { numRuns: process.env.CLAB_SOAK ? 30_000 : 2000 },
    );
  });
});

describe("checkLinearizableSync: differential with many info writes and no failed cas (pruning active)", () => {
  it("agrees with brute force", () => {
    const step = fc.record({
      proc: fc.integer({ min: 0, max: 3 }),
      f: fc.constantFrom("read", "write", "write", "delete") as fc.Arbitrary<"read" | "write" | "delete">,
      v: fc.integer({ min: 0, max: 3 }),
      info: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 16 }), (steps) => {
        const b = new HistoryBuilder();
        const inFlight = new Map<number, string>();
        for (const s of steps) {
          const f = inFlight.get(s.proc);
          if (f === undefined) {
            b.invoke(s.proc, s.f, "x", s.f === "write" ? s.v : null);
            inFlight.set(s.proc, s.f);
          } else {
            inFlight.delete(s.proc);
            if (s.info && f !== "read") b.info(s.proc);
            else b.ok(s.proc, f === "read" ? { value: s.v === 0 ? null : s.v } : {});
          }
        }
        const ops = b.ops();
        const expected = bruteForceLinearizable(ops, kvModel) ? "ok" : "violation";
        expect(checkLinearizableSync(ops).verdict).toBe(expected);
        // Sequential consistency on the same history, against its brute force.
        expect(checkSequentialSync(ops).verdict).toBe(
          bruteForceSequential(ops, kvModel) ? "ok" : "violation",
        );
      }),
      { numRuns: process.env.CLAB_SOAK ? 30_000 : 2000 },
    );
  });
});

describe("checkLinearizable (workers)", () => {
  it("gives the same verdicts with worker threads as in-thread", async () => {
    const good = new HistoryBuilder();
    const bad = new HistoryBuilder();
    for (let k = 0; k < 6; k++) {
      good.op(1, "write", `k${k}`, k).op(2, "read", `k${k}`, k);
      bad.op(1, "write", `k${k}`, k).op(2, "read", `k${k}`, k === 3 ? 7 : k);
    }
    const w = await checkLinearizable(good.ops(), { workers: 2 });
    expect(w.verdict).toBe("ok");
    expect(w.keys).toBe(6);
    const wb = await checkLinearizable(bad.ops(), { workers: 2 });
    expect(wb.verdict).toBe("violation");
    expect(wb.failingKey).toBe("k3");
  });
});
