import { mkdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import {
  anomalyStats,
  builtinModel,
  causalOrLinearizable,
  checkCasAtomic,
  checkCausal,
  checkConvergence,
  checkLinearizable,
  checkNoLostWrites,
  checkSequentialSync,
  checkSession,
  type GuaranteeResult,
  HistoryError,
  type LinearizabilityResult,
  type Model,
  type Op,
  readHistoryFile,
  readJepsenLogFile,
  SESSION_GUARANTEES,
  type Verdict,
  writeReport,
} from "@consistency-lab/checker";
import type { Command } from "commander";
import { UsageError } from "../usage-error.js";

const CONSISTENCIES = ["linearizable", "sequential", "causal", "session", "convergence", "all"] as const;
type Consistency = (typeof CONSISTENCIES)[number];

/**
 * INPUT_FORMATS are the history files `clab check` reads: our JSON Lines (ARCHITECTURE §4), or a Jepsen register
 * test's log (`INFO  jepsen.util - 3	:invoke	:cas	[1 4]`, the etcd histories Porcupine and Knossos test on).
 */
const INPUT_FORMATS = {
  jsonl: readHistoryFile,
  jepsen: readJepsenLogFile,
} as const satisfies Record<string, (path: string) => Promise<Op[]>>;
type InputFormat = keyof typeof INPUT_FORMATS;

interface CheckFlags {
  model: string;
  inputFormat: string;
  consistency: string;
  timeLimit?: string;
  report?: string;
  json?: boolean;
}

/** Line is one verdict line: a file checked against one consistency model. */
interface Line {
  file: string;
  consistency: string;
  verdict: Verdict;
  ops: number;
  keys: number;
  seconds: number;
  reason?: string;
  details?: Record<string, unknown>;
}

/**
 * checksFor expands `--consistency` into the checks run, each giving one line: `causal` gives causal (CC) and
 * causal-convergence (CCv); `session` gives one combined line for the four session guarantees; `convergence` gives
 * convergence and lost-writes; `all` gives every check including cas-atomic.
 */
function checksFor(c: Consistency): string[] {
  switch (c) {
    case "linearizable":
    case "sequential":
    case "session":
      return [c];
    case "causal":
      return ["causal", "causal-convergence"];
    case "convergence":
      return ["convergence", "lost-writes"];
    case "all":
      return [
        "linearizable",
        "sequential",
        "causal",
        "causal-convergence",
        "session",
        "convergence",
        "lost-writes",
        "cas-atomic",
      ];
  }
}

/** registerCheck adds `clab check` (ARCHITECTURE §5). */
export function registerCheck(program: Command): void {
  program
    .command("check")
    .description(
      "check histories (JSON Lines, ARCHITECTURE §4); exit 1 if any violation, else 2 if any unknown or invalid",
    )
    .argument("<files...>", "history files")
    .option("--model <name>", "register or kv (kv adds append)", "kv")
    .option("--input-format <format>", "jsonl (ARCHITECTURE §4) or jepsen (a Jepsen register log)", "jsonl")
    .option("--consistency <model>", `one of ${CONSISTENCIES.join(", ")}`, "linearizable")
    .option("--time-limit <seconds>", "per file and check; when reached the verdict is unknown", "60")
    .option("--report <path>", "write an HTML report (a folder of them when several files)")
    .option("--json", "one JSON object per file and check")
    .action(async (files: string[], flags: CheckFlags) => {
      const model = builtinModel(flags.model);
      if (!model) throw new UsageError(`unknown --model ${JSON.stringify(flags.model)}; use register or kv`);
      if (!(CONSISTENCIES as readonly string[]).includes(flags.consistency)) {
        throw new UsageError(
          `unknown --consistency ${JSON.stringify(flags.consistency)}; use one of ${CONSISTENCIES.join(", ")}`,
        );
      }
      if (!Object.hasOwn(INPUT_FORMATS, flags.inputFormat)) {
        throw new UsageError(
          `unknown --input-format ${JSON.stringify(flags.inputFormat)}; use jsonl or jepsen`,
        );
      }
      const read = INPUT_FORMATS[flags.inputFormat as InputFormat];
      const seconds = Number(flags.timeLimit ?? "60");
      if (!Number.isFinite(seconds) || seconds <= 0)
        throw new UsageError(
          `--time-limit must be a positive number of seconds, got ${JSON.stringify(flags.timeLimit)}`,
        );
      const checks = checksFor(flags.consistency as Consistency);
      const reportPath = flags.report;
      if (reportPath && files.length > 1) mkdirSync(reportPath, { recursive: true });
      else if (reportPath && files.length === 1 && isDirectory(reportPath))
        throw new UsageError(`--report ${reportPath} is a folder; give a file name for one input`);

      const start = performance.now();
      const worst = new Map<string, Verdict>();
      for (const file of files) {
        const lines = await checkFile(
          file,
          read,
          checks,
          model,
          seconds * 1000,
          reportPath,
          files.length > 1,
        );
        for (const l of lines) {
          worst.set(file, worse(worst.get(file), l.verdict));
          if (flags.json) {
            process.stdout.write(
              `${JSON.stringify({ file: l.file, consistency: l.consistency, verdict: l.verdict, ops: l.ops, keys: l.keys, seconds: round(l.seconds), ...(l.reason ? { reason: l.reason } : {}), ...l.details })}\n`,
            );
          } else {
            const tag = checks.length > 1 ? ` [${l.consistency}]` : "";
            process.stdout.write(
              `${l.file}: ${l.verdict} (${l.ops} ops, ${l.keys} keys, ${round(l.seconds)} s)${tag}${l.reason && l.verdict !== "ok" ? ` ${l.reason}` : ""}\n`,
            );
          }
        }
      }
      const counts = { ok: 0, violation: 0, unknown: 0, invalid: 0 };
      for (const v of worst.values()) counts[v]++;
      if (!flags.json) {
        process.stdout.write(
          `checked ${files.length} files: ${counts.ok} ok, ${counts.violation} violation, ${counts.unknown} unknown, ${counts.invalid} invalid (${round((performance.now() - start) / 1000)} s)\n`,
        );
      }
      process.exitCode = counts.violation > 0 ? 1 : counts.unknown > 0 || counts.invalid > 0 ? 2 : 0;
    });
}

const RANK: Record<Verdict, number> = { ok: 0, unknown: 1, invalid: 2, violation: 3 };
function worse(a: Verdict | undefined, b: Verdict): Verdict {
  return a === undefined || RANK[b] > RANK[a] ? b : a;
}

function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function checkFile(
  file: string,
  read: (path: string) => Promise<Op[]>,
  checks: string[],
  model: Model,
  timeLimitMs: number,
  reportPath: string | undefined,
  reportIsFolder: boolean,
): Promise<Line[]> {
  const t0 = performance.now();
  let ops: Op[];
  try {
    ops = await read(file);
  } catch (e) {
    const reason = e instanceof HistoryError ? e.message : `cannot read: ${(e as Error).message}`;
    const details = e instanceof HistoryError ? { line: e.line } : {};
    return checks.map((c) => ({
      file,
      consistency: c,
      verdict: "invalid",
      ops: 0,
      keys: 0,
      seconds: (performance.now() - t0) / 1000,
      reason,
      details,
    }));
  }
  const keys = new Set(ops.map((o) => o.key)).size;
  const lines: Line[] = [];
  let lin: LinearizabilityResult | undefined;
  const linearizable = async (): Promise<LinearizabilityResult> =>
    (lin ??= await checkLinearizable(ops, {
      model,
      timeLimitMs,
      keepLinearization: reportPath !== undefined,
    }));
  const notes: GuaranteeResult[] = [];
  for (const c of checks) {
    const t = performance.now();
    const line = (verdict: Verdict, reason?: string, details?: Record<string, unknown>): Line => ({
      file,
      consistency: c,
      verdict,
      ops: ops.length,
      keys,
      seconds: (performance.now() - t) / 1000,
      ...(reason ? { reason } : {}),
      ...(details ? { details } : {}),
    });
    const fromGuarantee = (g: GuaranteeResult): Line => {
      notes.push(g);
      return line(
        g.verdict,
        g.verdict === "violation" ? `${g.count} violation(s): ${firstLine(g.examples[0])}` : g.reason,
        {
          count: g.count,
          examples: g.examples,
        },
      );
    };
    switch (c) {
      case "linearizable": {
        const r = await linearizable();
        lines.push(
          line(r.verdict, r.verdict === "ok" ? undefined : r.summary, {
            model: r.model,
            ...(r.failingKey !== undefined ? { failingKey: r.failingKey } : {}),
            ...(r.explanation ? { explanation: r.explanation } : {}),
          }),
        );
        break;
      }
      case "sequential": {
        const r = checkSequentialSync(ops, { model, timeLimitMs, linearizable: await linearizable() });
        notes.push({
          guarantee: "sequential",
          verdict: r.verdict,
          count: r.verdict === "violation" ? 1 : 0,
          examples: r.explanation ? [r.explanation] : [],
        });
        lines.push(
          line(r.verdict, r.verdict === "ok" ? undefined : firstLine(r.explanation), {
            ...(r.failingKey !== undefined ? { failingKey: r.failingKey } : {}),
            ...(r.explanation ? { explanation: r.explanation } : {}),
          }),
        );
        break;
      }
      case "causal":
      case "causal-convergence": {
        const r = checkCausal(ops, c === "causal-convergence");
        const lr = r.verdict === "unknown" ? await linearizable() : undefined;
        lines.push(fromGuarantee(causalOrLinearizable(r, () => lr!)));
        break;
      }
      case "session": {
        const rs = SESSION_GUARANTEES.map((g) => checkSession(ops, g));
        notes.push(...rs);
        const v = rs.reduce<Verdict>((w, r) => worse(w, r.verdict), "ok");
        const broken = rs
          .filter((r) => r.verdict !== "ok")
          .map((r) => `${r.guarantee} ${r.verdict}${r.count ? ` (${r.count})` : ""}`);
        lines.push(
          line(v, broken.length ? broken.join(", ") : undefined, {
            guarantees: Object.fromEntries(
              rs.map((r) => [
                r.guarantee,
                {
                  verdict: r.verdict,
                  count: r.count,
                  examples: r.examples,
                  ...(r.reason ? { reason: r.reason } : {}),
                },
              ]),
            ),
          }),
        );
        break;
      }
      case "convergence":
        lines.push(fromGuarantee(checkConvergence(ops)));
        break;
      case "lost-writes": {
        const l = fromGuarantee(checkNoLostWrites(ops));
        l.details = { ...l.details, stats: anomalyStats(ops) };
        lines.push(l);
        break;
      }
      case "cas-atomic":
        lines.push(fromGuarantee(checkCasAtomic(ops)));
        break;
    }
  }
  if (reportPath) {
    const out = reportIsFolder
      ? join(reportPath, `${basename(file).replace(/\.[^.]*$/, "")}.html`)
      : reportPath;
    await writeReport(out, ops, await linearizable(), `clab check ${basename(file)}`, notes);
  }
  return lines;
}

function firstLine(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const i = s.indexOf("\n");
  return i < 0 ? s : `${s.slice(0, i)} …`;
}
