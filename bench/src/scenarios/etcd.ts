import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { freeBasePort } from "../cluster.js";
import { DelayProxy } from "../delay-proxy.js";
import { type BenchOp, uniqueValue } from "../load.js";
import type { LatencyRun } from "../results.js";
import { summarize } from "../stats.js";
import { sleep } from "./common.js";

/** etcdVersion returns the version of the `etcd` binary on PATH, or null when there is none. */
export function etcdVersion(): string | null {
  try {
    const out = execFileSync("etcd", ["--version"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return /etcd Version: (\S+)/.exec(out)?.[1] ?? out.split("\n")[0] ?? "unknown";
  } catch {
    return null;
  }
}

export interface EtcdCluster {
  clientUrls: string[];
  stop(): Promise<void>;
}

/**
 * startEtcd runs a 3-member etcd cluster on loopback. Members reach each other through a DelayProxy per member, the
 * same proxy our Raft sits behind for the delay rows. etcd fsyncs its WAL before acknowledging, as our LevelStorage
 * syncs each batch: both persist every write durably.
 */
export async function startEtcd(members: number, delayMs: number): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), "clab-etcd-"));
  const base = await freeBasePort(members * 3);
  const clientPort = (i: number) => base + i;
  const peerPort = (i: number) => base + members + i;
  const proxyPort = (i: number) => base + 2 * members + i;
  const names = Array.from({ length: members }, (_, i) => `m${i + 1}`);
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${proxyPort(i)}`).join(",");
  const proxies = names.map((_, i) => new DelayProxy(proxyPort(i), peerPort(i), delayMs));
  for (const p of proxies) await p.start();
  const children: ChildProcess[] = names.map((name, i) =>
    spawn(
      "etcd",
      [
        "--name",
        name,
        "--data-dir",
        join(dir, name),
        "--listen-client-urls",
        `http://127.0.0.1:${clientPort(i)}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${clientPort(i)}`,
        "--listen-peer-urls",
        `http://127.0.0.1:${peerPort(i)}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${proxyPort(i)}`,
        "--initial-cluster",
        initial,
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        `clab-${base}`,
        "--log-level",
        "error",
      ],
      { stdio: ["ignore", "ignore", "ignore"] },
    ),
  );
  const clientUrls = names.map((_, i) => `http://127.0.0.1:${clientPort(i)}`);
  const stop = async () => {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(
      children.map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once("exit", () => r())))),
    );
    for (const p of proxies) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when a put succeeds through the cluster.
  const probe = new Etcd3({ hosts: clientUrls });
  const end = Date.now() + 30_000;
  try {
    for (;;) {
      try {
        await probe.put("clab-probe").value("1");
        break;
      } catch (e) {
        if (Date.now() > end) throw new Error(`etcd cluster did not become ready: ${(e as Error).message}`);
        await sleep(200);
      }
    }
  } catch (e) {
    probe.close();
    await stop();
    throw e;
  }
  probe.close();
  return { clientUrls, stop };
}

/** measureEtcd runs the latency workload against etcd: closed-loop clients, linearizable gets, durable puts. */
export async function measureEtcd(
  etcd: EtcdCluster,
  o: {
    op: BenchOp;
    clients: number;
    durationMs: number;
    keys: number;
    valueBytes: number;
    delayMs: number;
    seed: number;
  },
): Promise<LatencyRun> {
  const client = new Etcd3({ hosts: etcd.clientUrls });
  for (let k = 0; k < o.keys; k++) await client.put(`k${k}`).value(uniqueValue(`seed-${k}`, o.valueBytes));
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + o.durationMs;
  await Promise.all(
    Array.from({ length: o.clients }, async (_, ci) => {
      let n = 0;
      let current = uniqueValue(`cas-${ci}-init`, o.valueBytes);
      if (o.op === "cas") await client.put(`cas-${ci}`).value(current);
      while (performance.now() < end) {
        const key = `k${(ci * 7919 + n) % o.keys}`;
        const t0 = performance.now();
        try {
          if (o.op === "get") await client.get(key).string();
          else if (o.op === "put") await client.put(key).value(uniqueValue(`e-${ci}-${n}`, o.valueBytes));
          else {
            const next = uniqueValue(`e-${ci}-${n}`, o.valueBytes);
            const r = await client
              .if(`cas-${ci}`, "Value", "==", current)
              .then(client.put(`cas-${ci}`).value(next))
              .commit();
            if (r.succeeded) current = next;
          }
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
        n++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  client.close();
  const s = summarize(latencies);
  return {
    scenario: "etcd",
    engine: "etcd",
    variant: "default",
    options: {},
    requestOptions: {},
    op: o.op,
    delayMs: o.delayMs,
    jitterMs: 0,
    nodes: etcd.clientUrls.length,
    clients: o.clients,
    valueBytes: o.valueBytes,
    ops: latencies.length,
    errors,
    timeouts: 0,
    seconds: Math.round(seconds * 1000) / 1000,
    opsPerSec: Math.round(latencies.length / seconds),
    p50Ms: s.p50,
    p95Ms: s.p95,
    p99Ms: s.p99,
    maxMs: s.max,
    meanMs: s.mean,
    floorMs: 2 * o.delayMs,
    messagesPerOp: null,
    seed: o.seed,
  };
}
