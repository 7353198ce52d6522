import { fileURLToPath } from "node:url";
import { KvClient } from "@consistency-lab/client";
import { type Launcher, startCluster } from "../cluster.js";
import { type BenchOp, makeClient, runLoad } from "../load.js";
import { summarize } from "../stats.js";

/** RaftLatencyRow is one measured cell: an op at a concurrency and an injected one-way delay. */
export interface RaftLatencyRow {
  scenario: "raft-latency";
  engine: "raft";
  options: Record<string, string>;
  op: BenchOp;
  clients: number;
  delayMs: number;
  ops: number;
  errors: number;
  timeouts: number;
  opsPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The protocol floor: one majority round trip, 2 × the injected one-way delay (ARCHITECTURE §6). */
  floorMs: number;
}

/** RaftLatencyOptions choose the grid; defaults are the issue's: 1 and 64 clients, 0 and 20 ms one-way delay. */
export interface RaftLatencyOptions {
  clients?: number[];
  delays?: number[];
  ops?: BenchOp[];
  durationMs?: number;
  valueBytes?: number;
}

/**
 * raftLatency measures put and get on a 3-node Raft cluster of real node processes started by `clab cluster up`
 * (the launcher runs the same entry point users run). Delay is injected by the transport on every outgoing peer
 * link (`clab fault delay` does the same), so a write pays one majority round trip: ≈ 2 × delay.
 */
export async function raftLatency(launcher: Launcher, o: RaftLatencyOptions = {}): Promise<RaftLatencyRow[]> {
  const clientsGrid = o.clients ?? [1, 64];
  const delays = o.delays ?? [0, 20];
  const ops = o.ops ?? ["put", "get"];
  const durationMs = o.durationMs ?? 3000;
  const valueBytes = o.valueBytes ?? 100;
  const cluster = await startCluster(launcher, { engine: "raft", nodes: 3 });
  const rows: RaftLatencyRow[] = [];
  const admin = new KvClient({ endpoints: cluster.endpoints, token: cluster.token, timeoutMs: 5000 });
  try {
    await waitForLeader(admin);
    for (const delayMs of delays) {
      for (const ep of cluster.endpoints) {
        await admin.fault(
          ep,
          delayMs > 0 ? { type: "delay", ms: delayMs } : { type: "heal" },
          cluster.adminToken,
        );
      }
      for (const clients of clientsGrid) {
        const stores = Array.from({ length: clients }, (_, i) =>
          // A fresh session id per phase: a reused clientId restarting at seq 1 looks like an old retry to Raft's
          // session table (Raft thesis §6.3) and is never answered.
          makeClient(cluster, cluster.endpoints, {
            timeoutMs: 5000 + 10 * delayMs,
            process: i,
            clientId: `raft-latency-${process.pid}-d${delayMs}-c${clients}-${i}`,
          }),
        );
        try {
          // Warm up: connect, find the leader, and write the keys the gets will read.
          await Promise.all(
            stores.map((s, i) =>
              retry(() => s.put(`k${i}`, "warm"), `warm-up put (${clients} clients, ${delayMs} ms)`),
            ),
          );
          for (const op of ops) {
            const r = await runLoad({
              clients: stores,
              op,
              durationMs,
              keys: Math.max(clients, 16),
              valueBytes,
              tag: `d${delayMs}c${clients}${op}`,
            });
            const s = summarize(r.latencies);
            process.stderr.write(
              `raft-latency: ${op} ${clients} clients ${delayMs} ms: ${r.ok} ok, ${r.errors} errors, ${r.timeouts} timeouts\n`,
            );
            rows.push({
              scenario: "raft-latency",
              engine: "raft",
              options: {},
              op,
              clients,
              delayMs,
              ops: r.ok,
              errors: r.errors,
              timeouts: r.timeouts,
              opsPerSec: Math.round(r.ok / r.seconds),
              p50Ms: s.p50,
              p95Ms: s.p95,
              p99Ms: s.p99,
              maxMs: s.max,
              floorMs: 2 * delayMs,
            });
          }
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
      }
    }
  } finally {
    await admin.close();
    await cluster.stop();
  }
  return rows;
}

async function waitForLeader(c: KvClient, maxMs = 20_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    if ((await c.status()).some((s) => s.role === "leader")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no Raft leader within 20 s");
}

async function retry<T>(fn: () => Promise<T>, what: string, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      process.stderr.write(
        `raft-latency: ${what} failed (${(e as { code?: string }).code ?? e}), attempt ${i}/${attempts}\n`,
      );
      if (i >= attempts) throw e;
    }
  }
}

/** formatRows renders the rows as a fixed-width table. */
export function formatRows(rows: RaftLatencyRow[]): string {
  const head = [
    "op",
    "clients",
    "delay ms",
    "floor ms",
    "ops/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "ok",
    "errors",
    "timeouts",
  ];
  const body = rows.map((r) =>
    [
      r.op,
      r.clients,
      r.delayMs,
      r.floorMs,
      r.opsPerSec,
      r.p50Ms,
      r.p99Ms,
      r.maxMs,
      r.ops,
      r.errors,
      r.timeouts,
    ].map(String),
  );
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all
    .map((row) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  "))
    .join("\n");
}

// `node bench/dist/cluster/raft-latency.js [--duration-ms N] [--json]` after `pnpm build`.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const cli = fileURLToPath(new URL("../../../apps/cli/dist/main.js", import.meta.url));
  const durationMs = Number(arg("--duration-ms") ?? 3000);
  const rows = await raftLatency({ command: process.execPath, args: [cli] }, { durationMs });
  process.stdout.write(
    process.argv.includes("--json") ? `${JSON.stringify(rows, null, 2)}\n` : `${formatRows(rows)}\n`,
  );
}
