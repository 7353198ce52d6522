import { Rng } from "@consistency-lab/kv";
import type { Skew } from "./procs.js";

/** FAULT_KINDS are the faults the nemesis injects on real processes (ARCHITECTURE §7). */
export const FAULT_KINDS = ["kill", "pause", "partition", "skew"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A target names who is hit: the current leader (a random node where there is none), a random node, a minority, or ids. */
export type Target = "leader" | "random" | "minority" | { nodes: string[] };

/**
 * PlannedFault is one fault of a schedule: when it starts (ms after the workload starts), what, on whom, and how long
 * it lasts (a killed node is down that long, a paused one stopped, a partition cut, a skewed node runs skewed).
 */
export interface PlannedFault {
  atMs: number;
  kind: FaultKind;
  target: Target;
  holdMs: number;
  skew?: Skew;
}

/** InjectedFault is a fault as it happened, with the nodes the target resolved to: a replay uses these. */
export interface InjectedFault extends PlannedFault {
  nodes: string[];
  /** When the fault was in place and when it was healed, ms after the workload started. */
  startedMs: number;
  healedMs: number;
  /** ms from the heal until the first acknowledged write invoked after it; null if none. */
  recoveryMs: number | null;
  /** ms from the start of the fault until the first acknowledged write invoked after it; null if none. */
  firstWriteMs: number | null;
}

/** ScheduleFile is the replay-ready record a run writes: `clab nemesis --schedule FILE` runs the same faults. */
export interface ScheduleFile {
  engine: string;
  options: Record<string, string>;
  nodes: number;
  seed: number;
  durationMs: number;
  faults: PlannedFault[];
}

/**
 * planSchedule draws a schedule from a seed: one fault every `intervalMs` (the first after one interval), its kind
 * drawn from `kinds`, each fault healed before the next starts and before the workload ends. Kill holds a node down
 * 0.2–1.5 s; pause and partition last 1.5–3 s (at most 80 % of the interval); a skew lasts 80 % of the interval with
 * an offset of ±0.2–2 s and a rate of 0.95–1.05.
 */
export function planSchedule(o: {
  seed: number;
  kinds: readonly FaultKind[];
  target: Target;
  intervalMs: number;
  durationMs: number;
}): PlannedFault[] {
  if (o.kinds.length === 0) return [];
  const rng = new Rng(o.seed).fork("nemesis-schedule");
  const out: PlannedFault[] = [];
  const cap = Math.floor(o.intervalMs * 0.8);
  for (let at = o.intervalMs; ; at += o.intervalMs) {
    const kind = o.kinds[rng.int(o.kinds.length)]!;
    let holdMs: number;
    let skew: Skew | undefined;
    switch (kind) {
      case "kill":
        holdMs = rng.range(200, 1500);
        break;
      case "pause":
      case "partition":
        holdMs = rng.range(1500, 3000);
        break;
      case "skew": {
        holdMs = cap;
        const offsetMs = rng.range(200, 2000) * (rng.next() < 0.5 ? -1 : 1);
        const rate = Math.round((0.95 + rng.next() * 0.1) * 1000) / 1000;
        skew = { offsetMs, rate };
        break;
      }
    }
    holdMs = Math.min(holdMs, cap);
    if (at + holdMs >= o.durationMs) break;
    out.push({ atMs: at, kind, target: o.target, holdMs, ...(skew ? { skew } : {}) });
  }
  return out;
}

/**
 * pickTargets resolves a target to node ids: `leader` is the current leader, or a random node where there is none;
 * `minority` is a random set of ⌊(n-1)/2⌋ nodes (at least one).
 */
export function pickTargets(
  target: Target,
  ids: readonly string[],
  leader: string | undefined,
  rng: Rng,
): string[] {
  if (typeof target === "object") return [...target.nodes];
  const random = () => ids[rng.int(ids.length)]!;
  switch (target) {
    case "leader":
      return [leader ?? random()];
    case "random":
      return [random()];
    case "minority": {
      const k = Math.max(1, Math.floor((ids.length - 1) / 2));
      const pool = [...ids];
      const out: string[] = [];
      while (out.length < k) out.push(...pool.splice(rng.int(pool.length), 1));
      return out.sort();
    }
  }
}

/** parseTarget reads `--target`: leader, random, minority, or a comma-separated list of node ids. */
export function parseTarget(s: string, ids: readonly string[]): Target {
  if (s === "leader" || s === "random" || s === "minority") return s;
  const nodes = s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const unknown = nodes.filter((n) => !ids.includes(n));
  if (nodes.length === 0 || unknown.length > 0) {
    throw new TypeError(
      `--target must be leader, random, minority or node ids among ${ids.join(",")}; got ${JSON.stringify(s)}`,
    );
  }
  if (nodes.length === ids.length) throw new TypeError("--target cannot name every node");
  return { nodes };
}

/** parseFaults reads `--faults kill,pause,…`. */
export function parseFaults(s: string): FaultKind[] {
  const kinds = s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || bad.length > 0) {
    throw new TypeError(`--faults must list some of ${FAULT_KINDS.join(",")}; got ${JSON.stringify(s)}`);
  }
  return [...new Set(kinds)] as FaultKind[];
}

/** parseScheduleFile validates a schedule written by an earlier run (for replay). */
export function parseScheduleFile(raw: unknown): ScheduleFile {
  const fail = (why: string): never => {
    throw new TypeError(`bad schedule file: ${why}`);
  };
  if (typeof raw !== "object" || raw === null) fail("not an object");
  const f = raw as Record<string, unknown>;
  if (typeof f.engine !== "string") fail("engine must be a string");
  if (!Number.isInteger(f.nodes) || (f.nodes as number) < 1) fail("nodes must be a positive integer");
  if (!Number.isInteger(f.seed)) fail("seed must be an integer");
  if (typeof f.durationMs !== "number" || f.durationMs <= 0) fail("durationMs must be positive");
  if (typeof f.options !== "object" || f.options === null) fail("options must be an object");
  if (!Array.isArray(f.faults)) fail("faults must be an array");
  const faults = (f.faults as unknown[]).map((x, i): PlannedFault => {
    const p = x as Record<string, unknown>;
    if (!(FAULT_KINDS as readonly unknown[]).includes(p.kind)) fail(`faults[${i}].kind is unknown`);
    if (typeof p.atMs !== "number" || typeof p.holdMs !== "number")
      fail(`faults[${i}] needs atMs and holdMs`);
    const nodes = (p.nodes ?? (p.target as { nodes?: unknown })?.nodes) as unknown;
    if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === "string") || nodes.length === 0)
      fail(`faults[${i}] needs the node ids it hit`);
    const skew = p.skew as Skew | undefined;
    if (p.kind === "skew" && (typeof skew?.offsetMs !== "number" || typeof skew?.rate !== "number"))
      fail(`faults[${i}] is a skew without offsetMs and rate`);
    return {
      atMs: p.atMs as number,
      kind: p.kind as FaultKind,
      holdMs: p.holdMs as number,
      target: { nodes: nodes as string[] },
      ...(skew ? { skew: { offsetMs: skew.offsetMs, rate: skew.rate } } : {}),
    };
  });
  return {
    engine: f.engine as string,
    options: Object.fromEntries(Object.entries(f.options as object).map(([k, v]) => [k, String(v)])),
    nodes: f.nodes as number,
    seed: f.seed as number,
    durationMs: f.durationMs as number,
    faults,
  };
}
