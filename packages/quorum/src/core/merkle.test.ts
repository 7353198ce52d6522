import { Rng } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { differingKeys, merkleBucket, merkleBuild, merkleDiff } from "./merkle.js";

function randomReplica(rng: Rng, keys: number): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < keys; i++) m.set(`key-${i}`, `d${rng.nextU32()}`);
  return m;
}

describe("merkle", () => {
  it("equal replicas have equal roots and no differing bucket", () => {
    const a = randomReplica(new Rng(1), 200);
    const b = new Map([...a].reverse());
    expect(merkleBuild(a).nodes[0]).toBe(merkleBuild(b).nodes[0]);
    expect(merkleDiff(merkleBuild(a), merkleBuild(b))).toEqual([]);
  });

  it("the diff finds exactly the keys that differ: changed, missing on either side", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Rng(seed);
      const a = randomReplica(rng, 150);
      const b = new Map(a);
      const expected = new Set<string>();
      for (let i = 0; i < rng.range(0, 6); i++) {
        const k = `key-${rng.int(150)}`;
        b.set(k, `changed-${i}`);
        expected.add(k);
      }
      const gone = `key-${rng.int(150)}`;
      b.delete(gone);
      expected.add(gone);
      b.set("only-in-b", "x");
      expected.add("only-in-b");
      const buckets = merkleDiff(merkleBuild(a), merkleBuild(b));
      // Only buckets holding a differing key are reported...
      expect(new Set(buckets)).toEqual(new Set([...expected].map((k) => merkleBucket(k, 16))));
      // ...and comparing keys inside them yields exactly the differing ones.
      expect(differingKeys(a, b, buckets)).toEqual([...expected].sort());
    }
  });

  it("empty trees agree, and a tree with one key differs from an empty one in that key's bucket only", () => {
    const empty = merkleBuild([]);
    expect(merkleDiff(empty, merkleBuild([]))).toEqual([]);
    expect(merkleDiff(empty, merkleBuild([["k", "d"]]))).toEqual([merkleBucket("k", 16)]);
  });

  it("refuses a leaf count that is not a power of two", () => {
    expect(() => merkleBuild([], 12)).toThrow(TypeError);
  });
});
