import { describe, expect, it } from "vitest";
import { resolveOptions } from "./engine-options.js";
import { SessionParking, sessionWaitMs, sessionWaitOption } from "./session-parking.js";
import { deepClone, fingerprint } from "./state.js";
import type { ClientRequest } from "./types.js";

const get = (id: string): ClientRequest => ({ id, op: "get", key: "k" });

describe("SessionParking", () => {
  it("serves a request whose need is met, refuses one that may not wait, parks the rest", () => {
    const p = new SessionParking<number>();
    expect(p.admit(get("a"), 3, true, 0, 100)).toBe("serve");
    expect(p.admit(get("b"), 3, false, 0, 0)).toBe("refuse");
    expect(p.admit(get("c"), 3, false, 0, 100)).toBe("parked");
    expect(p.size).toBe(1);
  });

  it("settles in arrival order: serves what is met, refuses at the deadline, keeps the rest", () => {
    const p = new SessionParking<number>();
    p.admit(get("a"), 5, false, 0, 100);
    p.admit(get("b"), 2, false, 10, 100);
    p.admit(get("c"), 9, false, 20, 100);
    const log: string[] = [];
    const settle = (now: number, held: number) =>
      p.settle(
        now,
        (need) => held >= need,
        (x) => log.push(`serve ${x.req.id}`),
        (x) => log.push(`refuse ${x.req.id}`),
      );
    settle(50, 2);
    expect(log).toEqual(["serve b"]);
    settle(99, 2);
    expect(log).toEqual(["serve b"]);
    settle(100, 2);
    expect(log).toEqual(["serve b", "refuse a"]);
    settle(110, 9);
    expect(log).toEqual(["serve b", "refuse a", "serve c"]);
    expect(p.size).toBe(0);
  });

  it("keeps a request parked by a callback during settle", () => {
    const p = new SessionParking<number>();
    p.admit(get("a"), 1, false, 0, 100);
    p.admit(get("b"), 9, false, 0, 100);
    p.settle(
      10,
      (need) => need === 1,
      () => p.admit(get("c"), 7, false, 10, 100),
      () => {},
    );
    const left: string[] = [];
    p.settle(
      500,
      () => false,
      () => {},
      (x) => left.push(x.req.id),
    );
    expect(left).toEqual(["b", "c"]);
  });

  it("is plain data: a clone has the same fingerprint and is independent", () => {
    const p = new SessionParking<{ n1: number }>();
    p.admit(get("a"), { n1: 2 }, false, 0, 100);
    const c = deepClone(p);
    expect(fingerprint(c)).toBe(fingerprint(p));
    c.admit(get("b"), { n1: 3 }, false, 0, 100);
    expect(p.size).toBe(1);
    expect(c.size).toBe(2);
  });
});

describe("sessionWaitMs option", () => {
  it("is one spec per engine default, read back as a number >= 0", () => {
    const spec = sessionWaitOption(300, "how long");
    expect(spec).toEqual({ name: "sessionWaitMs", type: "number", default: 300, description: "how long" });
    expect(sessionWaitMs(resolveOptions([spec]), 300)).toBe(300);
    expect(sessionWaitMs(resolveOptions([spec], { sessionWaitMs: "0" }), 300)).toBe(0);
    expect(sessionWaitMs({ sessionWaitMs: -1 }, 300)).toBe(300);
    expect(sessionWaitMs({}, 500)).toBe(500);
  });
});
