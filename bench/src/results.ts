import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, freemem, platform, release, totalmem } from "node:os";
import { dirname } from "node:path";

/** One latency measurement: an engine variant, one op, one injected delay (ARCHITECTURE §6). */
export interface LatencyRun {
  scenario: "latency" | "scale" | "value-size" | "etcd";
  engine: string;
  variant: string;
  options: Record<string, unknown>;
  requestOptions: Record<string, unknown>;
  op: "get" | "put" | "cas";
  delayMs: number;
  jitterMs: number;
  nodes: number;
  clients: number;
  valueBytes: number;
  ops: number;
  errors: number;
  timeouts: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** What physics allows for this path: round trips it needs × 2 × delayMs (0 for local-accept paths). */
  floorMs: number;
  /** Messages sent between nodes per completed op, from the nodes' transport counters. */
  messagesPerOp: number | null;
  seed: number;
}

/** One second of one side of a partition: what its clients saw. */
export interface AvailabilityPoint {
  second: number;
  side: "majority" | "minority";
  ok: number;
  fail: number;
  timeout: number;
  /** Phase of the run at that second. */
  phase: "before" | "partitioned" | "healed";
}

export interface AvailabilityRun {
  scenario: "partition";
  engine: string;
  variant: string;
  options: Record<string, unknown>;
  nodes: number;
  minority: string[];
  majority: string[];
  partitionAtS: number;
  healAtS: number;
  timeline: AvailabilityPoint[];
  /** ok / all ops while partitioned, per side. */
  availability: { majority: number; minority: number };
  /** Seconds from heal until each side's first full second with ≥ 90 % ok; null if never within the run. */
  recoverySeconds: { majority: number | null; minority: number | null };
  history: { ops: number; verdicts: Record<string, string> };
}

export interface AnomalyRow {
  scenario: "anomalies";
  source: "cluster" | "sim";
  engine: string;
  variant: string;
  options: Record<string, unknown>;
  runs: number;
  ops: number;
  declared: string[];
  /** Per guarantee: runs whose history broke it (sim) or 0/1 for the one cluster run. */
  broken: Record<string, number>;
  staleReads: number;
  maxVersionsBehind: number;
  maxMsBehind: number;
  lostWrites: number;
  siblingReads: number;
  maxSiblings: number;
}

export interface UniquenessRow {
  scenario: "uniqueness";
  engine: string;
  variant: string;
  options: Record<string, unknown>;
  names: number;
  clients: number;
  partitioned: boolean;
  claimsOk: number;
  /** Names that more than one client believes it owns. */
  duplicateNames: number;
  duplicateClaims: number;
  failedClaims: number;
}

/** What one engine variant promises, read from its Supports manifest at run time. */
export interface PromiseRow {
  engine: string;
  variant: string;
  options: Record<string, unknown>;
  requestOptions: Record<string, unknown>;
  declared: string[];
  availability: string;
  conflicts: string;
  notes: string[];
}

export interface BenchResults {
  machine: {
    platform: string;
    release: string;
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
  };
  versions: Record<string, string>;
  gitSha: string | null;
  startedAt: string;
  finishedAt: string;
  profile: string;
  config: Record<string, unknown>;
  seed: number;
  promises: PromiseRow[];
  runs: LatencyRun[];
  availability: AvailabilityRun[];
  anomalies: AnomalyRow[];
  uniqueness: UniquenessRow[];
  etcd: { available: boolean; version: string | null; note: string; writeThroughputRatio?: number | null };
  notes: string[];
}

/** machineInfo describes the machine a run happened on, so figures can be compared and repeated. */
export function machineInfo(): BenchResults["machine"] {
  const c = cpus();
  return {
    platform: platform(),
    release: release(),
    cpus: c.length,
    cpuModel: c[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

export function gitSha(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
}

export function writeResults(path: string, r: BenchResults): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
}

export function readResults(path: string): BenchResults {
  const r = JSON.parse(readFileSync(path, "utf8")) as BenchResults;
  if (!r || typeof r !== "object" || !Array.isArray(r.runs) || typeof r.machine !== "object") {
    throw new Error(`${path} is not a bench results file (needs "machine" and "runs")`);
  }
  return r;
}

export const freeMemoryGiB = () => Math.round((freemem() / 2 ** 30) * 10) / 10;
