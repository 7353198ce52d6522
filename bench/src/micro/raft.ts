/**
 * Micro-benchmark of the Raft core in the simulator: committed (acknowledged) puts per second of wall-clock time,
 * 3 and 5 nodes, zero network and client delay, batching on and off. A closed loop of CLIENTS concurrent clients
 * sends OPS puts to the leader; every put must be acknowledged (ok) for the run to count.
 *
 * Run: `pnpm turbo run build --filter=@consistency-lab/bench... --filter=@consistency-lab/raft && node bench/dist/micro/raft.js`
 *
 * The raft package is loaded from its built dist by path because bench/package.json does not list
 * @consistency-lab/raft yet (the raft helper may not edit it); switch to a static import once it does.
 */
import type { ClientReply, EngineDefinition } from "@consistency-lab/kv";
import { SimCluster } from "@consistency-lab/sim";
import { Bench } from "tinybench";

const raftUrl = new URL("../../../packages/raft/dist/index.js", import.meta.url).href;
const { raftEngine } = (await import(raftUrl)) as { raftEngine: EngineDefinition<unknown> };

const OPS = Number(process.env.RAFT_BENCH_OPS ?? 5000);
const CLIENTS = Number(process.env.RAFT_BENCH_CLIENTS ?? 64);

/** runOnce commits OPS puts through a fresh cluster and returns the virtual ms the workload took. */
function runOnce(nodes: number, batch: boolean): number {
  const c = new SimCluster({
    engine: raftEngine,
    nodes,
    seed: 1,
    options: { batch, snapshotEvery: 0 },
    network: { delay: { kind: "constant", ms: 0 }, clientDelayMs: 0 },
  });
  if (!c.runUntil(() => c.leader() !== undefined, 5000)) throw new Error("no leader");
  const leader = c.leader()!;
  const start = c.now;
  let sent = 0;
  let acked = 0;
  const next = (client: number) => {
    if (sent >= OPS) return;
    const i = sent++;
    c.submit(leader, { op: "put", key: `k${i % 100}`, value: `v${i}`, session: { clientId: `c${client}`, seq: i } }, (r: ClientReply) => {
      if (!r.ok) throw new Error(`put failed: ${JSON.stringify(r.error)}`);
      acked++;
      next(client);
    });
  };
  for (let k = 0; k < CLIENTS; k++) next(k);
  if (!c.runUntil(() => acked === OPS, 600_000)) throw new Error(`only ${acked}/${OPS} puts acknowledged`);
  return c.now - start;
}

const cases = [
  { nodes: 3, batch: true },
  { nodes: 3, batch: false },
  { nodes: 5, batch: true },
  { nodes: 5, batch: false },
];
const bench = new Bench({ name: "raft core in simulation", time: 3000, iterations: 3 });
for (const k of cases) {
  bench.add(`raft ${k.nodes} nodes, batching ${k.batch ? "on" : "off"}: ${OPS} puts, ${CLIENTS} clients`, () => {
    runOnce(k.nodes, k.batch);
  });
}
await bench.run();
console.log(bench.name);
console.table(bench.table());
bench.tasks.forEach((t, i) => {
  const r = t.result as { period?: number };
  const k = cases[i]!;
  const opsPerSec = r.period ? Math.round((OPS / r.period) * 1000) : 0;
  console.log(`raft ${k.nodes} nodes batching ${k.batch ? "on " : "off"}: ${opsPerSec.toLocaleString("en-US")} committed ops/s (wall clock)`);
});
