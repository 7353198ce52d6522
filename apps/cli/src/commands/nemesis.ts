import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  DEFAULT_MIX,
  findLibfaketime,
  type Mix,
  type NemesisSummary,
  netnsProblem,
  type PlannedFault,
  parseFaults,
  parseScheduleFile,
  parseTarget,
  planSchedule,
  runNemesis,
  toRecord,
  writeRecord,
} from "@consistency-lab/bench";
import { parseOptionArgs, resolveOptions } from "@consistency-lab/kv";
import type { Command } from "commander";
import { engineNames, findEngine } from "../engines.js";
import { UsageError } from "../usage-error.js";
import { CLI_MAIN } from "./cluster.js";
import { usage } from "./node.js";

interface NemesisFlags {
  engine?: string;
  option: string[];
  nodes?: string;
  faults: string;
  target: string;
  interval: string;
  duration?: string;
  seed?: string;
  schedule?: string;
  clients: string;
  keys: string;
  valueBytes: string;
  mix: string;
  timeoutMs: string;
  quiesce: string;
  checkTimeLimit: string;
  out?: string;
  record?: string;
  netns?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function positive(name: string, s: string, integer = true): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(
      `${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(s)}`,
    );
  return n;
}

/** parseMix reads `put=50,get=35,cas=15` (missing ones are 0). */
export function parseMix(s: string): Mix {
  const mix: Mix = { put: 0, get: 0, cas: 0 };
  for (const part of s.split(",")) {
    const [k, v] = part.split("=");
    if (!k || !(k in mix) || v === undefined || !(Number(v) >= 0))
      throw new UsageError(`--mix expects put=N,get=N,cas=N with N >= 0, got ${JSON.stringify(s)}`);
    mix[k as keyof Mix] = Number(v);
  }
  if (mix.put + mix.get + mix.cas <= 0) throw new UsageError("--mix must have some op with a share above 0");
  return mix;
}

/**
 * registerNemesis adds `clab nemesis` (ARCHITECTURE §7): a Jepsen-style fault run on real node processes, checked
 * against what the engine declares. Exit 0 when every declared guarantee held, 1 when one broke (or a node crashed
 * on its own), 2 on bad arguments or when a check could not decide in its time limit.
 */
export function registerNemesis(program: Command): void {
  program
    .command("nemesis")
    .description(
      "run a workload on a local cluster of real node processes while killing, pausing, partitioning and skewing nodes; check the history against what the engine declares",
    )
    .option("--engine <name>", "engine to run (or the one in --schedule)")
    .option("--option <k=v>", "engine option (repeatable)", collect, [])
    .option("--nodes <n>", "cluster size (default: the engine's)")
    .option("--faults <list>", "faults to draw from: kill,pause,partition,skew", "kill,pause")
    .option("--target <who>", "leader, random, minority, or node ids (n1,n2)", "leader")
    .option("--interval <s>", "seconds between faults (each is healed before the next)", "5")
    .option("--duration <s>", "seconds of workload (default 60, or the schedule's)")
    .option("--seed <n>", "seed for the schedule, targets and workload (default: random, printed)")
    .option("--schedule <file>", "replay the faults of an earlier run's schedule.json")
    .option("--clients <n>", "concurrent clients, one op in flight each", "6")
    .option("--keys <n>", "keys the workload uses", "4")
    .option("--value-bytes <n>", "size of written values", "16")
    .option("--mix <shares>", "op mix: put=N,get=N,cas=N (cas = get then cas)", "put=50,get=35,cas=15")
    .option("--timeout-ms <ms>", "client request deadline", "2000")
    .option("--quiesce <s>", "seconds to wait after the heal before the final reads", "5")
    .option("--check-time-limit <s>", "time limit of each check; past it the verdict is unknown", "120")
    .option("--netns", "run each node in its own network namespace; partitions are nftables rules (root)")
    .option("--out <dir>", "where history.jsonl, schedule.json, summary.json and node logs go")
    .option(
      "--record <dir>",
      "also keep the run's trimmed summary for the comparison docs (docs/results/nemesis)",
    )
    .option("--json", "print the summary as one JSON object")
    .action(async (flags: NemesisFlags) => {
      let replay: ReturnType<typeof parseScheduleFile> | undefined;
      if (flags.schedule) {
        try {
          replay = parseScheduleFile(JSON.parse(readFileSync(flags.schedule, "utf8")));
        } catch (e) {
          throw new UsageError(`--schedule ${flags.schedule}: ${(e as Error).message}`);
        }
      }
      const engineName = flags.engine ?? replay?.engine;
      if (!engineName) throw new UsageError("--engine is required (or --schedule FILE)");
      const engine = findEngine(engineName);
      if (!engine) throw new UsageError(`unknown engine "${engineName}"; known: ${engineNames()}`);
      const options =
        replay && flags.option.length === 0 ? replay.options : usage(() => parseOptionArgs(flags.option));
      usage(() => resolveOptions(engine.options, options));
      const nodes = flags.nodes
        ? positive("--nodes", flags.nodes)
        : (replay?.nodes ?? engine.defaultNodes ?? 3);
      const ids = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
      const durationMs = flags.duration
        ? positive("--duration", flags.duration, false) * 1000
        : (replay?.durationMs ?? 60_000);
      const seed =
        flags.seed !== undefined ? Number(flags.seed) : (replay?.seed ?? Math.floor(Math.random() * 2 ** 31));
      if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer`);
      let schedule: PlannedFault[];
      if (replay) {
        schedule = replay.faults;
        const unknown = schedule
          .flatMap((f) => (typeof f.target === "object" ? f.target.nodes : []))
          .filter((n) => !ids.includes(n));
        if (unknown.length > 0)
          throw new UsageError(`--schedule names nodes not in a ${nodes}-node cluster: ${unknown.join(",")}`);
      } else {
        const kinds = usage(() => parseFaults(flags.faults));
        const target = usage(() => parseTarget(flags.target, ids));
        schedule = planSchedule({
          seed,
          kinds,
          target,
          intervalMs: positive("--interval", flags.interval, false) * 1000,
          durationMs,
        });
      }
      if (flags.netns) {
        const why = netnsProblem();
        if (why) throw new UsageError(`--netns: ${why}`);
      }
      if (schedule.some((f) => f.kind === "skew") && !findLibfaketime()) {
        throw new UsageError("skew needs libfaketime's faketime command (Debian: apt-get install faketime)");
      }
      const clients = positive("--clients", flags.clients);
      const keys = positive("--keys", flags.keys);
      const valueBytes = positive("--value-bytes", flags.valueBytes);
      const mix = flags.mix ? parseMix(flags.mix) : DEFAULT_MIX;
      const timeoutMs = positive("--timeout-ms", flags.timeoutMs);
      const quiesceS = Number(flags.quiesce);
      if (!(quiesceS >= 0)) throw new UsageError("--quiesce must be a number of seconds >= 0");
      const checkS = positive("--check-time-limit", flags.checkTimeLimit, false);
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      const outDir = resolve(flags.out ?? join("clab-nemesis", `${engine.name}-${stamp}`));
      // A run starts from empty data directories: old data would replay old values (values must be unique).
      if (existsSync(outDir) && readdirSync(outDir).length > 0)
        throw new UsageError(`--out ${outDir} is not empty; give a new directory`);
      mkdirSync(outDir, { recursive: true });

      const say = (s: string) => (flags.json ? process.stderr : process.stdout).write(`${s}\n`);
      say(
        `nemesis: ${engine.name}${
          Object.keys(options).length
            ? ` (${Object.entries(options)
                .map(([k, v]) => `${k}=${v}`)
                .join(",")})`
            : ""
        }, ${nodes} nodes, ${durationMs / 1000} s, ${schedule.length} faults, seed ${seed}; output in ${outDir}`,
      );
      const summary = await runNemesis({
        launcher: { command: process.execPath, args: [CLI_MAIN] },
        engine,
        options,
        nodes,
        schedule,
        seed,
        durationMs,
        clients,
        keys,
        valueBytes,
        mix,
        timeoutMs,
        quiesceMs: quiesceS * 1000,
        checkTimeLimitMs: checkS * 1000,
        outDir,
        ...(flags.netns ? { netns: true } : {}),
        log: say,
      });
      if (flags.record) say(`recorded ${writeRecord(resolve(flags.record), toRecord(summary))}`);
      if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(renderSummary(summary));
      process.exitCode = summary.valid === true ? 0 : summary.valid === false ? 1 : 2;
    });
}

/** renderSummary is the human report of a run: ops, each fault and its recovery, each declared guarantee. */
export function renderSummary(s: NemesisSummary): string {
  const lines: string[] = [];
  lines.push(
    `ops: ${s.ops.total} (${s.ops.ok} ok, ${s.ops.fail} fail, ${s.ops.info} info; ${s.ops.final} final reads)`,
  );
  const kinds = new Map<string, number>();
  for (const f of s.faults) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
  lines.push(
    `faults: ${s.faults.length}${kinds.size ? ` (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")})` : ""}`,
  );
  for (const f of s.faults) {
    lines.push(
      `  ${(f.startedMs / 1000).toFixed(1)} s ${f.kind} ${f.nodes.join(",")} ${f.holdMs} ms; first write acked ${ms(f.firstWriteMs)} after it began, ${ms(f.recoveryMs)} after the heal`,
    );
  }
  for (const c of s.crashes)
    lines.push(`CRASH: node ${c.node} exited on its own at ${(c.atMs / 1000).toFixed(1)} s (${c.how})`);
  if (s.declared.includes("convergence"))
    lines.push(
      `replicas agreed ${s.agreement.agreedAfterMs === null ? "NEVER (watched until 10 s past the quiesce time)" : `${s.agreement.agreedAfterMs} ms after the final heal`}`,
    );
  for (const g of s.declared) {
    lines.push(`  ${s.verdicts[g] === "ok" ? "ok  " : s.verdicts[g]!.toUpperCase()} ${g}`);
    for (const ex of s.violations[g] ?? []) lines.push(`       ${ex.split("\n").join("\n       ")}`);
  }
  lines.push(`checked in ${s.checkSeconds} s; history ${s.historyFile}`);
  lines.push(`schedule ${s.scheduleFile} (replay: clab nemesis --schedule ${s.scheduleFile})`);
  lines.push(
    s.valid === true
      ? `valid: every declared guarantee held`
      : s.valid === false
        ? `INVALID: ${[...Object.keys(s.violations), ...(s.crashes.length ? ["node crashed"] : [])].join(", ")}`
        : "unknown: a check did not finish in its time limit (raise --check-time-limit)",
  );
  return `${lines.join("\n")}\n`;
}

function ms(x: number | null): string {
  return x === null ? "never" : `${x} ms`;
}
