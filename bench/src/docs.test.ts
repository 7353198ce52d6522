import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeComparison } from "./docs.js";
import type { BenchResults, LatencyRun } from "./results.js";

function latencyRow(
  engine: string,
  op: "get" | "put",
  delayMs: number,
  p50Ms: number,
  floorMs: number,
): LatencyRun {
  return {
    scenario: "latency",
    engine,
    variant: "default",
    options: {},
    requestOptions: {},
    op,
    delayMs,
    jitterMs: 0,
    nodes: 3,
    clients: 8,
    valueBytes: 64,
    ops: 100,
    errors: 0,
    timeouts: 0,
    seconds: 1,
    opsPerSec: 100,
    p50Ms,
    p95Ms: p50Ms + 1,
    p99Ms: p50Ms + 2,
    maxMs: p50Ms + 3,
    meanMs: p50Ms,
    floorMs,
    messagesPerOp: 4,
    seed: 1,
  };
}

const results: BenchResults = {
  machine: { platform: "linux", release: "x", cpus: 2, cpuModel: "test cpu", memoryGiB: 24, node: "v20" },
  versions: { node: "v20" },
  gitSha: "0123456789abcdef",
  startedAt: "2026-01-01T00:00:00.000Z",
  finishedAt: "2026-01-01T00:01:00.000Z",
  profile: "quick",
  config: {},
  seed: 1,
  promises: [
    {
      engine: "raft",
      variant: "default",
      options: {},
      requestOptions: {},
      declared: ["linearizable", "convergence"],
      availability: "majority",
      conflicts: "none",
      notes: ["a note"],
    },
    {
      engine: "causal",
      variant: "default",
      options: {},
      requestOptions: {},
      declared: ["causal"],
      availability: "all",
      conflicts: "siblings",
      notes: [],
    },
  ],
  runs: [
    latencyRow("raft", "put", 0, 1.5, 0),
    latencyRow("raft", "put", 20, 43.2, 40),
    latencyRow("causal", "put", 0, 0.7, 0),
    latencyRow("causal", "put", 20, 0.8, 0),
  ],
  availability: [
    {
      scenario: "partition",
      engine: "raft",
      variant: "default",
      options: {},
      nodes: 3,
      minority: ["n1"],
      majority: ["n2", "n3"],
      partitionAtS: 1,
      healAtS: 2,
      timeline: [
        { second: 0, side: "minority", ok: 10, fail: 0, timeout: 0, phase: "before" },
        { second: 1, side: "minority", ok: 0, fail: 0, timeout: 3, phase: "partitioned" },
        { second: 1, side: "majority", ok: 9, fail: 1, timeout: 0, phase: "partitioned" },
      ],
      availability: { majority: 0.9, minority: 0 },
      recoverySeconds: { majority: 0, minority: null },
      history: { ops: 33, verdicts: { linearizable: "ok" } },
    },
  ],
  anomalies: [
    {
      scenario: "anomalies",
      source: "sim",
      engine: "causal",
      variant: "default",
      options: {},
      runs: 4,
      ops: 800,
      declared: ["causal"],
      broken: { causal: 0, linearizable: 3 },
      staleReads: 12,
      maxVersionsBehind: 2,
      maxMsBehind: 30,
      lostWrites: 0,
      siblingReads: 5,
      maxSiblings: 2,
    },
  ],
  uniqueness: [
    {
      scenario: "uniqueness",
      engine: "causal",
      variant: "default",
      options: {},
      names: 20,
      clients: 4,
      partitioned: true,
      claimsOk: 30,
      duplicateNames: 10,
      duplicateClaims: 10,
      failedClaims: 0,
    },
  ],
  etcd: { available: false, version: null, note: "etcd was not found on PATH." },
  notes: [],
};

describe("writeComparison", () => {
  it("writes the comparison page and SVG charts from results alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clab-docs-"));
    const written = await writeComparison(results, dir, join(dir, "results", "latest", "results.json"));
    const md = readFileSync(join(dir, "comparison.md"), "utf8");
    expect(written).toContain(join(dir, "comparison.md"));
    const svg = readFileSync(join(dir, "results", "charts", "latency-put.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(existsSync(join(dir, "results", "charts", "availability.svg"))).toBe(true);
    // Figures in the page come from the results: the raft row at 20 ms and its floor.
    expect(md).toMatch(/\| raft \| put \| 20 \| 3 \| 8 \| 64 \| 43\.2 \|/);
    expect(md).toContain("| raft | ✓ |");
    expect(md).toContain("3/4");
    expect(md).toContain("etcd was not found on PATH.");
    expect(md).toContain("a Raft write took 43.2 ms at the median against a floor of 40 ms");
    expect(md).toContain("answered writes in 0.8 ms");
    expect(md).toMatch(/\| causal \| 20 \| 4 \| yes \| 30 \| 10 \| 10 \| 0 \|/);
  }, 60_000);
});
