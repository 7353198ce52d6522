/**
 * Micro-benchmark of the Raft core in the simulator: committed (acknowledged) puts per second of wall-clock time,
 * 3 and 5 nodes, zero network and client delay, batching on and off. A closed loop of CLIENTS concurrent clients
 * sends OPS puts to the leader; every put must be acknowledged (ok) for the run to count. Only the workload is
 * timed: the cluster is built and its leader elected in the task's beforeEach hook. Messages per put show what
 * batching saves on the wire.
 *
 * Run: `pnpm turbo run build --filter=@consistency-lab/bench... && node bench/dist/micro/raft.js`
 * RAFT_BENCH_OPS and RAFT_BENCH_CLIENTS change the defaults.
 */
import type { ClientReply } from "@consistency-lab/kv";
import { raftEngine } from "@consistency-lab/raft";
import { SimCluster } from "@consistency-lab/sim";
import { Bench } from "tinybench";

const OPS = Number(process.env.RAFT_BENCH_OPS ?? 5000);
const CLIENTS = Number(process.env.RAFT_BENCH_CLIENTS ?? 64);

/** settledCluster builds a cluster with zero delay and waits for its leader. */
function settledCluster(nodes: number, batch: boolean): SimCluster {
  const c = new SimCluster({
    engine: raftEngine,
    nodes,
    seed: 1,
    options: { batch, snapshotEvery: 0 },
    network: { delay: { kind: "constant", ms: 0 }, clientDelayMs: 0 },
  });
  if (!c.runUntil(() => c.leader() !== undefined, 5000)) throw new Error("no leader");
  return c;
}

/** commitPuts runs the closed loop until OPS puts are acknowledged; returns the peer messages it took. */
function commitPuts(c: SimCluster): number {
  const leader = c.leader()!;
  const before = c.stats.messages;
  let sent = 0;
  let acked = 0;
  const next = (client: number) => {
    if (sent >= OPS) return;
    const i = sent++;
    const req = {
      op: "put" as const,
      key: `k${i % 100}`,
      value: `v${i}`,
      session: { clientId: `c${client}`, seq: i },
    };
    c.submit(leader, req, (r: ClientReply) => {
      if (!r.ok) throw new Error(`put failed: ${JSON.stringify(r.error)}`);
      acked++;
      next(client);
    });
  };
  for (let k = 0; k < CLIENTS; k++) next(k);
  if (!c.runUntil(() => acked === OPS, 600_000)) throw new Error(`only ${acked}/${OPS} puts acknowledged`);
  return c.stats.messages - before;
}

const cases = [
  { nodes: 3, batch: true },
  { nodes: 3, batch: false },
  { nodes: 5, batch: true },
  { nodes: 5, batch: false },
];
const messages = new Map<number, number>();
const bench = new Bench({ name: "raft core in simulation", time: 3000, iterations: 3 });
cases.forEach((k, i) => {
  let cluster: SimCluster | undefined;
  bench.add(
    `raft ${k.nodes} nodes, batching ${k.batch ? "on" : "off"}: ${OPS} puts, ${CLIENTS} clients`,
    () => {
      messages.set(i, commitPuts(cluster!));
    },
    {
      beforeEach: () => {
        cluster = settledCluster(k.nodes, k.batch);
      },
    },
  );
});
await bench.run();
console.log(bench.name);
console.table(bench.table());
bench.tasks.forEach((t, i) => {
  const r = t.result as { period?: number };
  const k = cases[i]!;
  const opsPerSec = r.period ? Math.round((OPS / r.period) * 1000) : 0;
  const perOp = ((messages.get(i) ?? 0) / OPS).toFixed(2);
  console.log(
    `raft ${k.nodes} nodes batching ${k.batch ? "on " : "off"}: ${opsPerSec.toLocaleString("en-US")} committed ops/s (wall clock), ${perOp} msgs/put`,
  );
});
