import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EventQueue } from "./event-queue.js";
import { runSimulation } from "./run-simulation.js";
import { echoEngine } from "./testing.js";
import { TraceHash } from "./trace-hash.js";

describe("TraceHash", () => {
  it("is FNV-1a 64: the empty digest is the offset basis", () => {
    expect(new TraceHash().hex()).toBe("cbf29ce484222325");
  });

  it("matches a BigInt FNV-1a 64 over the same 16-bit units", () => {
    const units = [0, 1, 0xffff, 0x1234, 42, 0x8000];
    let ref = 0xcbf29ce484222325n;
    for (const u of units) {
      ref ^= BigInt(u);
      ref = (ref * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    const h = new TraceHash();
    for (let i = 0; i < units.length; i += 2) h.u32((units[i]! | (units[i + 1]! << 16)) >>> 0);
    expect(h.hex()).toBe(ref.toString(16).padStart(16, "0"));
  });

  it("separates strings by length", () => {
    const a = new TraceHash();
    a.str("ab");
    a.str("c");
    const b = new TraceHash();
    b.str("a");
    b.str("bc");
    expect(a.hex()).not.toBe(b.hex());
  });
});

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
