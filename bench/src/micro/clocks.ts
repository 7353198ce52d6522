/**
 * Micro-benchmark of the logical clocks in @consistency-lab/kv: version vector compare and merge, dotted version
 * vector update and sync, hybrid logical clock now and receive — operations per second of wall-clock time on one
 * core. Vectors are measured at 3 entries (a 3-node cluster) and 32 (a vector that has seen many coordinators,
 * e.g. sloppy-quorum fallbacks), since their cost grows with the entries they hold.
 *
 * Every task runs BATCH operations per call over a pool of prepared inputs, so the figure is not dominated by the
 * timer's resolution (a single compare takes well under a microsecond) and the JIT cannot fold a constant input.
 *
 * Run: `pnpm turbo run build --filter=@consistency-lab/bench... && node bench/dist/micro/clocks.js`
 * With CLAB_MICRO_JSON=FILE set, the rows are also written to FILE as JSON (what run-all.js reads).
 */
import { writeFileSync } from "node:fs";
import {
  type DvvSet,
  dvvEvent,
  dvvJoin,
  dvvSync,
  dvvUpdate,
  type HlcTimestamp,
  hlcNew,
  hlcNow,
  hlcReceive,
  Rng,
  type VersionVector,
  vvCompare,
  vvMerge,
} from "@consistency-lab/kv";
import { Bench } from "tinybench";
import type { MicroRow } from "./micro-row.js";

const BATCH = 256;
const POOL = 1024;
const rng = new Rng(1);

/** randomVector draws a vector over `nodes` entries whose counters are near each other, so some pairs are ordered. */
function randomVector(nodes: number): VersionVector {
  const vv: VersionVector = {};
  for (let i = 0; i < nodes; i++) vv[`n${i + 1}`] = 100 + rng.int(3);
  return vv;
}

function vectorPairs(nodes: number): [VersionVector, VersionVector][] {
  return Array.from({ length: POOL }, () => [randomVector(nodes), randomVector(nodes)]);
}

/**
 * replicaSets builds pairs of DVV sets for one key as two replicas would hold them: a shared history, then a few
 * concurrent writes on each side (so sync has siblings to keep and obsolete values to drop).
 */
function replicaSets(nodes: number): [DvvSet<string>, DvvSet<string>][] {
  return Array.from({ length: POOL / 4 }, () => {
    let base: DvvSet<string> = { entries: [] };
    for (let i = 0; i < nodes * 2; i++) base = dvvEvent(base, `n${1 + rng.int(nodes)}`, `v${i}`);
    let a = base;
    let b = base;
    for (let i = 0; i < 2; i++) {
      a = dvvUpdate(a, dvvJoin(a), `n${1 + rng.int(nodes)}`, `a${i}`);
      b = dvvEvent(b, `n${1 + rng.int(nodes)}`, `b${i}`);
    }
    return [a, b];
  });
}

function hlcStamps(): HlcTimestamp[] {
  return Array.from({ length: POOL }, () => ({ l: 1_000_000 + rng.int(50), c: rng.int(4) }));
}

/** sink keeps results observable so the work is not optimised away. */
let sink = 0;

const bench = new Bench({ name: "logical clocks", time: 500, warmupTime: 100 });
for (const nodes of [3, 32]) {
  const pairs = vectorPairs(nodes);
  let i = 0;
  bench.add(`vv compare (${nodes} entries)`, () => {
    for (let k = 0; k < BATCH; k++) {
      const [a, b] = pairs[i++ & (POOL - 1)]!;
      if (vvCompare(a, b) === "concurrent") sink++;
    }
  });
  bench.add(`vv merge (${nodes} entries)`, () => {
    for (let k = 0; k < BATCH; k++) {
      const [a, b] = pairs[i++ & (POOL - 1)]!;
      sink += vvMerge(a, b).n1 ?? 0;
    }
  });
}
for (const nodes of [3, 32]) {
  const sets = replicaSets(nodes);
  const n = sets.length;
  let i = 0;
  bench.add(`dvv update (${nodes} nodes)`, () => {
    for (let k = 0; k < BATCH; k++) {
      const [a, b] = sets[i++ % n]!;
      // A client write with the context it read from the other replica: supersedes what that context covers.
      sink += dvvUpdate(a, dvvJoin(b), "n1", "w").entries.length;
    }
  });
  bench.add(`dvv sync (${nodes} nodes)`, () => {
    for (let k = 0; k < BATCH; k++) {
      const [a, b] = sets[i++ % n]!;
      sink += dvvSync(a, b).entries.length;
    }
  });
}
{
  const clock = hlcNew();
  const remote = hlcStamps();
  let physical = 1_000_000;
  let i = 0;
  bench.add("hlc now", () => {
    for (let k = 0; k < BATCH; k++) {
      // Wall clock advancing one ms every 8 events: both the "new ms" and the "same ms, bump c" paths run.
      physical += (k & 7) === 0 ? 1 : 0;
      sink += hlcNow(clock, physical).c;
    }
  });
  bench.add("hlc receive", () => {
    for (let k = 0; k < BATCH; k++) {
      physical += (k & 7) === 0 ? 1 : 0;
      const r = remote[i++ & (POOL - 1)]!;
      sink += hlcReceive(clock, { l: r.l + (physical - 1_000_000), c: r.c }, physical).c;
    }
  });
}

await bench.run();

const rows: MicroRow[] = bench.tasks.map((t) => {
  const r = t.result as { state: string; period?: number; error?: unknown };
  if (r.state !== "completed" || !r.period) throw new Error(`${t.name}: ${r.state} ${String(r.error ?? "")}`);
  return { bench: "clocks", case: t.name, value: (BATCH * 1000) / r.period, unit: "ops/s" };
});
console.log(`${bench.name} (ops/s on one core, ${BATCH} ops per sample; higher is better)`);
console.log("| operation | ops/s | ns/op |");
console.log("|---|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.case} | ${Math.round(r.value).toLocaleString("en-US")} | ${(1e9 / r.value).toFixed(0)} |`,
  );
}
if (sink === Number.MIN_SAFE_INTEGER) console.log(sink);
if (process.env.CLAB_MICRO_JSON) writeFileSync(process.env.CLAB_MICRO_JSON, JSON.stringify(rows));
