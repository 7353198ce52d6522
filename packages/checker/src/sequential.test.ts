import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kvModel } from "./kv-model.js";
import type { Op } from "./op.js";
import { checkSequentialSync } from "./sequential.js";
import { bruteForceSequential } from "./testing/brute-force.js";
import { HistoryBuilder } from "./testing/history-builder.js";

describe("checkSequentialSync: differential against brute force", () => {
  it("agrees on random small histories over two keys, with info ops", () => {
    const step = fc.record({
      proc: fc.integer({ min: 0, max: 2 }),
      f: fc.constantFrom("read", "write", "cas") as fc.Arbitrary<"read" | "write" | "cas">,
      key: fc.constantFrom("a", "b"),
      v: fc.integer({ min: 0, max: 2 }),
      e: fc.constantFrom(null, 0, 1),
      outcome: fc.constantFrom("ok", "ok", "ok", "fail", "info") as fc.Arbitrary<"ok" | "fail" | "info">,
      readsNull: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
        const b = new HistoryBuilder();
        const inFlight = new Map<number, string>();
        for (const s of steps) {
          const f = inFlight.get(s.proc);
          if (f === undefined) {
            b.invoke(s.proc, s.f, s.key, s.f === "write" ? s.v : s.f === "cas" ? [s.e, s.v] : null);
            inFlight.set(s.proc, s.f);
          } else {
            inFlight.delete(s.proc);
            if (s.outcome === "info") b.info(s.proc);
            else if (s.outcome === "fail") b.fail(s.proc, f === "cas" ? {} : { error: "KV_UNAVAILABLE" });
            else b.ok(s.proc, f === "read" ? { value: s.readsNull ? null : s.v } : {});
          }
        }
        const ops: Op[] = b.ops();
        // The brute force needs one state for all keys: give it the product of per-key registers.
        const expected = bruteForceSequential(ops, jointKv(ops)) ? "ok" : "violation";
        expect(checkSequentialSync(ops).verdict).toBe(expected);
      }),
      { numRuns: process.env.CLAB_SOAK ? 30_000 : 1500 },
    );
  });
});

function jointKv(ops: Op[]) {
  const keys = [...new Set(ops.map((o) => o.key))];
  return {
    name: "joint",
    init: () => keys.map(() => kvModel.init()),
    step(state: (string | null)[], op: Op) {
      const k = keys.indexOf(op.key);
      return kvModel.step(state[k]!, op).map((s) => state.map((x, i) => (i === k ? s : x)));
    },
  };
}
