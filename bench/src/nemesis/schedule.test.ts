import { Rng } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { faketimeSpec } from "./procs.js";
import { parseFaults, parseScheduleFile, parseTarget, pickTargets, planSchedule } from "./schedule.js";

describe("planSchedule", () => {
  const plan = (seed: number) =>
    planSchedule({
      seed,
      kinds: ["kill", "pause", "partition", "skew"],
      target: "leader",
      intervalMs: 5000,
      durationMs: 60_000,
    });

  it("is the same for the same seed and differs for another", () => {
    expect(plan(1)).toEqual(plan(1));
    expect(plan(2)).not.toEqual(plan(1));
  });

  it("heals every fault before the next one and before the workload ends", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const faults = plan(seed);
      expect(faults.length).toBe(11);
      for (const [i, f] of faults.entries()) {
        expect(f.atMs).toBe(5000 * (i + 1));
        expect(f.holdMs).toBeGreaterThan(0);
        expect(f.atMs + f.holdMs).toBeLessThan(Math.min(60_000, f.atMs + 5000));
        if (f.kind === "skew") {
          expect(Math.abs(f.skew!.offsetMs)).toBeGreaterThanOrEqual(200);
          expect(f.skew!.rate).toBeGreaterThanOrEqual(0.95);
          expect(f.skew!.rate).toBeLessThanOrEqual(1.05);
        }
      }
    }
  });

  it("draws only the kinds asked for", () => {
    const kinds = new Set(
      planSchedule({ seed: 9, kinds: ["pause"], target: "random", intervalMs: 1000, durationMs: 20_000 }).map(
        (f) => f.kind,
      ),
    );
    expect([...kinds]).toEqual(["pause"]);
  });
});

describe("pickTargets", () => {
  const ids = ["n1", "n2", "n3", "n4", "n5"];
  it("hits the leader, a random node where there is none, or a strict minority", () => {
    const rng = new Rng(1);
    expect(pickTargets("leader", ids, "n4", rng)).toEqual(["n4"]);
    expect(ids).toContain(pickTargets("leader", ids, undefined, rng)[0]);
    for (let i = 0; i < 20; i++) {
      const m = pickTargets("minority", ids, undefined, rng);
      expect(m.length).toBe(2);
      expect(new Set(m).size).toBe(2);
    }
    expect(pickTargets("minority", ["n1", "n2", "n3"], undefined, rng).length).toBe(1);
    expect(pickTargets({ nodes: ["n2"] }, ids, "n1", rng)).toEqual(["n2"]);
  });
});

describe("parsing", () => {
  it("reads targets and faults, refusing what is not one", () => {
    expect(parseTarget("minority", ["n1", "n2", "n3"])).toBe("minority");
    expect(parseTarget("n1, n3", ["n1", "n2", "n3"])).toEqual({ nodes: ["n1", "n3"] });
    expect(() => parseTarget("n7", ["n1", "n2", "n3"])).toThrow(/--target/);
    expect(parseFaults("kill,pause,kill")).toEqual(["kill", "pause"]);
    expect(() => parseFaults("")).toThrow(/--faults/);
  });

  it("validates a schedule file and keeps the nodes each fault hit", () => {
    const f = parseScheduleFile({
      engine: "raft",
      options: { read: "lease" },
      nodes: 3,
      seed: 4,
      durationMs: 10_000,
      faults: [
        {
          atMs: 5000,
          kind: "skew",
          target: { nodes: ["n2"] },
          holdMs: 4000,
          skew: { offsetMs: -500, rate: 1.02 },
        },
      ],
    });
    expect(f.faults[0]).toEqual({
      atMs: 5000,
      kind: "skew",
      target: { nodes: ["n2"] },
      holdMs: 4000,
      skew: { offsetMs: -500, rate: 1.02 },
    });
    expect(() => parseScheduleFile({ ...f, faults: [{ atMs: 1, kind: "kill", holdMs: 1 }] })).toThrow(
      /node ids/,
    );
    expect(() =>
      parseScheduleFile({ ...f, faults: [{ atMs: 1, kind: "explode", holdMs: 1, nodes: ["n1"] }] }),
    ).toThrow(/kind/);
    expect(() => parseScheduleFile([])).toThrow(/bad schedule/);
  });

  it("renders a skew as libfaketime's offset-and-rate string", () => {
    expect(faketimeSpec({ offsetMs: 1500, rate: 1.02 })).toBe("+1.500s x1.02");
    expect(faketimeSpec({ offsetMs: -250, rate: 0.97 })).toBe("-0.250s x0.97");
  });
});
