/**
 * Micro-benchmark of every engine core's step throughput: each engine, with its default options, runs as a 3-node
 * SimCluster and a closed loop of CLIENTS clients drives a write-heavy workload (90 % put, 10 % get over 100 keys)
 * until OPS operations are answered. Reported per engine, per second of wall-clock time on one core:
 *   - client ops/s: answered operations (the cost of the whole protocol path per op: request, replication,
 *     persistence, reply — and the simulator around it);
 *   - messages/s: peer messages delivered between cores.
 * A run ends when the last op is answered AND every replica holds every write (the nodes' dumps agree), so
 * engines that answer before replicating (causal, multi-leader) pay for their replication too. Messages per op and
 * the virtual time a run took are printed beside the rates: the first says what each model costs on the wire, the
 * second how many ops per virtual second it sustains with 1 ms links.
 *
 * Leader-based engines (raft, single-leader) get every request at the leader and follow KV_NOT_LEADER hints; the
 * leaderless ones (quorum, causal, multi-leader) spread clients over the nodes. Only the workload phase is timed:
 * the cluster is built and settled (leader elected) in the task's beforeEach hook.
 *
 * Run: `pnpm turbo run build --filter=@consistency-lab/bench... && node bench/dist/micro/engines.js`
 * ENGINE_BENCH_OPS, ENGINE_BENCH_CLIENTS and ENGINE_BENCH_ENGINES (comma-separated names) change the defaults.
 * With CLAB_MICRO_JSON=FILE set, the rows are also written to FILE as JSON (what run-all.js reads).
 */
import { writeFileSync } from "node:fs";
import { causalEngine } from "@consistency-lab/causal";
import {
  type ClientReply,
  type ClientRequest,
  type EngineDefinition,
  type RequestOptions,
  resolveOptions,
} from "@consistency-lab/kv";
import { multiLeaderEngine } from "@consistency-lab/multi-leader";
import { quorumEngine } from "@consistency-lab/quorum";
import { raftEngine } from "@consistency-lab/raft";
import { SimCluster } from "@consistency-lab/sim";
import { singleLeaderEngine } from "@consistency-lab/single-leader";
import { Bench } from "tinybench";
import type { MicroRow } from "./micro-row.js";

const OPS = Number(process.env.ENGINE_BENCH_OPS ?? 4000);
const CLIENTS = Number(process.env.ENGINE_BENCH_CLIENTS ?? 32);
const NODES = 3;
const KEYS = 100;
const WRITE_SHARE = 0.9;

const ALL: EngineDefinition<any>[] = [
  raftEngine,
  quorumEngine,
  causalEngine,
  singleLeaderEngine,
  multiLeaderEngine,
];
const wanted = process.env.ENGINE_BENCH_ENGINES?.split(",").map((s) => s.trim());
const ENGINES = wanted ? ALL.filter((e) => wanted.includes(e.name)) : ALL;

/** RunCounts is what one workload run did, in simulation (the same on every run: the seed is fixed). */
interface RunCounts {
  answered: number;
  ok: number;
  failed: number;
  redirects: number;
  messages: number;
  virtualMs: number;
}

/** settledCluster builds a 3-node cluster and runs it until a leader-based engine has a leader. */
function settledCluster(engine: EngineDefinition<any>): SimCluster {
  const c = new SimCluster({
    engine,
    nodes: NODES,
    seed: 1,
    network: { delay: { kind: "constant", ms: 1 }, clientDelayMs: 0 },
    defaultDeadlineMs: 5000,
  });
  // Leaderless engines never report a leader; a second of virtual time lets their failure detectors settle too.
  c.runUntil(() => c.leader() !== undefined, 3000);
  c.runFor(200);
  return c;
}

/** runWorkload drives OPS operations through the cluster with CLIENTS closed-loop clients. */
function runWorkload(engine: EngineDefinition<any>, c: SimCluster): RunCounts {
  const requestOptions: RequestOptions | undefined = engine.requestOptions?.(
    resolveOptions(engine.options, {}),
  );
  const leaderless = c.leader() === undefined;
  const counts: RunCounts = { answered: 0, ok: 0, failed: 0, redirects: 0, messages: 0, virtualMs: 0 };
  const startMsgs = c.stats.delivered;
  const start = c.now;
  let issued = 0;
  const seqs = new Array<number>(CLIENTS).fill(0);
  const issue = (client: number) => {
    if (issued >= OPS) return;
    const i = issued++;
    const isWrite = (i * 2654435761) % 1000 < WRITE_SHARE * 1000;
    const req = {
      op: isWrite ? ("put" as const) : ("get" as const),
      key: `k${(i * 7919) % KEYS}`,
      ...(isWrite ? { value: `v${i}` } : {}),
      // A retry after a redirect keeps its seq, as a client with sessions does (Raft thesis §6.3).
      session: { clientId: `c${client}`, seq: ++seqs[client]! },
      ...(requestOptions ? { options: requestOptions } : {}),
    };
    send(client, req, leaderless ? c.nodes[client % NODES]! : (c.leader() ?? c.nodes[0]!));
  };
  const send = (client: number, req: Omit<ClientRequest, "id">, node: string) => {
    c.submit(node, req, (r: ClientReply) => {
      const hint = r.error?.code === "KV_NOT_LEADER" ? r.error.leader : undefined;
      if (hint && counts.redirects < OPS) {
        // A redirect is not an answer: the same op goes to the leader it names.
        counts.redirects++;
        send(client, req, hint);
        return;
      }
      counts.answered++;
      if (r.ok) counts.ok++;
      else counts.failed++;
      issue(client);
    });
  };
  for (let k = 0; k < CLIENTS; k++) issue(k);
  if (!c.runUntil(() => counts.answered >= OPS, 600_000)) {
    throw new Error(`${engine.name}: only ${counts.answered}/${OPS} ops answered in 600 s of virtual time`);
  }
  // Engines that answer locally (causal, multi-leader) replicate afterwards; the work is not done until every
  // replica holds every write, so the run continues, in 10 ms steps, until the replicas' contents agree.
  const deadline = c.now + 30_000;
  while (!replicasAgree(c)) {
    if (c.now >= deadline) throw new Error(`${engine.name}: replicas still differ 30 s after the last reply`);
    c.runFor(10);
  }
  counts.messages = c.stats.delivered - startMsgs;
  counts.virtualMs = c.now - start;
  return counts;
}

/** replicasAgree says whether every node's dump() holds the same keys and values (siblings in any order). */
function replicasAgree(c: SimCluster): boolean {
  let first: string | undefined;
  for (const n of c.nodes) {
    const dump = c.core(n)?.dump?.();
    if (dump === undefined) return true;
    const text = JSON.stringify(
      [...dump]
        .filter(([, values]) => values.length > 0)
        .map(([k, values]) => [k, [...values].sort()])
        .sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    if (first === undefined) first = text;
    else if (text !== first) return false;
  }
  return true;
}

const bench = new Bench({
  name: "engine cores in simulation",
  time: 1000,
  iterations: 3,
  warmupIterations: 1,
});
const counts = new Map<string, RunCounts>();
for (const engine of ENGINES) {
  let cluster: SimCluster | undefined;
  bench.add(
    engine.name,
    () => {
      const r = runWorkload(engine, cluster!);
      const seen = counts.get(engine.name);
      // The seed is fixed, so every run must do exactly the same work; a difference would make the rate meaningless.
      if (seen && (seen.messages !== r.messages || seen.ok !== r.ok)) {
        throw new Error(`${engine.name}: runs differ (${JSON.stringify(seen)} vs ${JSON.stringify(r)})`);
      }
      counts.set(engine.name, r);
    },
    {
      beforeEach: () => {
        cluster = settledCluster(engine);
      },
    },
  );
}
await bench.run();

const rows: MicroRow[] = [];
console.log(
  `${bench.name}: ${NODES} nodes, ${CLIENTS} clients, ${OPS} ops (${WRITE_SHARE * 100} % put), 1 ms links, default options`,
);
console.log(
  "| engine | client ops/s | messages/s | msgs/op | ok | failed | virtual ms | ops per virtual s |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const t of bench.tasks) {
  const r = t.result as { state: string; period?: number; error?: unknown };
  const k = counts.get(t.name);
  if (r.state !== "completed" || !r.period || !k) {
    console.log(
      `| ${t.name} | failed: ${String((r.error as Error | undefined)?.message ?? r.state)} |||||||`,
    );
    rows.push({
      bench: "engines",
      case: `${t.name} client ops/s`,
      value: Number.NaN,
      unit: "ops/s",
      note: "failed",
    });
    continue;
  }
  const opsPerSec = (k.answered * 1000) / r.period;
  const msgsPerSec = (k.messages * 1000) / r.period;
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  console.log(
    `| ${t.name} | ${fmt(opsPerSec)} | ${fmt(msgsPerSec)} | ${(k.messages / k.answered).toFixed(1)} | ${k.ok} | ${k.failed} | ${k.virtualMs} | ${fmt((k.answered * 1000) / Math.max(1, k.virtualMs))} |`,
  );
  const note = `${(k.messages / k.answered).toFixed(1)} msgs/op, ${k.failed} failed`;
  rows.push({ bench: "engines", case: `${t.name} client ops/s`, value: opsPerSec, unit: "ops/s", note });
  rows.push({ bench: "engines", case: `${t.name} messages/s`, value: msgsPerSec, unit: "msg/s" });
}
if (process.env.CLAB_MICRO_JSON) writeFileSync(process.env.CLAB_MICRO_JSON, JSON.stringify(rows));
if (rows.some((r) => Number.isNaN(r.value))) process.exitCode = 1;
