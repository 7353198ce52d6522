import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NemesisSummary } from "./run.js";

/**
 * NemesisRecord is what the comparison docs keep of a nemesis run: no paths on the machine that ran it, only what
 * was run and what held. `clab nemesis --record DIR` writes one per run; `clab docs` renders them as a table.
 */
export interface NemesisRecord {
  engine: string;
  options: Record<string, string>;
  nodes: number;
  seed: number;
  durationS: number;
  faults: Record<string, number>;
  ops: NemesisSummary["ops"];
  declared: string[];
  verdicts: NemesisSummary["verdicts"];
  crashes: number;
  valid: NemesisSummary["valid"];
  /** Worst ms from a fault's heal to the first acknowledged write invoked after it (null if some never recovered). */
  maxRecoveryMs: number | null;
  /** Worst ms from a fault's start to the first acknowledged write invoked after it. */
  maxFirstWriteMs: number | null;
  at: string;
}

/** toRecord trims a run's summary to what the docs show. */
export function toRecord(s: NemesisSummary, at = new Date().toISOString()): NemesisRecord {
  const faults: Record<string, number> = {};
  for (const f of s.faults) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
  const worst = (xs: (number | null)[]) =>
    xs.length === 0 ? 0 : xs.some((x) => x === null) ? null : Math.max(...(xs as number[]));
  return {
    engine: s.engine,
    options: s.options,
    nodes: s.nodes,
    seed: s.seed,
    durationS: s.durationS,
    faults,
    ops: s.ops,
    declared: s.declared,
    verdicts: s.verdicts,
    crashes: s.crashes.length,
    valid: s.valid,
    maxRecoveryMs: worst(s.faults.map((f) => f.recoveryMs)),
    maxFirstWriteMs: worst(s.faults.map((f) => f.firstWriteMs)),
    at,
  };
}

/** recordName is the file a run is kept under: one per engine, options and fault mix (a rerun replaces it). */
export function recordName(r: NemesisRecord): string {
  const opts = Object.entries(r.options)
    .map(([k, v]) => `${k}-${v}`)
    .join("-");
  const faults = Object.keys(r.faults).sort().join("-") || "none";
  return `${[r.engine, opts, faults].filter(Boolean).join("_")}.json`.replace(/[^a-zA-Z0-9_.-]/g, "_");
}

export function writeRecord(dir: string, r: NemesisRecord): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, recordName(r));
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}

/** readRecords reads every record in `dir` (none when it does not exist), sorted by engine then options. */
export function readRecords(dir: string): NemesisRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as NemesisRecord)
    .sort((a, b) => recordName(a).localeCompare(recordName(b)));
}

/** faultsSurvivedTable renders the records as the comparison docs' "faults survived" table. */
export function faultsSurvivedTable(records: readonly NemesisRecord[]): string {
  if (records.length === 0)
    return "_No nemesis run recorded: run `clab nemesis … --record docs/results/nemesis`._";
  const rows = records.map((r) => {
    const opts = Object.entries(r.options)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const faults = Object.entries(r.faults)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ");
    const held = r.declared.filter((g) => r.verdicts[g] === "ok");
    const broke = r.declared.filter((g) => r.verdicts[g] === "violation");
    const verdict =
      r.valid === true
        ? "✓ all held"
        : r.valid === false
          ? `✗ ${[...broke, ...(r.crashes ? ["crash"] : [])].join(", ")}`
          : "? unknown";
    const ms = (x: number | null) => (x === null ? "never" : `${x} ms`);
    return `| ${r.engine}${opts ? ` (${opts})` : ""} | ${r.durationS} s | ${faults || "none"} | ${r.ops.ok} / ${r.ops.fail} / ${r.ops.info} | ${held.length}/${r.declared.length} | ${ms(r.maxFirstWriteMs)} | ${ms(r.maxRecoveryMs)} | ${verdict} |`;
  });
  return [
    "| engine (options) | run | faults injected | ops ok / fail / info | declared guarantees held | worst time to first write after a fault began | worst time to first write after its heal | verdict |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
