/**
 * run-all runs every micro-benchmark module in bench/dist/micro (clocks, codec, checker, sim-throughput, raft,
 * engines, and any added later) one after another, each in its own child process — the modules run on import
 * (top-level await) and each should have the process, its heap and its JIT to itself — then prints one summary
 * table of the headline figures.
 *
 * Figures come from the file a module writes when CLAB_MICRO_JSON is set (clocks, engines), else from its output:
 * markdown table columns named `… ops/s` or `… msg/s`, and lines of the form `label: 12,345 unit` (ops/s, msg/s).
 * A module that exits non-zero or times out is reported as failed and makes run-all exit 1.
 *
 * Run: `pnpm bench:micro` (builds first), or `node bench/dist/micro/run-all.js [--quick] [MODULE…]` to run some
 * of them; `--quick` skips the checker's 100k-op rows and halves the raft and engine workloads. MICRO_TIMEOUT_S
 * bounds each module (default 600).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MicroRow } from "./micro-row.js";

interface ModuleRun {
  name: string;
  ok: boolean;
  seconds: number;
  why?: string;
  rows: MicroRow[];
}

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT_MS = Number(process.env.MICRO_TIMEOUT_S ?? 600) * 1000;
/** Cheap and foundational first, whole-engine runs last; modules not listed follow in name order. */
const ORDER = ["clocks", "codec", "checker", "sim-throughput", "raft", "engines"];

function modules(): string[] {
  const found = readdirSync(HERE)
    .filter(
      (f) =>
        f.endsWith(".js") &&
        f !== basename(fileURLToPath(import.meta.url)) &&
        f !== "micro-row.js" && // shared types, not a benchmark
        !f.includes(".test."),
    )
    .map((f) => f.slice(0, -3));
  const rank = (m: string) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

const NUMBER = /^-?[\d,]+(?:\.\d+)?$/;
const parseNumber = (s: string) => Number(s.replaceAll(",", ""));

/** rowsFromOutput reads headline figures from a module's printed output (for modules that write no JSON). */
function rowsFromOutput(bench: string, out: string): MicroRow[] {
  const rows: MicroRow[] = [];
  const lines = out.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // A markdown table: header, separator, rows. Columns whose name ends in a rate unit are figures.
    if (line.startsWith("|") && lines[i + 1]?.trim().startsWith("|---")) {
      const header = line
        .split("|")
        .slice(1, -1)
        .map((h) => h.trim());
      const rateCols = header
        .map((h, col) => ({ h, col, unit: /(ops\/s|msg\/s|messages\/s)$/.exec(h)?.[1] }))
        .filter((x) => x.unit !== undefined && x.col > 0);
      let j = i + 2;
      for (; j < lines.length && lines[j]!.trim().startsWith("|"); j++) {
        const cells = lines[j]!.trim()
          .split("|")
          .slice(1, -1)
          .map((c) => c.trim());
        for (const { h, col, unit } of rateCols) {
          const cell = cells[col] ?? "";
          if (!NUMBER.test(cell)) continue;
          const label = h.slice(0, h.length - unit!.length).trim();
          rows.push({
            bench,
            case: `${cells[0]}${label ? ` (${label})` : ""}`,
            value: parseNumber(cell),
            unit: unit!,
          });
        }
      }
      i = j - 1;
      continue;
    }
    // `label: 12,345 unit …` — the summary lines raft.ts and sim-throughput.ts print.
    const m = /^(.+?):\s+(-?[\d,]+(?:\.\d+)?)\s+((?:[a-z]+ )?(?:ops\/s|msg\/s|messages\/s))(.*)$/.exec(line);
    if (m) {
      const note = m[4]!.trim().replace(/^\((.*)\)$/, "$1");
      rows.push({
        bench,
        case: m[1]!.trim(),
        value: parseNumber(m[2]!),
        unit: m[3]!,
        ...(note ? { note } : {}),
      });
    }
  }
  return rows;
}

/** runModule runs one module in a child process, streaming its output, and collects its figures. */
function runModule(name: string, dir: string): Promise<ModuleRun> {
  const json = join(dir, `${name}.json`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, `${name}.js`)], {
      env: { ...process.env, CLAB_MICRO_JSON: json },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b;
      process.stdout.write(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b;
      process.stderr.write(b);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      let rows: MicroRow[] = [];
      if (existsSync(json)) rows = JSON.parse(readFileSync(json, "utf8")) as MicroRow[];
      else rows = rowsFromOutput(name, out);
      const ok = code === 0 && !timedOut;
      const lastErr = err.trim().split("\n").slice(-3).join(" / ");
      const why = timedOut
        ? `timed out after ${TIMEOUT_MS / 1000} s`
        : code !== 0
          ? `exit ${code ?? signal}${lastErr ? `: ${lastErr}` : ""}`
          : undefined;
      resolve({ name, ok, seconds, rows, ...(why ? { why } : {}) });
    });
  });
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "—";
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3);
}

const all = modules();
const quick = process.argv.includes("--quick");
const asked = process.argv.slice(2).filter((a) => a !== "--quick");
if (quick) {
  // Smaller runs of the long modules, for a look in a minute or two; unset knobs only, so explicit ones win.
  process.env.CLAB_CHECKER_QUICK ??= "1";
  process.env.RAFT_BENCH_OPS ??= "2000";
  process.env.ENGINE_BENCH_OPS ??= "2000";
}
const unknown = asked.filter((m) => !all.includes(m));
if (unknown.length > 0) {
  console.error(`run-all: no micro-benchmark ${unknown.join(", ")}; have ${all.join(", ")}`);
  process.exit(2);
}
const selected = asked.length > 0 ? all.filter((m) => asked.includes(m)) : all;
const dir = mkdtempSync(join(tmpdir(), "clab-micro-"));
const runs: ModuleRun[] = [];
try {
  for (const name of selected) {
    console.log(`\n=== micro: ${name} ===`);
    runs.push(await runModule(name, dir));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`\n=== micro-benchmark summary (node ${process.version}, one core per module) ===`);
console.log("| module | case | value | unit | note |");
console.log("|---|---|---:|---|---|");
for (const r of runs) {
  for (const row of r.rows) {
    console.log(`| ${r.name} | ${row.case} | ${formatValue(row.value)} | ${row.unit} | ${row.note ?? ""} |`);
  }
  if (!r.ok) console.log(`| ${r.name} | **FAILED** | | | ${r.why} |`);
  else if (r.rows.length === 0) console.log(`| ${r.name} | (no figures recognised in its output) | | | |`);
}
console.log("");
for (const r of runs) console.log(`${r.name}: ${r.ok ? "ok" : "FAILED"} in ${r.seconds.toFixed(1)} s`);
const failed = runs.filter((r) => !r.ok);
if (failed.length > 0) {
  console.log(
    `run-all: ${failed.length} of ${runs.length} modules failed: ${failed.map((r) => r.name).join(", ")}`,
  );
  process.exitCode = 1;
}
