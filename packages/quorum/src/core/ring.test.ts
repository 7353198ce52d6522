import { describe, expect, it } from "vitest";
import { groupsOf, keyPosition, preferenceList, replicaGroup, ringNew, ringWalk } from "./ring.js";

const nodes = ["n1", "n2", "n3", "n4", "n5"];

describe("ring", () => {
  it("gives every key N distinct primaries, then every other node as fallbacks", () => {
    const ring = ringNew(nodes, 8);
    for (let i = 0; i < 200; i++) {
      const walk = ringWalk(ring, `key-${i}`);
      expect([...walk].sort()).toEqual(nodes);
      expect(preferenceList(ring, `key-${i}`, 3)).toEqual(walk.slice(0, 3));
    }
  });

  it("is the same on every node: built from the member ids only", () => {
    const a = ringNew(nodes, 8);
    const b = ringNew([...nodes].reverse(), 8);
    expect(a.tokens).toEqual(b.tokens);
    expect(preferenceList(a, "x", 3)).toEqual(preferenceList(b, "x", 3));
  });

  it("spreads keys over nodes roughly evenly with virtual nodes", () => {
    const ring = ringNew(nodes, 32);
    const first = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const p = preferenceList(ring, `k${i}`, 1)[0]!;
      first.set(p, (first.get(p) ?? 0) + 1);
    }
    for (const n of nodes) {
      // A perfect split is 1000 each; 32 tokens per node keep every node within a factor of two of it.
      expect(first.get(n) ?? 0).toBeGreaterThan(500);
      expect(first.get(n) ?? 0).toBeLessThan(2000);
    }
  });

  it("moves only the keys of a removed node's ranges when membership changes (consistent hashing)", () => {
    const five = ringNew(nodes, 16);
    const four = ringNew(
      nodes.filter((n) => n !== "n5"),
      16,
    );
    let moved = 0;
    for (let i = 0; i < 2000; i++) {
      const a = preferenceList(five, `k${i}`, 1)[0];
      const b = preferenceList(four, `k${i}`, 1)[0];
      if (a !== b) {
        moved++;
        expect(a).toBe("n5");
      }
    }
    expect(moved).toBeGreaterThan(0);
  });

  it("names each key's range by its replica set, and lists a node's ranges consistently", () => {
    const ring = ringNew(nodes, 8);
    const groups = new Map(nodes.map((n) => [n, new Set(groupsOf(ring, n, 3))]));
    for (let i = 0; i < 300; i++) {
      const g = replicaGroup(ring, `k${i}`, 3);
      const members = g.split(",");
      expect(members).toEqual([...preferenceList(ring, `k${i}`, 3)].sort());
      for (const n of nodes) expect(groups.get(n)!.has(g)).toBe(members.includes(n));
    }
  });

  it("hashes keys to well-spread positions", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(keyPosition(`k${i}`) >>> 24);
    expect(seen.size).toBeGreaterThan(200);
  });
});
