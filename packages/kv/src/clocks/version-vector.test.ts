import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Ordering,
  type VersionVector,
  vvCompare,
  vvDecode,
  vvDominates,
  vvEncode,
  vvEquals,
  vvGet,
  vvIncrement,
  vvMerge,
  vvNew,
  vvSet,
} from "./version-vector.js";

const NODES = ["n1", "n2", "n3", "n4"];
/** Small counters and few nodes make equal and comparable pairs common, not just concurrent ones. */
const vv: fc.Arbitrary<VersionVector> = fc
  .dictionary(fc.constantFrom(...NODES), fc.integer({ min: 1, max: 3 }), { maxKeys: 4 })
  .map((d) => ({ ...d }));
const INVERSE: Record<Ordering, Ordering> = {
  before: "after",
  after: "before",
  equal: "equal",
  concurrent: "concurrent",
};

describe("version vector", () => {
  it("merge is commutative, associative and idempotent", () => {
    fc.assert(
      fc.property(vv, vv, vv, (a, b, c) => {
        expect(vvMerge(a, b)).toEqual(vvMerge(b, a));
        expect(vvMerge(vvMerge(a, b), c)).toEqual(vvMerge(a, vvMerge(b, c)));
        expect(vvMerge(a, a)).toEqual(a);
      }),
    );
  });

  it("merge is the least upper bound", () => {
    fc.assert(
      fc.property(vv, vv, vv, (a, b, c) => {
        const m = vvMerge(a, b);
        expect(vvDominates(m, a) && vvDominates(m, b)).toBe(true);
        if (vvDominates(c, a) && vvDominates(c, b)) expect(vvDominates(c, m)).toBe(true);
      }),
    );
  });

  it("compare is consistent with dominance and antisymmetric", () => {
    fc.assert(
      fc.property(vv, vv, (a, b) => {
        const o = vvCompare(a, b);
        expect(vvCompare(b, a)).toBe(INVERSE[o]);
        expect(o === "equal" || o === "after").toBe(vvDominates(a, b));
        expect(o === "equal" || o === "before").toBe(vvDominates(b, a));
        // Antisymmetry of the partial order: a ≤ b and b ≤ a only when a = b.
        if (vvDominates(a, b) && vvDominates(b, a)) expect(a).toEqual(b);
        expect(vvEquals(a, b)).toBe(o === "equal");
      }),
    );
  });

  it("dominance is transitive", () => {
    fc.assert(
      fc.property(vv, vv, vv, (a, b, c) => {
        if (vvDominates(a, b) && vvDominates(b, c)) expect(vvDominates(a, c)).toBe(true);
      }),
    );
  });

  it("increment yields a strictly later vector and leaves the input alone", () => {
    fc.assert(
      fc.property(vv, fc.constantFrom(...NODES), (a, node) => {
        const before = structuredClone(a);
        const b = vvIncrement(a, node);
        expect(a).toEqual(before);
        expect(vvCompare(a, b)).toBe("before");
        expect(vvGet(b, node)).toBe(vvGet(a, node) + 1);
      }),
    );
  });

  it("two nodes' independent increments are concurrent and merge above both", () => {
    const base = vvIncrement(vvNew(), "n1");
    const x = vvIncrement(base, "n1");
    const y = vvIncrement(base, "n2");
    expect(vvCompare(x, y)).toBe("concurrent");
    expect(vvMerge(x, y)).toEqual({ n1: 2, n2: 1 });
  });

  it("never stores zero entries, so equal vectors are deep-equal", () => {
    expect(vvSet({ n1: 2 }, "n1", 0)).toEqual({});
    expect(vvCompare({}, vvNew())).toBe("equal");
    expect(vvGet({}, "toString")).toBe(0);
  });

  it("encoding round-trips through strings, JSON and structuredClone for any node ids", () => {
    const anyVv = fc
      .dictionary(
        fc.string({ minLength: 1, maxLength: 6 }).filter((s) => s !== "__proto__" && s.isWellFormed()),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        { maxKeys: 5 },
      )
      .map((d) => ({ ...d }));
    fc.assert(
      fc.property(anyVv, (a) => {
        const s = vvEncode(a);
        expect(vvDecode(s)).toEqual(a);
        expect(JSON.parse(JSON.stringify(s))).toBe(s);
        expect(structuredClone(a)).toEqual(a);
        expect(JSON.parse(JSON.stringify(a))).toEqual(a);
      }),
    );
  });

  it("encoding is canonical: equal vectors encode identically whatever the key order", () => {
    expect(vvEncode({ n2: 1, n1: 3 })).toBe("n1=3,n2=1");
    expect(vvEncode({ n1: 3, n2: 1 })).toBe("n1=3,n2=1");
    expect(vvEncode({})).toBe("");
  });

  it("decode either returns a vector that re-encodes to its input or throws TypeError", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constantFrom("a=1", "a=0", "a=01", "=1", "a=1,a=2", "__proto__=1", "%E0=1")),
        (s) => {
          let out: VersionVector | undefined;
          try {
            out = vvDecode(s);
          } catch (e) {
            expect(e).toBeInstanceOf(TypeError);
            return;
          }
          expect(vvDecode(vvEncode(out))).toEqual(out);
        },
      ),
    );
    expect(() => vvDecode("a=0")).toThrow(TypeError);
    expect(() => vvDecode("a=1,a=2")).toThrow(TypeError);
    expect(() => vvDecode("__proto__=1")).toThrow(TypeError);
  });
});
