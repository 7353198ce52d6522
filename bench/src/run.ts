import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { declaredGuarantees, type EngineDefinition, formatEvent, resolveOptions } from "@consistency-lab/kv";
import cliProgress from "cli-progress";
import { type Launcher, startCluster, startProxiedCluster } from "./cluster.js";
import { writeComparison } from "./docs.js";
import { PROFILES, type Variant } from "./profiles.js";
import {
  type BenchResults,
  gitSha,
  type LatencyRun,
  machineInfo,
  type PromiseRow,
  writeResults,
} from "./results.js";
import { waitForLeader } from "./scenarios/common.js";
import { etcdVersion, measureEtcd, startEtcd } from "./scenarios/etcd.js";
import { measureLatency } from "./scenarios/latency.js";
import { availabilityThroughPartition } from "./scenarios/partition.js";
import { simSweep } from "./scenarios/sim-sweep.js";
import { claimUsernames } from "./scenarios/uniqueness.js";

export interface BenchOptions {
  profile: "quick" | "full";
  /** Every engine the CLI knows; the bench runs the profile's variants of those present. */
  engines: EngineDefinition<any>[];
  /** Restrict to these engine names. */
  only?: string[];
  delays?: number[];
  /** Where results.json goes (docs/results/latest). */
  out: string;
  /** Where comparison.md goes (docs). */
  docsDir: string;
  launcher: Launcher;
  seed?: number;
  versions: Record<string, string>;
  progress?: boolean;
}

const key = (v: Variant) => `${v.engine} ${JSON.stringify(v.options)}`;
const same = (a: Variant) => (b: Variant) => a.engine === b.engine && a.variant === b.variant;

/** runBench runs a profile against real local clusters, writes results.json and regenerates the comparison docs. */
export async function runBench(o: BenchOptions): Promise<BenchResults> {
  const profile = { ...PROFILES[o.profile] };
  if (o.delays) profile.delays = o.delays;
  const known = new Map(o.engines.map((e) => [e.name, e]));
  const notes: string[] = [];
  const wanted = (v: Variant) => (!o.only || o.only.includes(v.engine)) && known.has(v.engine);
  for (const name of new Set([...profile.latency, ...profile.partition].map((v) => v.engine))) {
    if (!known.has(name)) notes.push(`engine ${name} is not registered in this build; its rows are missing`);
  }
  const latency = profile.latency.filter(wanted);
  const partitionVariants = profile.partition.filter(wanted);
  const uniquenessVariants = profile.uniqueness.filter(wanted);
  const simVariants = profile.sim.filter(wanted);
  const seed = o.seed ?? 1;

  // One cluster per distinct (engine, cluster options): every latency variant of it (differing only in request
  // options) runs on it, then the partition and uniqueness scenarios when it is the engine's default.
  const groups = new Map<string, Variant[]>();
  for (const v of [...latency, ...partitionVariants]) {
    const g = groups.get(key(v)) ?? [];
    if (!g.some((x) => x.variant === v.variant)) g.push(v);
    groups.set(key(v), g);
  }
  const steps =
    latency.length * profile.delays.length * profile.ops.length +
    partitionVariants.length +
    uniquenessVariants.length +
    simVariants.length;
  // A progress bar on a terminal; on a pipe or in CI one plain line per finished step instead.
  const tty = process.stderr.isTTY === true && o.progress !== false;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: "bench [{bar}] {value}/{total} {task}", stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(steps, 0, { task: "starting" });
  let done = 0;
  const t0 = Date.now();
  const step = (task: string) => {
    done++;
    if (bar) bar.increment(1, { task });
    else if (o.progress !== false) {
      process.stderr.write(`bench ${done}/${steps} ${task} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
  };

  const results: BenchResults = {
    machine: machineInfo(),
    versions: o.versions,
    gitSha: gitSha(),
    startedAt: new Date().toISOString(),
    finishedAt: "",
    profile: profile.name,
    config: {
      ...profile,
      latency: latency.map(key),
      partition: partitionVariants.map(key),
      sim: simVariants.map(key),
    },
    seed,
    promises: [],
    runs: [],
    availability: [],
    anomalies: [],
    uniqueness: [],
    etcd: { available: false, version: null, note: "" },
    notes,
  };
  const promised = new Set<string>();
  const promise = (v: Variant) => {
    const id = `${v.engine}/${v.variant}`;
    if (promised.has(id)) return;
    promised.add(id);
    const e = known.get(v.engine)!;
    // A variant that differs by request options (read=lease, r=1) promises what the engine would with those as its
    // options, where the engine has an option of the same name: that is what its manifest speaks for.
    const fromRequest = Object.fromEntries(
      Object.entries(v.requestOptions).filter(([k]) => e.options.some((spec) => spec.name === k)),
    ) as Record<string, string | number | boolean>;
    const s = e.supports(resolveOptions(e.options, { ...v.options, ...fromRequest }));
    const row: PromiseRow = {
      engine: v.engine,
      variant: v.variant,
      options: v.options,
      requestOptions: v.requestOptions as Record<string, unknown>,
      declared: declaredGuarantees(s),
      availability: s.availability,
      conflicts: s.conflicts,
      notes: s.notes ?? [],
    };
    results.promises.push(row);
  };

  try {
    for (const group of groups.values()) {
      const first = group[0]!;
      const engine = known.get(first.engine)!;
      bar?.update({ task: `${first.engine}: starting cluster` });
      const cluster = await startCluster(o.launcher, {
        engine: first.engine,
        nodes: profile.nodes,
        options: first.options,
      });
      try {
        await waitForLeader(
          cluster,
          engine.supports(resolveOptions(engine.options, first.options)).availability !== "all",
        );
        for (const v of group.filter((x) => latency.some(same(x)))) {
          promise(v);
          await measureLatency(cluster, v, { ...profile, seed }, (r: LatencyRun) => {
            results.runs.push(r);
            step(`${r.engine} ${r.variant} ${r.op} @${r.delayMs}ms`);
          });
        }
        const pv = group.find((x) => partitionVariants.some(same(x)));
        if (pv) {
          promise(pv);
          bar?.update({ task: `${pv.engine}: partition timeline` });
          const { run, anomalies, history } = await availabilityThroughPartition(
            cluster,
            engine,
            pv,
            profile.partitionPhasesS,
          );
          // Kept beside the results so anyone can check them again: `clab check <file> --consistency all`.
          const file = join(
            o.out,
            "histories",
            `${pv.engine}-${pv.variant.replace(/[^a-z0-9]+/gi, "-")}-partition.jsonl`,
          );
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, history.map((e) => `${formatEvent(e)}\n`).join(""));
          results.availability.push(run);
          results.anomalies.push(anomalies);
          step(`${pv.engine}: partition`);
          const uv = group.find((x) => uniquenessVariants.some(same(x)));
          if (uv) {
            results.uniqueness.push(
              await claimUsernames(cluster, uv, {
                names: 20,
                clientsPerSide: 2,
                partitioned: true,
                minority: run.minority,
              }),
            );
            step(`${uv.engine}: uniqueness`);
          }
        }
      } finally {
        await cluster.stop();
      }
    }
    for (const v of simVariants) {
      bar?.update({ task: `${v.engine} ${v.variant}: simulation sweep` });
      promise(v);
      results.anomalies.push(simSweep(known.get(v.engine)!, v, profile.simSeeds));
      step(`${v.engine} ${v.variant}: sim`);
    }
  } finally {
    bar?.stop();
  }
  results.etcd = {
    available: false,
    version: null,
    note: profile.etcd
      ? "etcd was not found on PATH (Debian package etcd-server), so this run has no etcd rows."
      : "The quick profile does not run etcd; `pnpm -s clab bench --profile full` adds it when an `etcd` binary is on PATH (Debian package etcd-server).",
  };
  for (const v of profile.scaleNodes.length || profile.valueSizes.length ? partitionVariants : []) {
    const e = known.get(v.engine)!;
    const leaderBased = e.supports(resolveOptions(e.options, v.options)).availability !== "all";
    await measureScale(o.launcher, profile, v, leaderBased, seed, (r) => results.runs.push(r));
  }
  const version =
    profile.etcd && known.has("raft") && (!o.only || o.only.includes("raft")) ? etcdVersion() : null;
  if (version) {
    results.etcd = await compareWithEtcd(o.launcher, profile, version, seed, (r) => results.runs.push(r));
  }
  results.finishedAt = new Date().toISOString();
  const resultsPath = join(o.out, "results.json");
  writeResults(resultsPath, results);
  await writeComparison(results, o.docsDir, resultsPath);
  return results;
}

/**
 * measureScale runs an engine's default at each cluster size (throughput and latency at 3, 5, 7 nodes) and, at the
 * smallest size, at each value size, with no injected delay.
 */
async function measureScale(
  launcher: Launcher,
  profile: (typeof PROFILES)["full"],
  v: Variant,
  leaderBased: boolean,
  seed: number,
  push: (r: LatencyRun) => void,
): Promise<void> {
  const sizes = profile.scaleNodes.length ? profile.scaleNodes : [profile.nodes];
  for (const nodes of sizes) {
    const cluster = await startCluster(launcher, { engine: v.engine, nodes, options: v.options });
    try {
      await waitForLeader(cluster, leaderBased);
      const base = { ...profile, delays: [0], ops: ["put", "get"] as ("put" | "get")[], seed };
      await measureLatency(cluster, v, { ...base, scenario: "scale" }, push);
      if (nodes === sizes[0]) {
        for (const valueBytes of profile.valueSizes) {
          await measureLatency(cluster, v, { ...base, valueBytes, scenario: "value-size" }, push);
        }
      }
    } finally {
      await cluster.stop();
    }
  }
}

/**
 * compareWithEtcd runs etcd and our Raft side by side: the same workload, both on 3 members on loopback, both
 * behind the same TCP delay proxy between members, both fsyncing every write. At delay 0 the clients are many
 * (profile.etcdClients) to compare durable write throughput; the delay rows use the profile's client count.
 */
async function compareWithEtcd(
  launcher: Launcher,
  profile: (typeof PROFILES)["full"],
  version: string,
  seed: number,
  push: (r: LatencyRun) => void,
): Promise<BenchResults["etcd"]> {
  let ratio: number | null = null;
  const raft: Variant = { engine: "raft", variant: "via delay proxy", options: {}, requestOptions: {} };
  for (const delay of profile.delays) {
    const clients = delay === 0 ? profile.etcdClients : profile.clients;
    const etcd = await startEtcd(3, delay);
    let etcdPut: LatencyRun | undefined;
    try {
      for (const op of profile.ops) {
        const r = await measureEtcd(etcd, {
          op,
          clients,
          durationMs: profile.durationMs,
          keys: profile.keys,
          valueBytes: profile.valueBytes,
          delayMs: delay,
          seed,
        });
        push(r);
        if (op === "put") etcdPut = r;
      }
    } finally {
      await etcd.stop();
    }
    const ours = await startProxiedCluster(launcher, { engine: "raft", nodes: 3, delayMs: delay });
    try {
      await waitForLeader(ours, true);
      await measureLatency(ours, raft, { ...profile, clients, delays: [0], seed }, (r) => {
        // The proxy, not the transport, carries the delay here: record the proxy's delay and its floor.
        const row: LatencyRun = { ...r, scenario: "etcd", delayMs: delay, floorMs: 2 * delay };
        push(row);
        if (delay === 0 && r.op === "put" && etcdPut && etcdPut.opsPerSec > 0) {
          ratio = Math.round((r.opsPerSec / etcdPut.opsPerSec) * 100) / 100;
        }
      });
    } finally {
      await ours.stop();
    }
  }
  return {
    available: true,
    version,
    writeThroughputRatio: ratio,
    note: `etcd ${version} (the \`etcd\` binary on PATH) ran as a 3-member cluster on loopback, driven by the etcd3 Node client with the same closed-loop workload; rows with scenario "etcd" put it beside our Raft run through the same TCP delay proxy between members. Both fsync every write before acknowledging it.`,
  };
}

/** summaryTable renders the short table printed at the end of a bench run. */
export function summaryTable(r: BenchResults): string {
  const lines = ["engine (variant)               op   delay  p50 ms  p99 ms   ops/s  floor"];
  for (const x of r.runs) {
    const name = (x.variant === "default" ? x.engine : `${x.engine} (${x.variant})`).padEnd(30).slice(0, 30);
    if (x.scenario !== "latency" && x.scenario !== "etcd") continue;
    lines.push(
      `${name} ${x.op.padEnd(4)} ${String(x.delayMs).padStart(5)} ${x.p50Ms.toFixed(1).padStart(7)} ${x.p99Ms.toFixed(1).padStart(7)} ${String(x.opsPerSec).padStart(7)} ${String(x.floorMs).padStart(6)}`,
    );
  }
  for (const a of r.availability) {
    lines.push(
      `partition ${a.variant === "default" ? a.engine : `${a.engine} (${a.variant})`}: majority ${(a.availability.majority * 100).toFixed(0)}% ok, minority ${(a.availability.minority * 100).toFixed(0)}% ok`,
    );
  }
  return lines.join("\n");
}
