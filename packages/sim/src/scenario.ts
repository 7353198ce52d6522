import { type EngineDefinition, LIMITS } from "@consistency-lab/kv";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { FAULT_STEP_KEYS, type FaultStep, type Scenario, type SimConfig } from "./types.js";

/** ScenarioError is a scenario or replay file that does not validate; the message names the field and its path. */
export class ScenarioError extends Error {
  /** Every problem found, one per line of the message. */
  readonly problems: string[];

  constructor(problems: string[] | string) {
    const list = typeof problems === "string" ? [problems] : problems;
    super(list.join("\n"));
    this.name = "ScenarioError";
    this.problems = list;
  }
}

const ms = { type: "number", minimum: 0 } as const;
const rate = { type: "number", minimum: 0, maximum: 1 } as const;
const target = {
  type: "string",
  minLength: 1,
  description: 'a node id, "*" (every node) or "leader"',
} as const;
const group = { type: "array", items: target, minItems: 1 } as const;

const delayDistSchema = {
  type: "object",
  description: "one-way delay distribution in virtual ms",
  discriminator: { propertyName: "kind" },
  required: ["kind"],
  oneOf: [
    {
      properties: { kind: { const: "constant" }, ms },
      required: ["kind", "ms"],
      additionalProperties: false,
    },
    {
      properties: { kind: { const: "uniform" }, minMs: ms, maxMs: ms },
      required: ["kind", "minMs", "maxMs"],
      additionalProperties: false,
    },
    {
      properties: { kind: { const: "exponential" }, meanMs: ms, minMs: ms },
      required: ["kind", "meanMs"],
      additionalProperties: false,
    },
  ],
} as const;

const networkProperties = {
  delay: delayDistSchema,
  loss: rate,
  dup: rate,
  reorder: rate,
  clientDelayMs: ms,
  maxMessageBytes: {
    type: "integer",
    minimum: 0,
    description: "largest peer message in encoded bytes; larger ones are dropped (0: no limit)",
  },
} as const;

const requestOptionsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    r: { type: "integer", minimum: 1 },
    w: { anyOf: [{ type: "integer", minimum: 1 }, { const: "majority" }] },
    read: { enum: ["linearizable", "lease", "stale"] },
    readFrom: { enum: ["leader", "follower"] },
    maxStalenessMs: ms,
    context: { type: "string" },
    blockingReadRepair: { type: "boolean" },
  },
} as const;

const workloadProperties = {
  clients: { type: "integer", minimum: 1 },
  ops: { type: "integer", minimum: 0 },
  keys: { type: "integer", minimum: 1 },
  mix: {
    type: "object",
    additionalProperties: false,
    properties: {
      read: { type: "number", minimum: 0 },
      write: { type: "number", minimum: 0 },
      cas: { type: "number", minimum: 0 },
      delete: { type: "number", minimum: 0 },
    },
  },
  deadlineMs: { type: "number", exclusiveMinimum: 0 },
  thinkMs: ms,
  requestOptions: requestOptionsSchema,
  switchNodeRate: rate,
  valueBytes: {
    type: "integer",
    minimum: 1,
    maximum: LIMITS.maxValueBytes,
    description: "written values are padded to this many bytes",
  },
} as const;

const optionsSchema = {
  type: "object",
  description: "engine options, as --option k=v",
  additionalProperties: { type: ["string", "number", "boolean"] },
} as const;

/** The argument schema of each fault step kind. */
const stepArgSchemas: Record<(typeof FAULT_STEP_KEYS)[number], object> = {
  partition: {
    type: "array",
    items: group,
    minItems: 1,
    description: "groups cut from each other both ways",
  },
  "partition-oneway": {
    type: "object",
    additionalProperties: false,
    required: ["from", "to"],
    properties: { from: group, to: group },
    description: "the from group cannot reach the to group",
  },
  heal: { const: true, description: "remove every partition" },
  crash: target,
  restart: target,
  pause: {
    type: "object",
    additionalProperties: false,
    required: ["node", "ms"],
    properties: { node: target, ms },
  },
  skew: {
    type: "object",
    additionalProperties: false,
    required: ["node", "ms"],
    properties: { node: target, ms: { type: "number", description: "clock offset, may be negative" } },
  },
  loss: {
    type: "object",
    additionalProperties: false,
    required: ["from", "to", "rate"],
    properties: { from: target, to: target, rate },
  },
  dup: { type: "object", additionalProperties: false, required: ["rate"], properties: { rate } },
  reorder: { type: "object", additionalProperties: false, required: ["rate"], properties: { rate } },
  delay: {
    type: "object",
    additionalProperties: false,
    required: ["from", "to", "ms"],
    properties: { from: target, to: target, ms, jitter: ms },
  },
};

function stepSchema(key: (typeof FAULT_STEP_KEYS)[number]): object {
  return {
    type: "object",
    additionalProperties: false,
    required: ["at", key],
    properties: {
      at: { ...ms, description: "virtual ms from the workload start" },
      [key]: stepArgSchemas[key],
    },
  };
}

/**
 * scenarioSchema is the JSON Schema (draft-07) of a simulation scenario file (ARCHITECTURE §5). Also published as
 * `@consistency-lab/sim/scenario.schema.json`.
 */
export const scenarioSchema: object = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "consistency-lab simulation scenario",
  type: "object",
  additionalProperties: false,
  required: ["faults"],
  properties: {
    $schema: { type: "string" },
    description: { type: "string" },
    nodes: { type: "integer", minimum: 1 },
    options: optionsSchema,
    workload: { type: "object", additionalProperties: false, properties: workloadProperties },
    network: { type: "object", additionalProperties: false, properties: networkProperties },
    recoveryMs: ms,
    persistLatencyMs: { ...ms, description: "virtual ms a persist batch takes to become durable" },
    faults: { type: "array", items: { oneOf: FAULT_STEP_KEYS.map(stepSchema) } },
  },
};

const ajv = new Ajv({
  allErrors: true,
  discriminator: true,
  strict: true,
  strictTypes: false,
  strictRequired: false,
});

/** Top-level scenario shape with fault steps checked one by one (so errors name the step's own fields). */
const scenarioShape = ajv.compile({
  ...scenarioSchema,
  $schema: undefined,
  properties: { ...(scenarioSchema as { properties: object }).properties, faults: { type: "array" } },
});
const stepValidators = new Map<string, ValidateFunction>(
  FAULT_STEP_KEYS.map((k) => [k, ajv.compile(stepSchema(k))]),
);

const replayShape = ajv.compile({
  type: "object",
  additionalProperties: false,
  required: [
    "format",
    "version",
    "engine",
    "options",
    "nodes",
    "seed",
    "workload",
    "network",
    "faults",
    "plan",
    "recoveryMs",
  ],
  properties: {
    format: { const: "clab-replay" },
    version: { const: 1 },
    engine: { type: "string", minLength: 1 },
    options: optionsSchema,
    nodes: { type: "integer", minimum: 1 },
    seed: { type: "integer" },
    workload: {
      type: "object",
      additionalProperties: false,
      required: ["clients", "ops", "keys", "mix", "deadlineMs", "thinkMs", "switchNodeRate"],
      properties: workloadProperties,
    },
    network: {
      type: "object",
      additionalProperties: false,
      required: ["delay", "loss", "dup", "reorder", "clientDelayMs"],
      properties: networkProperties,
    },
    faults: { type: "array" },
    plan: {
      type: "object",
      additionalProperties: false,
      required: ["clients"],
      properties: {
        clients: {
          type: "array",
          items: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              required: ["op", "key"],
              properties: {
                op: { enum: ["get", "put", "delete", "cas"] },
                key: { type: "string" },
                value: { type: "string" },
                expected: { type: ["string", "null"] },
              },
            },
          },
        },
      },
    },
    recoveryMs: ms,
    tickMs: { type: "number", exclusiveMinimum: 0 },
    persistLatencyMs: ms,
    traceHash: { type: "string" },
    note: { type: "string" },
  },
});

/** formatErrors turns ajv errors into lines naming the path and, for unknown fields, the field. */
export function formatErrors(errors: ErrorObject[] | null | undefined, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    const path = prefix + e.instancePath || "/";
    if (e.keyword === "additionalProperties") {
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      out.push(`${path}: unknown field "${field}"`);
    } else if (e.keyword === "discriminator") {
      out.push(`${path}: ${e.message} (kind must be "constant", "uniform" or "exponential")`);
    } else {
      out.push(`${path}: ${e.message}`);
    }
  }
  return [...new Set(out)];
}

/** validateFaultSteps checks every fault step's shape and returns the problems found (empty when valid). */
export function validateFaultSteps(faults: unknown[], prefix = "/faults"): string[] {
  const problems: string[] = [];
  faults.forEach((step, i) => {
    const path = `${prefix}/${i}`;
    if (typeof step !== "object" || step === null || Array.isArray(step)) {
      problems.push(`${path}: must be an object`);
      return;
    }
    const keys = Object.keys(step).filter((k) => k !== "at");
    const kinds = keys.filter((k) => (FAULT_STEP_KEYS as readonly string[]).includes(k));
    if (kinds.length !== 1) {
      const unknown = keys.filter((k) => !kinds.includes(k));
      const detail =
        unknown.length > 0
          ? `; unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}`
          : "";
      problems.push(
        kinds.length === 0
          ? `${path}: no fault kind (one of ${FAULT_STEP_KEYS.join(", ")})${detail}`
          : `${path}: several fault kinds in one step (${kinds.join(", ")})`,
      );
      return;
    }
    const v = stepValidators.get(kinds[0]!)!;
    if (!v(step)) problems.push(...formatErrors(v.errors, path));
  });
  return problems;
}

/** nodeIds are the ids of an N-node cluster. */
function nodeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `n${i + 1}`);
}

/** checkTargets reports node targets that are not "*", "leader" or one of `ids`. */
export function checkTargets(faults: FaultStep[], ids: string[], prefix = "/faults"): string[] {
  const problems: string[] = [];
  const ok = (t: string) => t === "*" || t === "leader" || ids.includes(t);
  faults.forEach((step, i) => {
    const s = step as Record<string, any>;
    const bad: string[] = [];
    const check = (t: string) => {
      if (!ok(t)) bad.push(t);
    };
    if (s.partition) for (const g of s.partition) for (const t of g) check(t);
    if (s["partition-oneway"])
      for (const t of [...s["partition-oneway"].from, ...s["partition-oneway"].to]) check(t);
    if (typeof s.crash === "string") check(s.crash);
    if (typeof s.restart === "string") check(s.restart);
    for (const k of ["pause", "skew"]) if (s[k]) check(s[k].node);
    for (const k of ["loss", "delay"]) if (s[k]) for (const t of [s[k].from, s[k].to]) check(t);
    for (const t of new Set(bad)) {
      problems.push(`${prefix}/${i}: unknown node "${t}" (nodes are ${ids.join(", ")}, "*" or "leader")`);
    }
  });
  return problems;
}

function semanticChecks(
  o: { workload?: Record<string, any>; network?: Record<string, any> },
  prefix = "",
): string[] {
  const problems: string[] = [];
  const d = o.network?.delay;
  if (d?.kind === "uniform" && d.minMs > d.maxMs)
    problems.push(`${prefix}/network/delay: minMs is larger than maxMs`);
  const mix = o.workload?.mix;
  if (mix && !(Object.values(mix as Record<string, number>).reduce((a, b) => a + b, 0) > 0)) {
    problems.push(`${prefix}/workload/mix: needs at least one positive weight`);
  }
  return problems;
}

/**
 * parseScenario validates a scenario (an object, or JSON text) against `scenarioSchema` and semantic rules
 * (node targets exist when `nodes` is given, uniform delay bounds are ordered, the mix has a positive weight).
 * Throws ScenarioError naming every problem with its path.
 */
export function parseScenario(json: unknown): Scenario {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new ScenarioError(`scenario is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!scenarioShape(value)) throw new ScenarioError(formatErrors(scenarioShape.errors));
  const s = structuredClone(value) as Scenario;
  const problems = validateFaultSteps(s.faults);
  if (problems.length === 0 && s.nodes !== undefined)
    problems.push(...checkTargets(s.faults, nodeIds(s.nodes)));
  problems.push(...semanticChecks(s as never));
  if (problems.length > 0) throw new ScenarioError(problems);
  return s;
}

/** scenarioToConfig turns a parsed scenario into a SimConfig for one seed; `overrides` win. */
export function scenarioToConfig(
  scenario: Scenario,
  engine: EngineDefinition<any>,
  seed: number,
  overrides: Partial<SimConfig> = {},
): SimConfig {
  const config: SimConfig = { engine, seed, faults: scenario.faults.map((f) => ({ ...f })) };
  if (scenario.nodes !== undefined) config.nodes = scenario.nodes;
  if (scenario.options !== undefined) config.options = { ...scenario.options };
  if (scenario.workload !== undefined) config.workload = { ...scenario.workload };
  if (scenario.network !== undefined) config.network = { ...scenario.network };
  if (scenario.recoveryMs !== undefined) config.recoveryMs = scenario.recoveryMs;
  if (scenario.persistLatencyMs !== undefined) config.persistLatencyMs = scenario.persistLatencyMs;
  return { ...config, ...overrides };
}

/** validateReplayShape checks a replay file's shape; returns the problems found. */
export function validateReplayShape(file: unknown): string[] {
  if (!replayShape(file)) return formatErrors(replayShape.errors);
  const f = file as { faults: unknown[]; nodes: number; workload: object; network: object };
  const problems = validateFaultSteps(f.faults);
  if (problems.length === 0) problems.push(...checkTargets(f.faults as FaultStep[], nodeIds(f.nodes)));
  problems.push(...semanticChecks(f as never));
  return problems;
}
