import { describe, expect, it } from "vitest";
import { lockstep } from "./lockstep.js";
import { deepClone } from "./state.js";

class Counter {
  n = 0;
  shared: { n: number } = { n: 0 };
}

describe("lockstep", () => {
  const add = (k: number) => (c: Counter) => {
    c.n += k;
    c.shared.n += k;
  };
  const observe = (c: Counter) => `${c.n}/${c.shared.n}`;

  it("finds no divergence between an original and an independent clone", () => {
    const a = new Counter();
    add(2)(a);
    expect(lockstep(a, deepClone(a), [add(1), add(3)], observe)).toBeUndefined();
  });

  it("reports the first step at which a clone sharing state with its original shows something else", () => {
    const a = new Counter();
    const shallow = Object.assign(new Counter(), a);
    expect(lockstep(a, shallow, [add(1), add(3)], observe)).toEqual({
      step: 1,
      original: "1/1",
      clone: "1/2",
    });
  });

  it("checks with `cloneOnly` that an input only the clone gets leaves the original as it was", () => {
    const a = new Counter();
    expect(lockstep(a, deepClone(a), [add(1)], observe, add(5))).toBeUndefined();
    const shared = Object.assign(new Counter(), { shared: a.shared });
    expect(lockstep(a, shared, [], observe, add(5))?.step).toBe(0);
    const b = new Counter();
    b.shared = a.shared;
    b.n = a.n;
    expect(lockstep(a, b, [], observe, add(5))).toMatchObject({ step: 1, original: "1/6" });
    expect(lockstep(a, deepClone(a), [], observe, () => {})?.step).toBe(1);
  });

  it("catches a clone that starts off different at step 0", () => {
    const a = new Counter();
    const b = new Counter();
    b.n = 5;
    expect(lockstep(a, b, [], observe)?.step).toBe(0);
  });
});
