import {
  type ClientReply,
  declaredGuarantees,
  type EngineDefinition,
  type Guarantee,
  type KvStore,
  LIMITS,
  type OptionValue,
} from "@consistency-lab/kv";
import { checkClones } from "./clone-check.js";
import {
  describeViolations,
  type RunCheck,
  type RunSpec,
  replayCommand,
  runSeed,
  seedList,
  supportsOf,
} from "./harness.js";
import { SimClient } from "./sim-client.js";

/** The test-runner functions the suite needs (vitest's, or any compatible runner's). */
export interface TestApi {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => void | Promise<void>, timeout?: number) => void;
  expect: (value: unknown, message?: string) => any;
}

export interface ConformanceOptions {
  engine: EngineDefinition<any>;
  options?: Record<string, OptionValue>;
  nodes?: number;
  /** Seeds for the guarantee runs: a count (1..N) or a list. Default: 24, or 500 under CLAB_SOAK. */
  seeds?: number | number[];
  faults?: RunSpec["faults"];
  workload?: RunSpec["workload"];
  /** Extra name for the describe block (e.g. the option set). */
  label?: string;
}

/** defaultSeeds is the fixed CI sample, or the soak count when CLAB_SOAK is set (ARCHITECTURE §6 budgets). */
export function defaultSeeds(ciSample = 24, soak = 500): number {
  return process.env.CLAB_SOAK ? soak : ciSample;
}

const SLOW = 600_000;

/**
 * conformanceSuite registers the ONE shared suite for an engine: KV semantics through a simulated cluster, durability
 * across crash-restart, and every guarantee the engine's `Supports` declares, checked by the checker on histories
 * recorded under randomized simulated faults. Guarantees the engine does not declare get no test (they are not
 * promises); `clab sim` reports how often they break.
 */
export function conformanceSuite(t: TestApi, o: ConformanceOptions): void {
  const { describe, it, expect } = t;
  const nodes = o.nodes ?? o.engine.defaultNodes ?? 3;
  const title = `${o.engine.name}${o.label ? ` (${o.label})` : ""} conformance`;

  describe(title, () => {
    describe("kv semantics", () => {
      const client = () => {
        const c = new SimClient(o.engine, o.options, nodes, 1);
        c.settle();
        return c;
      };
      const ok = (r: ClientReply | undefined): ClientReply => {
        expect(r, "no reply before the deadline").toBeDefined();
        expect(r!.error, `unexpected error ${JSON.stringify(r!.error)}`).toBeUndefined();
        return r!;
      };
      const code = (r: ClientReply | undefined) => r?.error?.code;
      const read = (c: SimClient, key: string) => {
        const r = ok(c.call({ op: "get", key }));
        return r.values && r.values.length > 1 ? r.values : (r.value ?? null);
      };

      it(
        "get of an absent key is null",
        () => {
          expect(read(client(), "absent")).toBeNull();
        },
        SLOW,
      );

      it(
        "put then get returns the value; a second put overwrites it",
        () => {
          const c = client();
          ok(c.call({ op: "put", key: "k", value: "v1" }));
          expect(read(c, "k")).toBe("v1");
          ok(c.call({ op: "put", key: "k", value: "v2" }));
          expect(read(c, "k")).toBe("v2");
        },
        SLOW,
      );

      it(
        "delete removes a key, and deleting an absent key is ok",
        () => {
          const c = client();
          ok(c.call({ op: "put", key: "k", value: "v" }));
          ok(c.call({ op: "delete", key: "k" }));
          expect(read(c, "k")).toBeNull();
          ok(c.call({ op: "delete", key: "never-written" }));
        },
        SLOW,
      );

      it(
        "cas swaps only when the expected value matches; null expects absence",
        () => {
          const c = client();
          expect(ok(c.call({ op: "cas", key: "c", expected: null, value: "a" })).swapped).toBe(true);
          expect(ok(c.call({ op: "cas", key: "c", expected: null, value: "b" })).swapped).toBe(false);
          expect(ok(c.call({ op: "cas", key: "c", expected: "x", value: "b" })).swapped).toBe(false);
          expect(read(c, "c")).toBe("a");
          expect(ok(c.call({ op: "cas", key: "c", expected: "a", value: "b" })).swapped).toBe(true);
          expect(read(c, "c")).toBe("b");
        },
        SLOW,
      );

      it(
        "refuses invalid keys and values with their codes, and keeps serving",
        () => {
          const c = client();
          expect(code(c.call({ op: "get", key: "" }))).toBe("KV_INVALID_KEY");
          expect(code(c.call({ op: "get", key: 42 as unknown as string }))).toBe("KV_INVALID_KEY");
          expect(code(c.call({ op: "get", key: "k".repeat(LIMITS.maxKeyBytes + 1) }))).toBe("KV_TOO_LARGE");
          expect(code(c.call({ op: "put", key: "k", value: undefined as unknown as string }))).toBe(
            "KV_INVALID_VALUE",
          );
          expect(code(c.call({ op: "put", key: "k", value: { x: 1 } as unknown as string }))).toBe(
            "KV_INVALID_VALUE",
          );
          expect(code(c.call({ op: "put", key: "k", value: "v".repeat(LIMITS.maxValueBytes + 1) }))).toBe(
            "KV_TOO_LARGE",
          );
          expect(code(c.call({ op: "cas", key: "k", expected: 1 as unknown as string, value: "v" }))).toBe(
            "KV_INVALID_VALUE",
          );
          expect(code(c.call({ op: "scan" as "get", key: "k" }))).toBe("KV_UNKNOWN_OP");
          ok(c.call({ op: "put", key: "k", value: "still-serving" }));
          expect(read(c, "k")).toBe("still-serving");
        },
        SLOW,
      );

      it(
        "stores large values up to the limit intact",
        () => {
          const c = client();
          const big = "x".repeat(LIMITS.maxValueBytes);
          const mid = Array.from({ length: 64 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(
            "",
          );
          ok(c.call({ op: "put", key: "big", value: big }));
          ok(c.call({ op: "put", key: "mid", value: mid }));
          expect(read(c, "big")).toBe(big);
          expect(read(c, "mid")).toBe(mid);
        },
        SLOW,
      );

      it(
        "keeps many keys apart, including unicode keys",
        () => {
          const c = client();
          const keys = Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? `ключ-${i}-😀` : `key-${i}`));
          for (const k of keys) ok(c.call({ op: "put", key: k, value: `value-of-${k}` }));
          for (const k of keys) expect(read(c, k)).toBe(`value-of-${k}`);
        },
        SLOW,
      );
    });

    describe("durability", () => {
      it(
        "acknowledged writes survive a crash and restart of every node",
        () => {
          const c = new SimClient(o.engine, o.options, nodes, 2);
          c.settle();
          const acked: [string, string][] = [];
          for (let i = 0; i < 20; i++) {
            const r = c.call({ op: "put", key: `d${i % 7}`, value: `v${i}` });
            if (r && !r.error) acked.push([`d${i % 7}`, `v${i}`]);
          }
          expect(acked.length).toBeGreaterThan(0);
          const last = new Map(acked);
          for (const n of c.cluster.nodes) c.cluster.crash(n);
          for (const n of c.cluster.nodes) c.cluster.restart(n);
          c.settle(5_000);
          for (const [k, v] of last) {
            const r = c.call({ op: "get", key: k });
            expect(r?.error).toBeUndefined();
            const seen = r!.values && r!.values.length > 0 ? r!.values : [r!.value];
            expect(seen, `key ${k} after restart`).toContain(v);
          }
        },
        SLOW,
      );
    });

    describe("cloneable state (the explorer branches from it)", () => {
      for (const seed of [1, 2, 3]) {
        it(`a cloned cluster and its original produce identical Readys and fingerprints (seed ${seed})`, () => {
          const opts: Parameters<typeof checkClones>[1] = { seed, nodes };
          if (o.options !== undefined) opts.options = o.options;
          const r = checkClones(o.engine, opts);
          expect(r.detail, `diverged at input ${r.divergedAt}`).toBeUndefined();
          expect(r.readys, "the script produced no Readys to compare").toBeGreaterThan(10);
        });
      }
    });

    const supports = supportsOf(o.engine, o.options);
    const declared = declaredGuarantees(supports);
    const spec: RunSpec = { engine: o.engine, faults: o.faults ?? "all" };
    if (o.options !== undefined) spec.options = o.options;
    if (o.nodes !== undefined) spec.nodes = o.nodes;
    if (o.workload !== undefined) spec.workload = o.workload;
    const seeds = seedList(o.seeds ?? defaultSeeds());

    describe(`declared guarantees under faults (${seeds.length} seeds)`, () => {
      let runs: RunCheck[] | undefined;
      const allRuns = () => {
        runs ??= seeds.map((s) => runSeed(spec, s));
        return runs;
      };
      for (const g of declared) {
        it(
          `${g} holds on every seed`,
          () => {
            const bad = allRuns().filter((r) => r.violations.some((v) => v.guarantee === g));
            const undecided = allRuns().filter((r) => r.unknown.some((v) => v.guarantee === g));
            const msg = bad
              .map(
                (r) => `seed ${r.seed}: ${describeViolations(r)}\n  replay: ${replayCommand(spec, r.seed)}`,
              )
              .join("\n");
            expect(bad.length, `${g} violated:\n${msg}`).toBe(0);
            // An undecided check is not a pass: the checker's limits must cover the sample.
            expect(
              undecided.map((r) => r.seed),
              `${g} undecided (checker limit) on these seeds`,
            ).toEqual([]);
          },
          SLOW,
        );
      }
      it(
        "every run makes progress (some operations complete ok)",
        () => {
          const stuck = allRuns().filter((r) => r.result.stats.ok === 0);
          expect(
            stuck.map((r) => r.seed),
            "seeds where no operation succeeded",
          ).toEqual([]);
        },
        SLOW,
      );
    });
  });
}

/** guaranteesOf lists the guarantees an engine declares for options (for docs and reports). */
export function guaranteesOf(
  engine: EngineDefinition<any>,
  options?: Record<string, OptionValue>,
): Guarantee[] {
  return declaredGuarantees(supportsOf(engine, options));
}

/**
 * kvStoreSuite registers KV-interface semantics for any KvStore implementation (MemoryStore, the WebSocket client
 * against a cluster, …): every op, illegal keys and values, a closed store, large values, many keys.
 * abstract-level's pattern: the suite is published once and called with a factory.
 */
export function kvStoreSuite(t: TestApi, name: string, factory: () => Promise<KvStore> | KvStore): void {
  const { describe, it, expect } = t;
  describe(`${name} KvStore semantics`, () => {
    const withStore = async (fn: (s: KvStore) => Promise<void>) => {
      const s = await factory();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    };
    it("get, put, delete and cas behave as the reference", () =>
      withStore(async (s) => {
        expect((await s.get("a")).value).toBeNull();
        await s.put("a", "1");
        expect((await s.get("a")).value).toBe("1");
        expect((await s.cas("a", "0", "2")).swapped).toBe(false);
        expect((await s.cas("a", "1", "2")).swapped).toBe(true);
        expect((await s.cas("b", null, "x")).swapped).toBe(true);
        expect((await s.cas("b", null, "y")).swapped).toBe(false);
        await s.delete("a");
        await s.delete("a");
        expect((await s.get("a")).value).toBeNull();
      }));
    it("rejects bad keys and values with stable codes", () =>
      withStore(async (s) => {
        await expect(s.get("")).rejects.toMatchObject({ code: "KV_INVALID_KEY" });
        await expect(s.put("k".repeat(LIMITS.maxKeyBytes + 1), "v")).rejects.toMatchObject({
          code: "KV_TOO_LARGE",
        });
        await expect(s.put("k", null as unknown as string)).rejects.toMatchObject({
          code: "KV_INVALID_VALUE",
        });
        await expect(s.put("k", "v".repeat(LIMITS.maxValueBytes + 1))).rejects.toMatchObject({
          code: "KV_TOO_LARGE",
        });
        await s.put("k", "ok");
        expect((await s.get("k")).value).toBe("ok");
      }));
    it("stores a value of exactly the size limit", () =>
      withStore(async (s) => {
        const big = "z".repeat(LIMITS.maxValueBytes);
        await s.put("big", big);
        expect((await s.get("big")).value).toBe(big);
      }));
    it("keeps many keys apart", () =>
      withStore(async (s) => {
        for (let i = 0; i < 200; i++) await s.put(`k${i}`, `v${i}`);
        for (let i = 0; i < 200; i++) expect((await s.get(`k${i}`)).value).toBe(`v${i}`);
      }));
    it("refuses every op once closed with KV_CLOSED", async () => {
      const s = await factory();
      await s.close();
      await expect(s.get("k")).rejects.toMatchObject({ code: "KV_CLOSED" });
      await expect(s.put("k", "v")).rejects.toMatchObject({ code: "KV_CLOSED" });
    });
  });
}

/**
 * scenarioHolds asserts that a scenario keeps every declared guarantee on each workload seed and makes progress
 * (some op succeeds): the check every engine's scenario files get for the correct engine.
 */
export function scenarioHolds(
  t: Pick<TestApi, "expect">,
  spec: RunSpec,
  seeds: readonly number[],
  label = "",
): void {
  for (const seed of seeds) {
    const run = runSeed(spec, seed);
    t.expect(
      run.violations.map((v) => v.guarantee),
      `${label}seed ${seed}`,
    ).toEqual([]);
    t.expect(run.result.stats.ok, `${label}seed ${seed}: no progress`).toBeGreaterThan(0);
  }
}

/**
 * caughtUpAfterHeal asserts what every engine's large-value catch-up scenario checks: on each seed no declared
 * guarantee broke, no message went over the transport's frame limit (the simulator drops those, as the transport
 * does), and every node ends with n1's state — holding `keys` keys, when given.
 */
export function caughtUpAfterHeal(
  t: Pick<TestApi, "expect">,
  spec: RunSpec,
  seeds: readonly number[],
  keys?: number,
): void {
  for (const seed of seeds) {
    const run = runSeed(spec, seed);
    t.expect(
      run.violations.map((v) => v.guarantee),
      `seed ${seed}`,
    ).toEqual([]);
    t.expect(run.result.stats.oversized, `seed ${seed}`).toBe(0);
    const state = run.result.finalState;
    for (const [node, held] of Object.entries(state)) {
      if (keys !== undefined) t.expect(Object.keys(held ?? {}).length, `seed ${seed}: ${node}`).toBe(keys);
      t.expect(held, `seed ${seed}: ${node}`).toEqual(state.n1);
    }
  }
}
