import { describe, expect, it } from "vitest";
import { Rng } from "./rng.js";

describe("Rng (xoshiro128**)", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(sa);
  });

  it("forks independent streams: drawing from a fork does not perturb the parent", () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const fa = a.fork("network");
    for (let i = 0; i < 100; i++) fa.next();
    expect(a.nextU32()).toBe(b.nextU32());
    expect(new Rng(7).fork("network").nextU32()).not.toBe(new Rng(7).fork("workload").nextU32());
  });

  it("restores from its plain-data state", () => {
    const a = new Rng(1);
    a.next();
    const copy = new Rng(structuredClone(a.state));
    expect(copy.nextU32()).toBe(a.nextU32());
  });

  it("int stays in range", () => {
    const r = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const x = r.int(5);
      expect(x >= 0 && x < 5 && Number.isInteger(x)).toBe(true);
    }
  });
});
