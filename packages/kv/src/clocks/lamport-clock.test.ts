import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type LamportStamp,
  lamportCompare,
  lamportNew,
  lamportReceive,
  lamportSend,
  lamportTick,
} from "./lamport-clock.js";

const event = fc.oneof(
  fc.constant({ kind: "tick" as const }),
  fc.constant({ kind: "send" as const }),
  fc.record({ kind: fc.constant("receive" as const), remote: fc.nat({ max: 1000 }) }),
);

describe("Lamport clock", () => {
  it("is strictly monotonic over any sequence of local, send and receive events", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        const clock = lamportNew();
        let prev = clock.time;
        for (const e of events) {
          const t =
            e.kind === "tick"
              ? lamportTick(clock)
              : e.kind === "send"
                ? lamportSend(clock)
                : lamportReceive(clock, e.remote);
          expect(t).toBeGreaterThan(prev);
          expect(clock.time).toBe(t);
          prev = t;
        }
      }),
    );
  });

  it("receive is after both the message and the local history (max + 1)", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), (local, remote) => {
        const clock = { time: local };
        const t = lamportReceive(clock, remote);
        expect(t).toBeGreaterThan(remote);
        expect(t).toBeGreaterThan(local);
        expect(t).toBe(Math.max(local, remote) + 1);
      }),
    );
  });

  it("orders a message's receipt after its send across nodes", () => {
    const a = lamportNew();
    const b = lamportNew();
    for (let i = 0; i < 5; i++) lamportTick(b);
    const sent = lamportSend(a);
    expect(lamportReceive(b, sent)).toBe(6);
    expect(lamportReceive(a, lamportSend(b))).toBe(8);
  });

  it("compare is a total order with node id tie-break", () => {
    const stamp = fc.record({ time: fc.nat({ max: 5 }), node: fc.constantFrom("n1", "n2", "n3") });
    fc.assert(
      fc.property(stamp, stamp, stamp, (a: LamportStamp, b: LamportStamp, c: LamportStamp) => {
        expect(lamportCompare(a, b)).toBe(-lamportCompare(b, a) || 0);
        if (lamportCompare(a, b) === 0) expect(a).toEqual(b);
        if (lamportCompare(a, b) <= 0 && lamportCompare(b, c) <= 0)
          expect(lamportCompare(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });

  it("rejects a remote time that is not a non-negative integer", () => {
    expect(() => lamportReceive(lamportNew(), -1)).toThrow(TypeError);
    expect(() => lamportReceive(lamportNew(), Number.NaN)).toThrow(TypeError);
  });

  it("state survives structuredClone and JSON", () => {
    const c = lamportNew();
    lamportReceive(c, 41);
    expect(structuredClone(c)).toEqual(c);
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });
});
