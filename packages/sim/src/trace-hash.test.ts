import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EventQueue } from "./event-queue.js";
import { runSimulation } from "./run-simulation.js";
import { echoEngine } from "./testing.js";

describe("EventQueue", () => {
  it("pops by time, then by insertion order", () => {
    const q = new EventQueue<{ time: number; seq: number }>();
    const times = [5, 1, 3, 1, 5, 0, 3, 2, 9, 1];
    for (const [seq, time] of times.entries()) q.push({ time, seq });
    const out: [number, number][] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push([e.time, e.seq]);
    const expected = times
      .map((t, i) => [t, i] as [number, number])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(out).toEqual(expected);
  });
});

describe("trace hash across processes", () => {
  it("is the same in a separate Node process", () => {
    const config = { engine: echoEngine, seed: 77, faults: "all" as const, workload: { ops: 60 } };
    const here = runSimulation(config).traceHash;
    const script = fileURLToPath(new URL("../test-fixtures/hash-run.ts", import.meta.url));
    const out = execFileSync(process.execPath, ["--import", "tsx", script, "77", "60"], {
      encoding: "utf8",
    }).trim();
    expect(out).toBe(here);
  });
});
