/**
 * Micro-benchmark of the history checker (@consistency-lab/checker): time and peak memory of checkLinearizableSync
 * on generated linearizable histories — 1k / 10k / 100k ops over 1 / 10 / 100 keys, 10 client processes, 0 % or
 * 5 % indeterminate (`info`) ops — and on adversarial single-key histories with 10, 20 and 50 concurrent processes,
 * which may end `unknown` at the time limit (the point is that they end, with bounded memory) — and on Jepsen-style kv
 * twins (`generateKvHistory`: get / put / append on 10 keys, 10, 50 and 100 processes, 2,000 and 5,000 ops), the
 * linearizable history and the same history with one read made stale (issue 14's "violation case").
 *
 * Time is tinybench's mean over a few runs in this process (the first run includes JIT warm-up, so a warm-up run is
 * made). Peak memory is measured in a fresh child process per scenario (`process.resourceUsage().maxRSS` after one
 * check, minus the RSS once the history is parsed), since a synchronous search cannot be sampled from inside.
 *
 * Run: `pnpm turbo run build --filter=@consistency-lab/bench... && node bench/dist/micro/checker.js`
 * Options: CLAB_CHECKER_QUICK=1 skips the 100k-op rows; CLAB_CHECKER_ONLY=TEXT runs the rows whose name contains TEXT
 * (e.g. `kv`); CLAB_MICRO_JSON=FILE also writes the rows as JSON.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  checkLinearizableSync,
  generateHistory,
  generateKvHistory,
  type Op,
  parseHistory,
} from "@consistency-lab/checker";
import { Bench } from "tinybench";
import type { MicroRow } from "./micro-row.js";

interface Scenario {
  name: string;
  /** A kv twin from generateKvHistory instead of a register history from generateHistory. */
  kv?: "linearizable" | "violating";
  ops: number;
  keys: number;
  processes: number;
  infoRate: number;
  timeLimitMs: number;
  /** Mean op latency in ticks (think time 5): higher means more concurrency per key. */
  latency: number;
}

const NORMAL_LIMIT_MS = 60_000;
const ADVERSARIAL_LIMIT_MS = 10_000;

function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  const sizes = process.env.CLAB_CHECKER_QUICK ? [1000, 10_000] : [1000, 10_000, 100_000];
  for (const ops of sizes) {
    for (const keys of [1, 10, 100]) {
      for (const infoRate of [0, 0.05]) {
        out.push({
          name: `${ops} ops, ${keys} keys, ${infoRate * 100}% info`,
          ops,
          keys,
          processes: 10,
          infoRate,
          timeLimitMs: NORMAL_LIMIT_MS,
          latency: 10,
        });
      }
    }
  }
  for (const processes of [10, 20, 50]) {
    out.push({
      name: `adversarial: 1 key, ${processes} processes, 2000 ops, 5% info`,
      ops: 2000,
      keys: 1,
      processes,
      infoRate: 0.05,
      timeLimitMs: ADVERSARIAL_LIMIT_MS,
      latency: 20,
    });
  }
  for (const ops of [2000, 5000]) {
    for (const processes of [10, 50, 100]) {
      for (const kv of ["violating", "linearizable"] as const) {
        out.push({
          name: `kv ${kv === "violating" ? "violation (one stale read)" : "linearizable twin"}: ${processes} processes, ${ops} ops, 10 keys (seeds ${KV_SEEDS.join(",")}, per history)`,
          kv,
          ops,
          keys: 10,
          processes,
          infoRate: 0,
          timeLimitMs: ADVERSARIAL_LIMIT_MS,
          latency: 10,
        });
      }
    }
  }
  return out;
}

/** KV_SEEDS: how hard a kv history is varies much from seed to seed, so each kv row checks several (mean per history). */
const KV_SEEDS = [1, 2, 3, 4];

function histories(s: Scenario): Op[][] {
  if (!s.kv) return [history(s)];
  return KV_SEEDS.map((seed) =>
    parseHistory(generateKvHistory({ processes: s.processes, keys: s.keys, ops: s.ops, seed })[s.kv!]),
  );
}

function history(s: Scenario): Op[] {
  return parseHistory(
    generateHistory({
      ops: s.ops,
      keys: s.keys,
      processes: s.processes,
      infoRate: s.infoRate,
      seed: 42,
      latency: s.latency,
    }),
  );
}

/** Child mode: one check, then the peak memory. */
function runOne(s: Scenario): void {
  const all = histories(s);
  const base = process.memoryUsage().rss;
  const t0 = performance.now();
  const verdicts = all.map((ops) => checkLinearizableSync(ops, { timeLimitMs: s.timeLimitMs }).verdict);
  const r = { verdict: verdicts.join("/") };
  const seconds = (performance.now() - t0) / 1000 / all.length;
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(
    JSON.stringify({
      verdict: r.verdict,
      seconds,
      peakMb: peak / 2 ** 20,
      growthMb: Math.max(0, peak - base) / 2 ** 20,
    }),
  );
}

async function main(): Promise<void> {
  const only = process.env.CLAB_CHECKER_ONLY;
  const list = scenarios().filter((s) => !only || s.name.includes(only));
  const rows: MicroRow[] = [];
  const table: string[] = [];
  table.push("| history | verdict | mean time (s) | runs | peak RSS (MB) | RSS growth in check (MB) |");
  table.push("|---|---|---:|---:|---:|---:|");
  for (const s of list) {
    const child = JSON.parse(
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--one", JSON.stringify(s)], {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      }),
    ) as { verdict: string; seconds: number; peakMb: number; growthMb: number };
    const all = histories(s);
    // The kv violation rows, the figures issue 14 targets, run a few times; their linearizable twins once.
    const heavy = s.ops >= 100_000 || (s.timeLimitMs === ADVERSARIAL_LIMIT_MS && s.kv !== "violating");
    const bench = new Bench({
      name: "checker",
      iterations: heavy ? 1 : s.kv ? 3 : 5,
      time: 0,
      warmup: !heavy,
      warmupIterations: 1,
      warmupTime: 0,
    });
    let verdict = "";
    bench.add(s.name, () => {
      verdict = all
        .map((ops) => checkLinearizableSync(ops, { timeLimitMs: s.timeLimitMs }).verdict)
        .join("/");
    });
    await bench.run();
    const task = bench.tasks[0]!;
    const result = task.result as { latency?: { mean: number }; runs?: number } | undefined;
    // Per history: a kv row checks one history per seed in each run.
    const mean = (result?.latency?.mean ?? Number.NaN) / all.length;
    const runs = task.runs;
    table.push(
      `| ${s.name} | ${verdict} | ${(mean / 1000).toFixed(3)} | ${runs} | ${child.peakMb.toFixed(0)} | ${child.growthMb.toFixed(0)} |`,
    );
    process.stderr.write(`${table[table.length - 1]}\n`);
    rows.push({
      bench: "checker",
      case: s.name,
      value: mean / 1000,
      unit: "s",
      note: `${verdict}; peak RSS ${child.peakMb.toFixed(0)} MB`,
    });
  }
  console.log("checkLinearizableSync on generated histories (kv model, in-thread; lower is better)");
  for (const line of table) console.log(line);
  if (process.env.CLAB_MICRO_JSON) writeFileSync(process.env.CLAB_MICRO_JSON, JSON.stringify(rows));
}

const one = process.argv.indexOf("--one");
if (one >= 0) runOne(JSON.parse(process.argv[one + 1]!) as Scenario);
else await main();
