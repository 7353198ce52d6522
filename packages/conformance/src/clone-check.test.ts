import { MemoryCore, memoryEngine } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { checkClones } from "./clone-check.js";

/** A clone that is the original itself: the two "branches" share every field. */
class SharedClone extends MemoryCore {
  override clone(): this {
    return this;
  }
}

/** A clone that loses part of the state (the data map): it answers reads differently. */
class ForgetfulClone extends MemoryCore {
  override clone(): this {
    return new ForgetfulClone({ id: this.id, records: new Map() }) as this;
  }
}

describe("checkClones", () => {
  it("passes a core whose clone is a true copy", () => {
    expect(checkClones(memoryEngine).detail).toBeUndefined();
  });

  it("catches a clone that shares state with its original, and one that misses part of it", () => {
    for (const Core of [SharedClone, ForgetfulClone]) {
      const r = checkClones({ ...memoryEngine, create: (init) => new Core(init) });
      expect(r.detail, Core.name).toBeDefined();
    }
  });
});
