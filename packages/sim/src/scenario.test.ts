import { readFileSync, writeFileSync } from "node:fs";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { runSimulation } from "./run-simulation.js";
import { parseScenario, ScenarioError, scenarioSchema, scenarioToConfig } from "./scenario.js";
import { echoEngine } from "./testing.js";

/** The example of ARCHITECTURE §5, verbatim. */
const example = {
  nodes: 5,
  options: {},
  workload: { clients: 5, ops: 500, keys: 3, mix: { read: 0.5, write: 0.3, cas: 0.2 } },
  faults: [
    {
      at: 1000,
      partition: [
        ["n1", "n2"],
        ["n3", "n4", "n5"],
      ],
    },
    { at: 4000, heal: true },
    { at: 5000, crash: "n3" },
    { at: 6000, restart: "n3" },
    { at: 7000, delay: { from: "n1", to: "*", ms: 50 } },
  ],
};

function problemOf(input: unknown): string {
  try {
    parseScenario(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

describe("parseScenario", () => {
  it("accepts the ARCHITECTURE §5 example, as an object or as JSON text", () => {
    expect(parseScenario(example)).toEqual(example);
    expect(parseScenario(JSON.stringify(example))).toEqual(example);
  });

  it("accepts every fault kind and node targets * and leader", () => {
    const s = parseScenario({
      faults: [
        { at: 0, "partition-oneway": { from: ["n1"], to: ["n2", "n3"] } },
        { at: 1, pause: { node: "leader", ms: 100 } },
        { at: 2, skew: { node: "n2", ms: -300 } },
        { at: 3, loss: { from: "*", to: "n1", rate: 0.5 } },
        { at: 4, dup: { rate: 0.1 } },
        { at: 5, reorder: { rate: 0.2 } },
        { at: 6, delay: { from: "n1", to: "n2", ms: 5, jitter: 3 } },
        { at: 7, crash: "leader" },
        { at: 8, restart: "*" },
      ],
      network: { delay: { kind: "exponential", meanMs: 3, minMs: 1 }, loss: 0.01 },
      workload: { requestOptions: { read: "lease" }, switchNodeRate: 0.1 },
    });
    expect(s.faults).toHaveLength(9);
  });

  it("rejects unknown fields naming the field and its path", () => {
    expect(problemOf({ ...example, extra: 1 })).toContain('/: unknown field "extra"');
    expect(problemOf({ ...example, workload: { clientz: 2 } })).toContain(
      '/workload: unknown field "clientz"',
    );
    expect(problemOf({ ...example, faults: [{ at: 1, pause: { node: "n1", ms: 5, why: "x" } }] })).toContain(
      '/faults/0/pause: unknown field "why"',
    );
    expect(problemOf({ ...example, faults: [{ at: 1, explode: "n1" }] })).toMatch(
      /\/faults\/0: no fault kind.*"explode"/,
    );
    expect(
      problemOf({ ...example, network: { delay: { kind: "uniform", minMs: 1, maxMs: 2, avg: 1 } } }),
    ).toContain('/network/delay: unknown field "avg"');
  });

  it("rejects bad types and values naming the path", () => {
    expect(problemOf({ ...example, nodes: "5" })).toContain("/nodes: must be integer");
    expect(problemOf({ ...example, faults: [{ at: -5, crash: "n1" }] })).toContain(
      "/faults/0/at: must be >= 0",
    );
    expect(
      problemOf({ ...example, faults: [{ at: 1, loss: { from: "n1", to: "n2", rate: 1.5 } }] }),
    ).toContain("/faults/0/loss/rate: must be <= 1");
    expect(problemOf({ ...example, network: { dup: -0.1 } })).toContain("/network/dup: must be >= 0");
    expect(problemOf({ ...example, faults: [{ at: 1, heal: false }] })).toContain("/faults/0/heal");
    expect(problemOf({ ...example, faults: [{ at: 1, crash: "n1", restart: "n1" }] })).toContain(
      "several fault kinds",
    );
    expect(problemOf({ nodes: 3 })).toContain("must have required property 'faults'");
    expect(problemOf("{not json")).toContain("not valid JSON");
  });

  it("rejects node ids that do not exist when nodes is given", () => {
    expect(problemOf({ nodes: 3, faults: [{ at: 1, crash: "n4" }] })).toContain(
      '/faults/0: unknown node "n4"',
    );
    expect(problemOf({ nodes: 3, faults: [{ at: 1, partition: [["n1"], ["n7"]] }] })).toContain(
      'unknown node "n7"',
    );
  });

  it("applies semantic checks beyond the schema", () => {
    expect(problemOf({ faults: [], network: { delay: { kind: "uniform", minMs: 5, maxMs: 1 } } })).toContain(
      "minMs",
    );
    expect(problemOf({ faults: [], workload: { mix: { read: 0 } } })).toContain("/workload/mix");
  });

  it("turns a scenario into a simulation config that runs its schedule", () => {
    const c = scenarioToConfig(parseScenario(example), echoEngine, 7);
    expect(c).toMatchObject({ seed: 7, nodes: 5, workload: example.workload, faults: example.faults });
    const r = runSimulation({ ...c, workload: { ...c.workload, ops: 100 } });
    expect(r.faults).toEqual(example.faults);
    expect(r.stats.faultsApplied).toBe(5);
    expect(r.stats.crashes).toBe(1);
    expect(r.virtualMs).toBeGreaterThan(7000);
  });
});

describe("scenarioSchema", () => {
  const file = new URL("../schema/scenario.schema.json", import.meta.url);

  it("is published as schema/scenario.schema.json (CLAB_WRITE_SCHEMA=1 regenerates it)", () => {
    const text = `${JSON.stringify(scenarioSchema, null, 2)}\n`;
    if (process.env.CLAB_WRITE_SCHEMA) writeFileSync(file, text);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(JSON.parse(text));
  });

  it("validates the example and rejects unknown fields with a plain JSON Schema validator", () => {
    const v = new Ajv({ strict: false }).compile(scenarioSchema);
    expect(v(example)).toBe(true);
    expect(v({ ...example, faults: [{ at: 1, crash: "n1", bogus: 1 }] })).toBe(false);
    expect(v({ ...example, bogus: 1 })).toBe(false);
  });
});
