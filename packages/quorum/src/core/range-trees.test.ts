import { Rng } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { merkleBucket, merkleBuild } from "./merkle.js";
import { RangeTrees } from "./range-trees.js";

describe("range trees", () => {
  it("stay equal to a tree built from scratch while keys change, per range", () => {
    const rng = new Rng(3);
    const trees = new RangeTrees();
    const truth = new Map<string, Map<string, string>>([
      ["a", new Map()],
      ["b", new Map()],
    ]);
    for (let step = 0; step < 400; step++) {
      const range = rng.pick(["a", "b"]);
      const key = `k${rng.int(60)}`;
      const m = truth.get(range)!;
      if (rng.chance(0.2)) {
        m.delete(key);
        trees.update(range, key, undefined);
      } else {
        const d = `d${rng.nextU32()}`;
        m.set(key, d);
        trees.update(range, key, d);
      }
      if (step % 37 === 0 || step === 399) {
        for (const [r, keys] of truth) expect(trees.tree(r)).toEqual(merkleBuild(keys));
      }
    }
    const a = truth.get("a")!;
    const bucket = merkleBucket([...a.keys()][0]!, 16);
    expect(trees.keysIn("a", [bucket])).toEqual(
      [...a.keys()].filter((k) => merkleBucket(k, 16) === bucket).sort(),
    );
  });
});
