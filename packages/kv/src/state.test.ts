import { describe, expect, it } from "vitest";
import { Rng } from "./rng.js";
import { canonicalEncode, deepClone, fingerprint } from "./state.js";

class Box {
  constructor(
    public items: Map<string, number[]>,
    public tags: Set<string>,
  ) {}
  total(): number {
    let n = 0;
    for (const v of this.items.values()) for (const x of v) n += x;
    return n;
  }
}

describe("deepClone", () => {
  it("copies Maps, Sets, arrays and class instances, keeping prototypes and independence", () => {
    const a = { box: new Box(new Map([["k", [1, 2]]]), new Set(["x"])), n: 1 };
    const b = deepClone(a);
    expect(b.box).toBeInstanceOf(Box);
    expect(b.box.total()).toBe(3);
    b.box.items.get("k")!.push(4);
    b.box.tags.add("y");
    expect(a.box.total()).toBe(3);
    expect(a.box.tags.has("y")).toBe(false);
  });

  it("keeps shared references shared", () => {
    const shared = [1];
    const c = deepClone({ a: shared, b: shared });
    expect(c.a).toBe(c.b);
  });

  it("copies an rng so that both continue the same sequence", () => {
    const r = new Rng(7);
    r.next();
    const c = deepClone(r);
    expect([c.next(), c.next()]).toEqual([r.next(), r.next()]);
  });

  it("refuses functions", () => {
    expect(() => deepClone({ f: () => 1 })).toThrow(/no functions/);
  });
});

describe("fingerprint", () => {
  it("does not depend on insertion order of keys, Map entries or Set members", () => {
    const a = {
      x: 1,
      y: new Map([
        ["a", 1],
        ["b", 2],
      ]),
      z: new Set([1, 2]),
    };
    const b = {
      z: new Set([2, 1]),
      y: new Map([
        ["b", 2],
        ["a", 1],
      ]),
      x: 1,
    };
    expect(fingerprint(a)).toBe(fingerprint(b));
  });

  it("tells apart what differs: array order, types, class, -0, undefined vs missing only where it is", () => {
    expect(fingerprint([1, 2])).not.toBe(fingerprint([2, 1]));
    expect(fingerprint({ a: "1" })).not.toBe(fingerprint({ a: 1 }));
    expect(fingerprint(new Box(new Map(), new Set()))).not.toBe(
      fingerprint({ items: new Map(), tags: new Set() }),
    );
    expect(canonicalEncode(-0)).not.toBe(canonicalEncode(0));
    expect(fingerprint({ a: 1, b: undefined })).toBe(fingerprint({ a: 1 }));
    expect(fingerprint(new Map([["a", 1]]))).not.toBe(fingerprint({ a: 1 }));
  });

  it("is 16 hex digits and equals for a clone", () => {
    const s = { box: new Box(new Map([["k", [1]]]), new Set(["t"])), rng: new Rng(3) };
    expect(fingerprint(s)).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint(deepClone(s))).toBe(fingerprint(s));
  });

  it("refuses cycles and functions", () => {
    const c: Record<string, unknown> = {};
    c.self = c;
    expect(() => fingerprint(c)).toThrow(/cycle/);
    expect(() => fingerprint({ f() {} })).toThrow(/no functions/);
  });
});
