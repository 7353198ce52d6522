import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type HlcStamp,
  type HlcTimestamp,
  hlcCompare,
  hlcCompareStamps,
  hlcNew,
  hlcNow,
  hlcReceive,
} from "./hybrid-logical-clock.js";
import { type VersionVector, vvCompare, vvIncrement, vvMerge } from "./version-vector.js";

const ts = fc.record({ l: fc.nat({ max: 50 }), c: fc.nat({ max: 5 }) });
const localEvent = fc.oneof(
  fc.record({ kind: fc.constant("now" as const), physical: fc.nat({ max: 100 }) }),
  fc.record({ kind: fc.constant("receive" as const), physical: fc.nat({ max: 100 }), remote: ts }),
);

describe("hybrid logical clock", () => {
  it("is strictly monotonic, l ≥ physical, and receive > remote, even as physical time goes backwards", () => {
    fc.assert(
      fc.property(fc.array(localEvent, { maxLength: 50 }), (events) => {
        const clock = hlcNew();
        let prev: HlcTimestamp = { l: 0, c: 0 };
        let maxHeard = 0;
        for (const e of events) {
          const t = e.kind === "now" ? hlcNow(clock, e.physical) : hlcReceive(clock, e.remote, e.physical);
          expect(hlcCompare(prev, t)).toBe(-1);
          expect(t.l).toBeGreaterThanOrEqual(e.physical);
          if (e.kind === "receive") expect(hlcCompare(e.remote, t)).toBe(-1);
          // Kulkarni et al. Theorem: l never exceeds the largest physical time heard of (it does not run ahead).
          maxHeard = Math.max(maxHeard, e.physical, e.kind === "receive" ? e.remote.l : 0);
          expect(t.l).toBeLessThanOrEqual(maxHeard);
          expect(clock).toEqual(t);
          prev = t;
        }
      }),
    );
  });

  it("orders causally related events across skewed nodes (e → f ⇒ hlc(e) < hlc(f))", () => {
    const N = 3;
    const action = fc.record({
      node: fc.nat(N - 1),
      send: fc.boolean(),
      deliver: fc.nat(),
      advance: fc.integer({ min: -20, max: 30 }),
    });
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: N, maxLength: N }),
        fc.array(action, { maxLength: 60 }),
        (skews, actions) => {
          const clocks = skews.map(() => hlcNew());
          const physical = skews.slice();
          const vcs: VersionVector[] = skews.map(() => ({}));
          const inflight: { to: number; ts: HlcTimestamp; vc: VersionVector }[] = [];
          const events: { ts: HlcTimestamp; vc: VersionVector }[] = [];
          for (const a of actions) {
            physical[a.node] = Math.max(0, physical[a.node]! + a.advance);
            const id = `n${a.node}`;
            let t: HlcTimestamp;
            const msgIdx = inflight.findIndex((m) => m.to === a.node);
            if (!a.send && msgIdx >= 0 && a.deliver % 2 === 0) {
              const [m] = inflight.splice(msgIdx, 1);
              t = hlcReceive(clocks[a.node]!, m!.ts, physical[a.node]!);
              vcs[a.node] = vvIncrement(vvMerge(vcs[a.node]!, m!.vc), id);
            } else {
              t = hlcNow(clocks[a.node]!, physical[a.node]!);
              vcs[a.node] = vvIncrement(vcs[a.node]!, id);
              if (a.send) inflight.push({ to: a.deliver % N, ts: t, vc: vcs[a.node]! });
            }
            events.push({ ts: t, vc: vcs[a.node]! });
          }
          for (const e of events) {
            for (const f of events)
              if (vvCompare(e.vc, f.vc) === "before") expect(hlcCompare(e.ts, f.ts)).toBe(-1);
          }
        },
      ),
    );
  });

  it("receive takes the remote's counter when the remote is ahead", () => {
    const clock = hlcNew();
    expect(hlcNow(clock, 10)).toEqual({ l: 10, c: 0 });
    expect(hlcNow(clock, 10)).toEqual({ l: 10, c: 1 });
    expect(hlcNow(clock, 5)).toEqual({ l: 10, c: 2 });
    expect(hlcReceive(clock, { l: 20, c: 4 }, 12)).toEqual({ l: 20, c: 5 });
    expect(hlcReceive(clock, { l: 20, c: 9 }, 12)).toEqual({ l: 20, c: 10 });
    expect(hlcNow(clock, 30)).toEqual({ l: 30, c: 0 });
    expect(hlcNow(clock, 30.7)).toEqual({ l: 30, c: 1 });
  });

  it("stamps with node tie-break form a total order", () => {
    const stamp = fc.record({
      l: fc.nat({ max: 3 }),
      c: fc.nat({ max: 2 }),
      node: fc.constantFrom("n1", "n2", "n3"),
    });
    fc.assert(
      fc.property(stamp, stamp, stamp, (a: HlcStamp, b: HlcStamp, c: HlcStamp) => {
        expect(hlcCompareStamps(a, b)).toBe(-hlcCompareStamps(b, a) || 0);
        if (hlcCompareStamps(a, b) === 0) expect(a).toEqual(b);
        if (hlcCompareStamps(a, b) <= 0 && hlcCompareStamps(b, c) <= 0)
          expect(hlcCompareStamps(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });

  it("rejects bad physical times and remote timestamps", () => {
    expect(() => hlcNow(hlcNew(), Number.NaN)).toThrow(TypeError);
    expect(() => hlcNow(hlcNew(), -1)).toThrow(TypeError);
    expect(() => hlcReceive(hlcNew(), { l: 1.5, c: 0 }, 1)).toThrow(TypeError);
  });

  it("state survives structuredClone and JSON", () => {
    const c = hlcNew();
    hlcReceive(c, { l: 99, c: 3 }, 5);
    expect(structuredClone(c)).toEqual(c);
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });
});
