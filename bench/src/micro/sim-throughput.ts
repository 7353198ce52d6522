/**
 * Micro-benchmark of the simulator's event loop: 5 nodes running the forwarding test engine (every message
 * received is passed to the next node of the ring, 20 tokens started per node), measured in delivered messages
 * per second of wall-clock time on one core. Target: ≥ 200,000 msg/s in the default (non-strict) mode.
 *
 * Run: `pnpm turbo run build --filter=@consistency-lab/bench... && node bench/dist/micro/sim-throughput.js`
 */
import { forwardEngine, SimCluster } from "@consistency-lab/sim";
import { Bench } from "tinybench";

const NODES = 5;
const TOKENS_PER_NODE = 20;
const VIRTUAL_MS = 1000;
const TARGET = 200_000;

/** runOnce simulates VIRTUAL_MS of ring traffic and returns the messages delivered. */
function runOnce(strict: boolean): number {
  const c = new SimCluster({
    engine: forwardEngine,
    nodes: NODES,
    seed: 1,
    strict,
    options: { seeds: TOKENS_PER_NODE },
  });
  c.runFor(VIRTUAL_MS);
  return c.stats.delivered;
}

const perRun = { fast: runOnce(false), strict: runOnce(true) };
const bench = new Bench({ name: "sim throughput", time: 2000 });
bench.add(`sim: ${NODES} nodes, forward ring, ${perRun.fast} msgs/run`, () => {
  runOnce(false);
});
bench.add(`sim strict (structuredClone): ${perRun.strict} msgs/run`, () => {
  runOnce(true);
});
await bench.run();
console.log(bench.name);
console.table(bench.table());

const rates = bench.tasks.map((t, i) => {
  const r = t.result as { period?: number };
  const msgs = i === 0 ? perRun.fast : perRun.strict;
  return r.period ? (msgs / r.period) * 1000 : 0;
});
const fast = Math.round(rates[0] ?? 0);
console.log(
  `sim throughput: ${fast.toLocaleString("en-US")} delivered msg/s (target ≥ ${TARGET.toLocaleString("en-US")})`,
);
console.log(`sim throughput (strict): ${Math.round(rates[1] ?? 0).toLocaleString("en-US")} delivered msg/s`);
if (fast < TARGET) console.log("below target");
