import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  checkResult,
  describeViolations,
  type RunCheck,
  type RunSpec,
  replayCommand,
  seedList,
} from "@consistency-lab/conformance";
import {
  declaredGuarantees,
  formatEvent,
  GUARANTEES,
  parseOptionArgs,
  resolveOptions,
} from "@consistency-lab/kv";
import {
  FAULT_KINDS,
  type FaultKind,
  fromReplayFile,
  parseScenario,
  runSimulation,
  ScenarioError,
  type SimConfig,
  shrink,
  toReplayFile,
} from "@consistency-lab/sim";
import type { Command } from "commander";
import { engineNames, findEngine, listEngines } from "../engines.js";
import { UsageError } from "../usage-error.js";

interface SimFlags {
  engine?: string;
  option: string[];
  nodes?: string;
  seed?: string;
  seeds?: string;
  ops?: string;
  clients?: string;
  keys?: string;
  faults?: string;
  scenario?: string;
  history?: string;
  replay?: string;
  json?: boolean;
  list?: boolean;
  shrink: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function parseFaults(v: string | undefined): SimConfig["faults"] {
  if (v === undefined || v === "none") return "none";
  if (v === "all") return "all";
  const kinds = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw new UsageError(
        `unknown fault "${k}"; --faults takes none, all or a list of: ${FAULT_KINDS.join(", ")}`,
      );
    }
  }
  return kinds as FaultKind[];
}

/** registerSim adds `clab sim` (ARCHITECTURE §5). */
export function registerSim(program: Command): void {
  program
    .command("sim")
    .description("seeded simulation runs, each checked against the engine's declared guarantees")
    .option("--engine <name>", "engine to simulate (see --list)")
    .option("--option <k=v>", "engine option (repeatable)", collect, [])
    .option("--nodes <n>", "cluster size")
    .option("--seed <s>", "run this one seed")
    .option("--seeds <count>", "run seeds 1..count")
    .option("--ops <n>", "operations in the workload")
    .option("--clients <n>", "concurrent client processes")
    .option("--keys <n>", "distinct keys")
    .option(
      "--faults <list>",
      "none, all, or a list of partition,partition-oneway,crash,pause,loss,dup,reorder,delay,skew",
    )
    .option("--scenario <file>", "a scenario file (faults schedule, workload, options)")
    .option("--history <dir>", "write each run's history to DIR/<engine>-<seed>.jsonl")
    .option("--replay <file>", "rerun a saved failing run")
    .option("--no-shrink", "do not shrink failing runs")
    .option("--json", "one JSON object per run, then a summary object")
    .option("--list", "list engines, broken variants and their options")
    .action((flags: SimFlags) => runSimCommand(flags));
}

function printList(): void {
  for (const e of listEngines()) {
    const kind = e.broken ? "broken variant" : "engine";
    process.stdout.write(`${e.name}  (${kind}) ${e.description}\n`);
    if (e.broken) process.stdout.write(`    broken: ${e.broken}\n`);
    if (e.keptBecause) process.stdout.write(`    kept because: ${e.keptBecause}\n`);
    const s = e.supports(resolveOptions(e.options));
    process.stdout.write(`    declares: ${declaredGuarantees(s).join(", ") || "(nothing)"}\n`);
    for (const o of e.options) {
      const choices = o.choices ? ` [${o.choices.join("|")}]` : "";
      process.stdout.write(
        `    --option ${o.name}=<${o.type}>${choices} (default ${o.default}) ${o.description}\n`,
      );
    }
  }
}

function runSimCommand(flags: SimFlags): void {
  if (flags.list) {
    printList();
    return;
  }

  let spec: RunSpec;
  let seeds: number[];
  let plannedFromReplay: SimConfig | undefined;
  if (flags.replay) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(flags.replay, "utf8"));
    } catch (e) {
      throw new UsageError(`cannot read replay file ${flags.replay}: ${(e as Error).message}`);
    }
    try {
      plannedFromReplay = fromReplayFile(json, findEngine);
    } catch (e) {
      if (e instanceof ScenarioError) throw new UsageError(`${flags.replay}: ${e.message}`);
      throw e;
    }
    const c = plannedFromReplay;
    spec = { engine: c.engine, faults: c.faults ?? "none" };
    if (c.options) spec.options = c.options;
    if (c.nodes) spec.nodes = c.nodes;
    if (c.workload) spec.workload = c.workload;
    if (c.network) spec.network = c.network;
    if (c.plan) spec.plan = c.plan;
    if (c.recoveryMs !== undefined) spec.recoveryMs = c.recoveryMs;
    if (c.persistLatencyMs !== undefined) spec.persistLatencyMs = c.persistLatencyMs;
    seeds = [c.seed];
  } else {
    if (!flags.engine) throw new UsageError("--engine is required (or --list, or --replay FILE)");
    const engine = findEngine(flags.engine);
    if (!engine) throw new UsageError(`unknown engine "${flags.engine}"; known: ${engineNames()}`);
    let cliOptions: Record<string, string>;
    try {
      cliOptions = parseOptionArgs(flags.option);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    spec = { engine, faults: parseFaults(flags.faults) };
    let options: Record<string, string | number | boolean> = {};
    const workload: NonNullable<RunSpec["workload"]> = {};
    if (flags.scenario) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(flags.scenario, "utf8"));
      } catch (e) {
        throw new UsageError(`cannot read scenario ${flags.scenario}: ${(e as Error).message}`);
      }
      let sc: ReturnType<typeof parseScenario>;
      try {
        sc = parseScenario(json);
      } catch (e) {
        if (e instanceof ScenarioError) throw new UsageError(`${flags.scenario}: ${e.message}`);
        throw e;
      }
      if (flags.faults !== undefined) throw new UsageError("--faults and --scenario cannot be combined");
      spec.faults = sc.faults;
      options = { ...(sc.options ?? {}) };
      if (sc.nodes !== undefined) spec.nodes = sc.nodes;
      Object.assign(workload, sc.workload ?? {});
      if (sc.network) spec.network = sc.network;
      if (sc.recoveryMs !== undefined) spec.recoveryMs = sc.recoveryMs;
      if (sc.persistLatencyMs !== undefined) spec.persistLatencyMs = sc.persistLatencyMs;
    }
    options = { ...options, ...cliOptions };
    try {
      resolveOptions(engine.options, options);
    } catch (e) {
      throw new UsageError(`${engine.name}: ${(e as Error).message}`);
    }
    if (Object.keys(options).length) spec.options = options;
    const nodes = positiveInt("--nodes", flags.nodes);
    if (nodes !== undefined) spec.nodes = nodes;
    const ops = positiveInt("--ops", flags.ops);
    if (ops !== undefined) workload.ops = ops;
    const clients = positiveInt("--clients", flags.clients);
    if (clients !== undefined) workload.clients = clients;
    const keys = positiveInt("--keys", flags.keys);
    if (keys !== undefined) workload.keys = keys;
    if (Object.keys(workload).length) spec.workload = workload;
    if (flags.seed !== undefined && flags.seeds !== undefined)
      throw new UsageError("give --seed or --seeds, not both");
    if (flags.seed !== undefined) {
      const s = Number(flags.seed);
      if (!Number.isInteger(s) || s < 0)
        throw new UsageError(`--seed must be a non-negative integer, got ${flags.seed}`);
      seeds = [s];
    } else {
      seeds = seedList(positiveInt("--seeds", flags.seeds) ?? 1);
    }
  }

  const n = spec.nodes ?? spec.engine.defaultNodes ?? 3;
  if (spec.engine.maxNodes !== undefined && n > spec.engine.maxNodes) {
    throw new UsageError(`${spec.engine.name} runs at most ${spec.engine.maxNodes} node(s), got ${n}`);
  }
  spec.nodes = n;

  const replayDir = flags.history ?? join(".clab", "replays");
  if (flags.history) mkdirSync(flags.history, { recursive: true });
  let simNs = 0n;
  let messages = 0;
  let failingRuns = 0;
  const undeclared = new Map<string, number>();
  const engineName = spec.engine.name;

  for (const seed of seeds) {
    const config: SimConfig = plannedFromReplay ?? { ...specToConfig(spec), seed };
    const t0 = process.hrtime.bigint();
    const result = runSimulation(config);
    simNs += process.hrtime.bigint() - t0;
    const run = checkResult(spec.engine, result.options, config, result, 10_000);
    messages += result.messages;
    for (const u of run.undeclaredBroken) undeclared.set(u.guarantee, (undeclared.get(u.guarantee) ?? 0) + 1);
    if (flags.history) writeHistory(join(flags.history, `${engineName}-${seed}.jsonl`), result.history);
    const failed = run.violations.length > 0;
    if (failed) failingRuns++;
    let replayFile: string | undefined;
    if (failed) replayFile = saveFailure(run, flags.shrink, replayDir);
    report(
      run,
      flags.json === true,
      replayFile,
      plannedFromReplay ? undefined : replayCommand(spec, seed, flags.scenario),
    );
  }

  // The rate is the simulator's own: messages over the time spent simulating, not checking or shrinking.
  const seconds = Number(simNs) / 1e9;
  const rate = Math.round(messages / Math.max(seconds, 1e-9));
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ summary: true, engine: engineName, runs: seeds.length, violations: failingRuns, messages, messagesPerSec: rate, undeclaredBroken: Object.fromEntries(undeclared) })}\n`,
    );
  } else {
    for (const g of GUARANTEES) {
      const n = undeclared.get(g);
      if (n) process.stdout.write(`not declared: ${g} broken in ${n}/${seeds.length} runs\n`);
    }
    process.stdout.write(
      `sim ${engineName}: ${seeds.length} runs, ${failingRuns} violations, ${messages} messages, ${rate} msg/s\n`,
    );
  }
  if (failingRuns > 0) process.exitCode = 1;
}

function specToConfig(spec: RunSpec): Omit<SimConfig, "seed"> {
  const c: Omit<SimConfig, "seed"> = { engine: spec.engine };
  if (spec.options) c.options = spec.options;
  if (spec.nodes !== undefined) c.nodes = spec.nodes;
  if (spec.faults !== undefined) c.faults = spec.faults;
  if (spec.workload) c.workload = spec.workload;
  if (spec.network) c.network = spec.network;
  if (spec.plan) c.plan = spec.plan;
  if (spec.recoveryMs !== undefined) c.recoveryMs = spec.recoveryMs;
  if (spec.persistLatencyMs !== undefined) c.persistLatencyMs = spec.persistLatencyMs;
  return c;
}

function writeHistory(path: string, history: readonly Parameters<typeof formatEvent>[0][]): void {
  writeFileSync(path, history.map((e) => `${formatEvent(e)}\n`).join(""));
}

/** saveFailure shrinks a failing run (delta debugging over faults and ops) and saves it as a replay file. */
function saveFailure(run: RunCheck, doShrink: boolean, dir: string): string {
  const broken = new Set(run.violations.map((v) => v.guarantee));
  let config = run.config;
  let result = run.result;
  if (doShrink) {
    const s = shrink(
      run.config,
      (r) =>
        checkResult(run.config.engine, r.options, run.config, r, 10_000).violations.some((v) =>
          broken.has(v.guarantee),
        ),
      { maxRuns: 200 },
    );
    config = s.config;
    result = s.result;
  }
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${run.config.engine.name}-${run.seed}`);
  const file = toReplayFile(config, result);
  file.note = `violates ${[...broken].join(", ")}`;
  writeFileSync(`${base}.replay.json`, `${JSON.stringify(file, null, 2)}\n`);
  writeHistory(`${base}.shrunk.jsonl`, result.history);
  return `${base}.replay.json`;
}

function report(
  run: RunCheck,
  json: boolean,
  replayFile: string | undefined,
  seedCommand: string | undefined,
): void {
  const r = run.result;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        seed: run.seed,
        engine: r.engine,
        traceHash: r.traceHash,
        ops: r.stats.ok + r.stats.fail + r.stats.info,
        ok: r.stats.ok,
        fail: r.stats.fail,
        info: r.stats.info,
        messages: r.messages,
        virtualMs: r.virtualMs,
        violations: run.violations.map((v) => ({
          guarantee: v.guarantee,
          count: v.count,
          examples: v.examples,
        })),
        unknown: run.unknown.map((v) => v.guarantee),
        undeclaredBroken: run.undeclaredBroken.map((v) => v.guarantee),
        stats: run.stats,
        replay: replayFile,
      })}\n`,
    );
    return;
  }
  const ops = r.stats.ok + r.stats.fail + r.stats.info;
  const head = `seed ${run.seed}: trace ${r.traceHash} (${ops} ops: ${r.stats.ok} ok, ${r.stats.fail} fail, ${r.stats.info} info; ${r.messages} msgs)`;
  if (run.violations.length === 0) {
    const unk = run.unknown.length ? ` unknown: ${run.unknown.map((u) => u.guarantee).join(", ")}` : "";
    process.stdout.write(`${head} ok${unk}\n`);
    return;
  }
  process.stdout.write(`${head} VIOLATION\n  ${describeViolations(run)}\n`);
  if (seedCommand) process.stdout.write(`  rerun:  ${seedCommand}\n`);
  if (replayFile) process.stdout.write(`  replay: pnpm -s clab sim --replay ${replayFile}\n`);
}
