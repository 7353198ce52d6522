import type { ClusterHandle } from "../cluster.js";
import { floorMs } from "../floors.js";
import { type BenchOp, makeClient, runLoad, uniqueValue } from "../load.js";
import type { Variant } from "../profiles.js";
import type { LatencyRun } from "../results.js";
import { summarize } from "../stats.js";
import { leaderOf, rotated, sentMessages, setDelay, sleep } from "./common.js";

export interface LatencyParams {
  delays: number[];
  jitterMs: number;
  ops: BenchOp[];
  clients: number;
  durationMs: number;
  keys: number;
  valueBytes: number;
  scenario?: LatencyRun["scenario"];
  seed: number;
}

/**
 * measureLatency runs every (delay, op) cell of one engine variant on one running cluster: the delay is changed at
 * run time through the transport's fault injection, so one cluster serves all rows.
 */
export async function measureLatency(
  cluster: ClusterHandle,
  v: Variant,
  p: LatencyParams,
  onRow: (r: LatencyRun) => void,
): Promise<LatencyRun[]> {
  const rows: LatencyRun[] = [];
  const leader = await leaderOf(cluster).catch(() => undefined);
  // Follower reads must reach a follower: such clients get only the non-leader endpoints.
  const followerOnly = v.requestOptions.readFrom === "follower" && leader !== undefined;
  const endpoints = followerOnly
    ? cluster.endpoints.filter((_, i) => cluster.ids[i] !== leader)
    : cluster.endpoints;
  // Reads of a follower-read variant go to followers only; its writes go wherever the leader is.
  const readers = Array.from({ length: p.clients }, (_, i) =>
    makeClient(cluster, rotated(endpoints, i), {
      timeoutMs: 5000,
      process: i,
      pinned: followerOnly || cluster.pinClients === true,
    }),
  );
  const writers = followerOnly
    ? Array.from({ length: p.clients }, (_, i) =>
        makeClient(cluster, rotated(cluster.endpoints, i), {
          timeoutMs: 5000,
          process: p.clients + i,
          pinned: cluster.pinClients === true,
        }),
      )
    : readers;
  const clients = followerOnly ? [...readers, ...writers] : readers;
  try {
    const seedClient = writers[0]!;
    for (let k = 0; k < p.keys; k++) {
      await seedClient.put(`k${k}`, uniqueValue(`seed-${k}`, p.valueBytes)).catch(() => undefined);
    }
    for (const delay of p.delays) {
      await setDelay(cluster, delay, p.jitterMs);
      await sleep(200 + 4 * delay);
      for (const op of p.ops) {
        const before = await sentMessages(cluster).catch(() => null);
        const r = await runLoad({
          clients: op === "get" ? readers : writers,
          op,
          durationMs: p.durationMs,
          keys: p.keys,
          valueBytes: p.valueBytes,
          requestOptions: v.requestOptions,
          tag: `${op}-${delay}`,
        });
        const after = await sentMessages(cluster).catch(() => null);
        const s = summarize(r.latencies);
        const row: LatencyRun = {
          scenario: p.scenario ?? "latency",
          engine: v.engine,
          variant: v.variant,
          options: v.options,
          requestOptions: v.requestOptions as Record<string, unknown>,
          op,
          delayMs: delay,
          jitterMs: p.jitterMs,
          nodes: cluster.ids.length,
          clients: p.clients,
          valueBytes: p.valueBytes,
          ops: r.ok,
          errors: r.errors,
          timeouts: r.timeouts,
          seconds: Math.round(r.seconds * 1000) / 1000,
          opsPerSec: Math.round(r.ok / r.seconds),
          p50Ms: s.p50,
          p95Ms: s.p95,
          p99Ms: s.p99,
          maxMs: s.max,
          meanMs: s.mean,
          floorMs: floorMs(v.engine, v.options, v.requestOptions as Record<string, unknown>, op, delay),
          messagesPerOp:
            before !== null && after !== null && r.ok > 0
              ? Math.round(((after - before) / r.ok) * 100) / 100
              : null,
          seed: p.seed,
        };
        rows.push(row);
        onRow(row);
      }
    }
    await setDelay(cluster, 0);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return rows;
}
