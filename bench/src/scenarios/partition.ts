import { anomalyStats, checkGuarantees, parseHistory } from "@consistency-lab/checker";
import {
  declaredGuarantees,
  type EngineDefinition,
  GUARANTEES,
  type HistoryEvent,
  resolveOptions,
} from "@consistency-lab/kv";
import type { ClusterHandle } from "../cluster.js";
import { makeClient, optionsFor, uniqueValue } from "../load.js";
import type { Variant } from "../profiles.js";
import type { AnomalyRow, AvailabilityPoint, AvailabilityRun } from "../results.js";
import { heal, partition, rotated, sleep, waitForLeader } from "./common.js";

/**
 * availabilityThroughPartition cuts one node (the leader, where there is one) off from the rest, with clients on
 * each side that talk only to the nodes on their side, and records per second and per side what they could do.
 * The recorded history is checked afterwards: the same run feeds the anomalies table.
 */
export async function availabilityThroughPartition(
  cluster: ClusterHandle,
  engine: EngineDefinition<any>,
  v: Variant,
  phases: { before: number; partitioned: number; after: number },
  clientsPerSide = 3,
): Promise<{ run: AvailabilityRun; anomalies: AnomalyRow; history: HistoryEvent[] }> {
  const leaderBased = engine.supports(resolveOptions(engine.options, v.options)).availability !== "all";
  const leader = await waitForLeader(cluster, leaderBased);
  const minority = [leader ?? cluster.ids[0]!];
  const majority = cluster.ids.filter((id) => !minority.includes(id));
  const epOf = (ids: string[]) => ids.map((id) => cluster.endpoints[cluster.ids.indexOf(id)]!);
  const history: HistoryEvent[] = [];
  const timeoutMs = 1000;
  const sides = [
    { side: "minority" as const, endpoints: epOf(minority) },
    { side: "majority" as const, endpoints: epOf(majority) },
  ];
  // While the partition lasts, each client is pinned to the nodes on its side (a client in a partitioned data
  // centre reaches only its own side); before and after it, every client reaches every node, as real clients
  // would. A client that changes reach is a new history process, so each process still has one op in flight.
  let pinnedNow = false;
  let nextProcess = 0;
  const connect = (endpoints: string[], i: number, pinned: boolean) =>
    makeClient(cluster, rotated(endpoints, i), { timeoutMs, process: nextProcess++, history, pinned });
  const clients = sides.flatMap((s) =>
    Array.from({ length: clientsPerSide }, (_, i) => ({
      side: s.side,
      endpoints: s.endpoints,
      i,
      pinned: false,
      client: connect(cluster.endpoints, i, false),
    })),
  );
  const total = phases.before + phases.partitioned + phases.after;
  const buckets = new Map<string, AvailabilityPoint>();
  const t0 = Date.now();
  const phaseAt = (s: number): AvailabilityPoint["phase"] =>
    s < phases.before ? "before" : s < phases.before + phases.partitioned ? "partitioned" : "healed";
  const bump = (side: "majority" | "minority", kind: "ok" | "fail" | "timeout") => {
    const second = Math.floor((Date.now() - t0) / 1000);
    if (second >= total) return;
    const k = `${side}/${second}`;
    let b = buckets.get(k);
    if (!b) {
      b = { second, side, ok: 0, fail: 0, timeout: 0, phase: phaseAt(second) };
      buckets.set(k, b);
    }
    b[kind]++;
  };
  const end = t0 + total * 1000;
  const load = clients.map(async (slot, ci) => {
    const { side } = slot;
    let n = 0;
    while (Date.now() < end) {
      if (slot.pinned !== pinnedNow) {
        await slot.client.close();
        slot.pinned = pinnedNow;
        slot.client = connect(pinnedNow ? slot.endpoints : cluster.endpoints, slot.i + ci, pinnedNow);
      }
      const client = slot.client;
      const key = `p${n % 4}`;
      try {
        if (n % 2 === 0)
          await client.put(key, uniqueValue(`c${ci}-${n}`, 16), optionsFor("put", v.requestOptions));
        else await client.get(key, optionsFor("get", v.requestOptions));
        bump(side, "ok");
      } catch (e) {
        const code = (e as { code?: string }).code;
        bump(side, code === "KV_TIMEOUT" ? "timeout" : "fail");
        // A refused op returns at once; pace retries so a dead side is sampled, not flooded.
        if (code !== "KV_TIMEOUT") await sleep(50);
      }
      n++;
    }
  });
  const faults = (async () => {
    await sleep(phases.before * 1000);
    pinnedNow = true;
    await partition(cluster, minority, majority);
    await sleep(phases.partitioned * 1000);
    await heal(cluster);
    pinnedNow = false;
  })();
  await Promise.all([...load, faults]);
  // Quiesce, then read every key at every node for the convergence and lost-write checks.
  await sleep(2000);
  for (const ep of cluster.endpoints) {
    const c = makeClient(cluster, [ep], {
      timeoutMs: 2000,
      process: nextProcess++,
      history,
      pinned: true,
      final: true,
    });
    for (let k = 0; k < 4; k++)
      await c.get(`p${k}`, optionsFor("get", v.requestOptions)).catch(() => undefined);
    await c.close();
  }
  await Promise.all(clients.map((c) => c.client.close()));

  const timeline = [...buckets.values()].sort((a, b) => a.second - b.second || a.side.localeCompare(b.side));
  // Availability while partitioned: the share of ops that succeeded in each full second of the partition,
  // averaged over those seconds (the second in which the cut lands is left out; a second in which nothing
  // completed counts as 0). Counting ops alone would let the fast successes of the first instants outweigh
  // seconds of 1-s timeouts.
  const during = (side: string) => {
    const secs: number[] = [];
    for (let sec = phases.before + 1; sec < phases.before + phases.partitioned; sec++) {
      const x = timeline.find((p) => p.side === side && p.second === sec);
      const all = x ? x.ok + x.fail + x.timeout : 0;
      secs.push(all ? x!.ok / all : 0);
    }
    return secs.length ? secs.reduce((a, b) => a + b, 0) / secs.length : 0;
  };
  const recovery = (side: string) => {
    const healAt = phases.before + phases.partitioned;
    for (const x of timeline) {
      if (x.side !== side || x.second < healAt) continue;
      const all = x.ok + x.fail + x.timeout;
      if (all > 0 && x.ok / all >= 0.9) return x.second - healAt;
    }
    return null;
  };
  const ops = parseHistory(history);
  const options = resolveOptions(engine.options, v.options);
  const declared = declaredGuarantees(engine.supports(options));
  const results = checkGuarantees(ops, GUARANTEES, { timeLimitMs: 20_000 });
  const stats = anomalyStats(ops);
  const run: AvailabilityRun = {
    scenario: "partition",
    engine: v.engine,
    variant: v.variant,
    options: v.options,
    nodes: cluster.ids.length,
    minority,
    majority,
    partitionAtS: phases.before,
    healAtS: phases.before + phases.partitioned,
    timeline,
    availability: { majority: during("majority"), minority: during("minority") },
    recoverySeconds: { majority: recovery("majority"), minority: recovery("minority") },
    history: {
      ops: ops.length,
      verdicts: Object.fromEntries(
        results.filter((r) => declared.includes(r.guarantee)).map((r) => [r.guarantee, r.verdict]),
      ),
    },
  };
  const anomalies: AnomalyRow = {
    scenario: "anomalies",
    source: "cluster",
    engine: v.engine,
    variant: v.variant,
    options: v.options,
    runs: 1,
    ops: ops.length,
    declared,
    broken: Object.fromEntries(results.map((r) => [r.guarantee, r.verdict === "violation" ? 1 : 0])),
    staleReads: stats.staleReads,
    maxVersionsBehind: stats.maxVersionsBehind,
    maxMsBehind: stats.maxMsBehind,
    lostWrites: stats.lostWrites,
    siblingReads: stats.siblingReads,
    maxSiblings: stats.maxSiblings,
  };
  return { run, anomalies, history };
}
