import { readFileSync } from "node:fs";
import { anomalyStats, checkGuarantees, type GuaranteeResult, parseHistory } from "@consistency-lab/checker";
import {
  declaredGuarantees,
  type EngineDefinition,
  type EngineOptions,
  GUARANTEES,
  type Guarantee,
  type OptionValue,
  resolveOptions,
  type Supports,
} from "@consistency-lab/kv";
import {
  parseScenario,
  runSimulation,
  type Scenario,
  type SimConfig,
  type SimResult,
} from "@consistency-lab/sim";

/** RunSpec is one engine configuration to simulate under many seeds. */
export interface RunSpec {
  engine: EngineDefinition<any>;
  options?: Record<string, OptionValue>;
  nodes?: number;
  faults?: SimConfig["faults"];
  workload?: SimConfig["workload"];
  network?: SimConfig["network"];
  recoveryMs?: number;
  persistLatencyMs?: number;
  plan?: SimConfig["plan"];
  /** Checker time limit per run (linearizability search); past it a guarantee is `unknown`, never ok. */
  timeLimitMs?: number;
}

/** RunCheck is one simulated run and the checker's verdict on every guarantee. */
export interface RunCheck {
  seed: number;
  config: SimConfig;
  result: SimResult;
  supports: Supports;
  declared: Guarantee[];
  results: GuaranteeResult[];
  /** Declared guarantees the history broke: each one fails `clab sim` and the conformance suite. */
  violations: GuaranteeResult[];
  /** Declared guarantees the checker could not decide within its limits. */
  unknown: GuaranteeResult[];
  /** Guarantees the engine does not declare and this history broke: what the weaker model lost. */
  undeclaredBroken: GuaranteeResult[];
  stats: ReturnType<typeof anomalyStats>;
}

/** scenarioSpec turns a scenario file's contents into a RunSpec for `engine` (3 nodes unless it says). */
export function scenarioSpec(engine: EngineDefinition<any>, scenario: Scenario): RunSpec {
  const spec: RunSpec = {
    engine,
    nodes: scenario.nodes ?? 3,
    faults: scenario.faults,
    workload: scenario.workload ?? {},
  };
  if (scenario.options !== undefined) spec.options = scenario.options;
  if (scenario.network !== undefined) spec.network = scenario.network;
  if (scenario.recoveryMs !== undefined) spec.recoveryMs = scenario.recoveryMs;
  if (scenario.persistLatencyMs !== undefined) spec.persistLatencyMs = scenario.persistLatencyMs;
  return spec;
}

/** loadScenario reads and validates a scenario file (a path or a file URL). */
export function loadScenario(file: string | URL): Scenario {
  return parseScenario(readFileSync(file, "utf8"));
}

/** simConfig builds the simulator config of a spec for one seed. */
export function simConfig(spec: RunSpec, seed: number): SimConfig {
  const c: SimConfig = { engine: spec.engine, seed };
  if (spec.options !== undefined) c.options = spec.options;
  if (spec.nodes !== undefined) c.nodes = spec.nodes;
  if (spec.faults !== undefined) c.faults = spec.faults;
  if (spec.workload !== undefined) c.workload = spec.workload;
  if (spec.network !== undefined) c.network = spec.network;
  if (spec.recoveryMs !== undefined) c.recoveryMs = spec.recoveryMs;
  if (spec.persistLatencyMs !== undefined) c.persistLatencyMs = spec.persistLatencyMs;
  if (spec.plan !== undefined) c.plan = spec.plan;
  return c;
}

/** supportsOf resolves an engine's manifest for raw options. */
export function supportsOf(engine: EngineDefinition<any>, options?: Record<string, OptionValue>): Supports {
  return engine.supports(resolveOptions(engine.options, options));
}

/** checkResult runs every guarantee check over a simulated run and sorts the verdicts by what was declared. */
export function checkResult(
  engine: EngineDefinition<any>,
  options: EngineOptions,
  config: SimConfig,
  result: SimResult,
  timeLimitMs = 10_000,
): RunCheck {
  const supports = engine.supports(options);
  const declared = declaredGuarantees(supports);
  const ops = parseHistory(result.history);
  const results = checkGuarantees(ops, GUARANTEES, { timeLimitMs });
  const isDeclared = (g: Guarantee) => declared.includes(g);
  return {
    seed: result.seed,
    config,
    result,
    supports,
    declared,
    results,
    violations: results.filter((r) => isDeclared(r.guarantee) && r.verdict === "violation"),
    unknown: results.filter((r) => isDeclared(r.guarantee) && r.verdict === "unknown"),
    undeclaredBroken: results.filter((r) => !isDeclared(r.guarantee) && r.verdict === "violation"),
    stats: anomalyStats(ops),
  };
}

/** runSeed simulates one seed of a spec and checks it. */
export function runSeed(spec: RunSpec, seed: number): RunCheck {
  const config = simConfig(spec, seed);
  const result = runSimulation(config);
  return checkResult(spec.engine, result.options, config, result, spec.timeLimitMs);
}

/** seedList turns a count (seeds 1..N) or an explicit list into a list. */
export function seedList(seeds: number | readonly number[]): number[] {
  return typeof seeds === "number" ? Array.from({ length: seeds }, (_, i) => i + 1) : [...seeds];
}

/**
 * findViolation runs seeds in order and returns the first run that breaks a declared guarantee, or undefined.
 * Broken variants declare what the real engine would, so this is how their tests prove they are caught.
 */
export function findViolation(spec: RunSpec & { seeds: number | readonly number[] }): RunCheck | undefined {
  for (const seed of seedList(spec.seeds)) {
    const run = runSeed(spec, seed);
    if (run.violations.length > 0) return run;
  }
  return undefined;
}

/** replayCommand is the command line that reruns one seed of a spec. */
export function replayCommand(spec: RunSpec, seed: number, scenarioFile?: string): string {
  const parts = ["pnpm -s clab sim", `--engine ${spec.engine.name}`];
  for (const [k, v] of Object.entries(spec.options ?? {})) parts.push(`--option ${k}=${v}`);
  if (spec.nodes !== undefined) parts.push(`--nodes ${spec.nodes}`);
  parts.push(`--seed ${seed}`);
  const f = spec.faults;
  // An explicit fault schedule came from a scenario file: rerunning needs the file, not the flags.
  if (scenarioFile !== undefined) return [...parts, `--scenario ${scenarioFile}`].join(" ");
  if (f === undefined || f === "none") parts.push("--faults none");
  else if (f === "all") parts.push("--faults all");
  else if (f.length > 0 && typeof f[0] === "string") parts.push(`--faults ${(f as string[]).join(",")}`);
  if (spec.workload?.ops !== undefined) parts.push(`--ops ${spec.workload.ops}`);
  return parts.join(" ");
}

/** describeViolations renders a run's declared-guarantee violations in a few lines. */
export function describeViolations(run: RunCheck, examples = 1): string {
  return run.violations
    .map((v) => {
      const shown = v.examples.slice(0, examples).map((e) => e.replace(/\n/g, "\n      "));
      return `${v.guarantee}: ${v.count} violation(s)${shown.length ? `\n    ${shown.join("\n    ")}` : ""}`;
    })
    .join("\n  ");
}
