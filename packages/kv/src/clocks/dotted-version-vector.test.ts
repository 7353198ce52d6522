import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DvvSet,
  dvvDiscard,
  dvvDots,
  dvvEquals,
  dvvEvent,
  dvvJoin,
  dvvLess,
  dvvNew,
  dvvSize,
  dvvSync,
  dvvUpdate,
  dvvValues,
  isDvvSet,
} from "./dotted-version-vector.js";
import { type VersionVector, vvCompare, vvDominates, vvGet } from "./version-vector.js";

const NODES = ["a", "b", "c"];

/** One step of a random run: clients read from a node, write to a node with a context they read, nodes sync. */
type Step =
  | { kind: "read"; client: number; node: number }
  | { kind: "write"; client: number; node: number; blind: boolean }
  | { kind: "sync"; from: number; to: number };

const step = (clients: number): fc.Arbitrary<Step> =>
  fc.oneof(
    fc.record({
      kind: fc.constant("read" as const),
      client: fc.nat(clients - 1),
      node: fc.nat(NODES.length - 1),
    }),
    fc.record({
      kind: fc.constant("write" as const),
      client: fc.nat(clients - 1),
      node: fc.nat(NODES.length - 1),
      blind: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant("sync" as const),
      from: fc.nat(NODES.length - 1),
      to: fc.nat(NODES.length - 1),
    }),
  );

interface Write {
  value: string;
  node: string;
  counter: number;
  /** The context the write was made with: every write it covers is in its causal past. */
  context: VersionVector;
}

/**
 * run executes steps against one DVV set per node, and an oracle that knows every write and its causal past.
 * Values are unique ("w0", "w1", …) so a value names a write.
 */
function run(steps: Step[], clients: number) {
  const replicas: DvvSet<string>[] = NODES.map(() => dvvNew());
  const contexts: VersionVector[] = Array.from({ length: clients }, () => ({}));
  const writes: Write[] = [];
  const snapshots: DvvSet<string>[] = [];
  for (const s of steps) {
    if (s.kind === "read") {
      contexts[s.client] = dvvJoin(replicas[s.node]!);
    } else if (s.kind === "write") {
      const node = NODES[s.node]!;
      const context = s.blind ? {} : contexts[s.client]!;
      const value = `w${writes.length}`;
      replicas[s.node] = dvvUpdate(replicas[s.node]!, context, node, value);
      const dot = dvvDots(replicas[s.node]!).find((d) => d.value === value)!.dot;
      writes.push({ value, node, counter: dot.counter, context });
      // A client reads its own write's context back (the reply to a put carries it).
      contexts[s.client] = dvvJoin(replicas[s.node]!);
    } else {
      replicas[s.to] = dvvSync(replicas[s.to]!, replicas[s.from]!);
    }
    snapshots.push(...replicas);
  }
  return { replicas, writes, snapshots };
}

/** expectedSiblings is the oracle: writes the replica has seen that no write it has seen covers. */
function expectedSiblings(replica: DvvSet<string>, writes: Write[]): string[] {
  const seen = dvvJoin(replica);
  const known = writes.filter((w) => vvGet(seen, w.node) >= w.counter);
  return known
    .filter((w) => !known.some((x) => x !== w && vvGet(x.context, w.node) >= w.counter))
    .map((w) => w.value)
    .sort();
}

const runArb = fc
  .integer({ min: 1, max: 6 })
  .chain((clients) => fc.array(step(clients), { maxLength: 40 }).map((steps) => ({ clients, steps })));

describe("dotted version vector set", () => {
  it("siblings are exactly the writes a replica has seen that no write it has seen supersedes", () => {
    fc.assert(
      fc.property(runArb, ({ clients, steps }) => {
        const { replicas, writes } = run(steps, clients);
        for (const r of replicas) {
          expect(isDvvSet(r)).toBe(true);
          expect(dvvValues(r).slice().sort()).toEqual(expectedSiblings(r, writes));
        }
      }),
    );
  });

  it("sync is commutative, associative and idempotent on reachable sets", () => {
    fc.assert(
      fc.property(runArb, fc.nat(), fc.nat(), fc.nat(), ({ clients, steps }, i, j, k) => {
        const { snapshots } = run(steps, clients);
        if (snapshots.length === 0) return;
        const x = snapshots[i % snapshots.length]!;
        const y = snapshots[j % snapshots.length]!;
        const z = snapshots[k % snapshots.length]!;
        expect(dvvSync(x, y)).toEqual(dvvSync(y, x));
        expect(dvvSync(dvvSync(x, y), z)).toEqual(dvvSync(x, dvvSync(y, z)));
        expect(dvvSync(x, x)).toEqual(x);
        // The merged context is the join of both contexts.
        const m = dvvJoin(dvvSync(x, y));
        expect(vvDominates(m, dvvJoin(x)) && vvDominates(m, dvvJoin(y))).toBe(true);
      }),
    );
  });

  it("a write with a read's context supersedes exactly what that read saw (siblings and what they superseded)", () => {
    fc.assert(
      fc.property(
        runArb,
        fc.nat(NODES.length - 1),
        fc.nat(NODES.length - 1),
        ({ clients, steps }, readAt, writeAt) => {
          const { replicas } = run(steps, clients);
          const seen = dvvValues(replicas[readAt]!);
          const context = dvvJoin(replicas[readAt]!);
          const target = replicas[writeAt]!;
          const after = dvvUpdate(target, context, NODES[writeAt]!, "new");
          const kept = dvvValues(after);
          expect(kept).toContain("new");
          // The read's context covers what it saw and what it knew to be obsolete; nothing else is superseded.
          for (const { dot, value } of dvvDots(target)) {
            expect(kept.includes(value)).toBe(vvGet(context, dot.node) < dot.counter);
            if (seen.includes(value)) expect(kept).not.toContain(value);
          }
          expect(vvCompare(dvvJoin(target), dvvJoin(after))).toBe("before");
        },
      ),
    );
  });

  it("concurrent writes both survive, and a later read-modify-write replaces both", () => {
    let a = dvvUpdate(dvvNew<string>(), {}, "a", "v1");
    let b = dvvSync(dvvNew<string>(), a);
    const ctx = dvvJoin(a);
    a = dvvUpdate(a, ctx, "a", "x");
    b = dvvUpdate(b, ctx, "b", "y");
    const merged = dvvSync(a, b);
    expect(dvvValues(merged).sort()).toEqual(["x", "y"]);
    expect(dvvSync(b, a)).toEqual(merged);
    const resolved = dvvUpdate(merged, dvvJoin(merged), "c", "z");
    expect(dvvValues(resolved)).toEqual(["z"]);
    // Replicas that still hold x and y learn they are obsolete on sync.
    expect(dvvValues(dvvSync(a, resolved))).toEqual(["z"]);
    expect(dvvValues(dvvSync(resolved, b))).toEqual(["z"]);
  });

  it("two writes at the same node with the same stale context are siblings, not overwrites", () => {
    let s = dvvUpdate(dvvNew<string>(), {}, "a", "v1");
    const ctx = dvvJoin(s);
    s = dvvUpdate(s, ctx, "a", "x");
    s = dvvUpdate(s, ctx, "a", "y");
    expect(dvvValues(s).sort()).toEqual(["x", "y"]);
    expect(dvvDots(s).map((d) => d.dot)).toEqual([
      { node: "a", counter: 3 },
      { node: "a", counter: 2 },
    ]);
  });

  it("size is bounded by the number of coordinating nodes, not the number of clients", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 40 })
          .chain((clients) =>
            fc.array(step(clients), { maxLength: 60 }).map((steps) => ({ clients, steps })),
          ),
        ({ clients, steps }) => {
          const { replicas } = run(steps, clients);
          for (const r of replicas) {
            expect(r.entries.length).toBeLessThanOrEqual(NODES.length);
            expect(Object.keys(dvvJoin(r)).length).toBeLessThanOrEqual(NODES.length);
          }
        },
      ),
    );
  });

  it("read-modify-write clients keep one sibling however many they are", () => {
    let s = dvvNew<string>();
    for (let i = 0; i < 100; i++) s = dvvUpdate(s, dvvJoin(s), NODES[i % 3]!, `c${i}`);
    expect(dvvValues(s)).toEqual(["c99"]);
    expect(dvvSize(s)).toBe(1);
    expect(s.entries.length).toBe(3);
  });

  it("discard raises the context and event adds one dot", () => {
    const s = dvvDiscard(dvvNew<string>(), { a: 2, b: 1 });
    expect(dvvJoin(s)).toEqual({ a: 2, b: 1 });
    expect(dvvValues(s)).toEqual([]);
    const t = dvvEvent(s, "a", "v");
    expect(dvvDots(t)).toEqual([{ dot: { node: "a", counter: 3 }, value: "v" }]);
    expect(dvvLess(s, t)).toBe(true);
    expect(dvvLess(t, s)).toBe(false);
    expect(dvvEquals(t, structuredClone(t))).toBe(true);
  });

  it("state survives structuredClone and JSON", () => {
    fc.assert(
      fc.property(runArb, ({ clients, steps }) => {
        for (const r of run(steps, clients).replicas) {
          expect(structuredClone(r)).toEqual(r);
          expect(JSON.parse(JSON.stringify(r))).toEqual(r);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("isDvvSet rejects malformed data", () => {
    expect(isDvvSet({ entries: [["a", 1, ["x", "y"]]] })).toBe(false);
    expect(
      isDvvSet({
        entries: [
          ["b", 1, []],
          ["a", 1, []],
        ],
      }),
    ).toBe(false);
    expect(isDvvSet({ entries: [["__proto__", 1, []]] })).toBe(false);
    expect(isDvvSet({ entries: [["a", -1, []]] })).toBe(false);
    expect(isDvvSet(null)).toBe(false);
    expect(isDvvSet({ entries: [["a", 2, ["x"]]] }, (v) => typeof v === "string")).toBe(true);
  });
});
