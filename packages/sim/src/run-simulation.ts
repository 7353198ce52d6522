import {
  type HistoryEvent,
  historyCompletion,
  isDefinite,
  isKvErrorCode,
  type RequestOptions,
  Rng,
} from "@consistency-lab/kv";
import { applyFault, randomFaults } from "./faults.js";
import { meanDelay, SimCluster } from "./sim-cluster.js";
import {
  DEFAULT_RECOVERY_MS,
  FAULT_KINDS,
  type FaultKind,
  type FaultStep,
  type NetworkConfig,
  resolveNetwork,
  resolveWorkload,
  type SimConfig,
  type SimResult,
  type WorkloadPlan,
  type WorkloadSpec,
} from "./types.js";
import {
  type Completion,
  completionEvent,
  generatePlan,
  keyName,
  startWorkload,
  timeNs,
} from "./workload.js";

/** isFaultSchedule tells an explicit schedule from a list of fault kinds. */
export function isFaultSchedule(f: SimConfig["faults"]): f is FaultStep[] {
  return Array.isArray(f) && (f.length === 0 || typeof f[0] === "object");
}

/** horizonMs estimates how long the workload runs without faults: the span randomized faults are spread over. */
export function horizonMs(spec: WorkloadSpec, network: NetworkConfig): number {
  const perClient = Math.ceil(spec.ops / Math.max(1, spec.clients));
  const perOp = spec.thinkMs + 2 * network.clientDelayMs + 4 * meanDelay(network.delay) + 5;
  return Math.max(500, Math.round(perClient * perOp));
}

/** MaterializedConfig is a SimConfig with everything randomized drawn: what replay and shrinking rerun. */
export interface Materialized {
  nodes: string[];
  workload: WorkloadSpec;
  network: NetworkConfig;
  faults: FaultStep[];
  plan: WorkloadPlan;
  recoveryMs: number;
  persistLatencyMs: number;
}

/** materialize draws the fault schedule, background network and plan a config leaves to its seed. */
export function materialize(config: SimConfig): Materialized {
  const n = config.nodes ?? config.engine.defaultNodes ?? 3;
  const nodes = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const workload = resolveWorkload(config.workload);
  const root = new Rng(config.seed >>> 0);
  let network = resolveNetwork(config.network);
  let faults: FaultStep[] = [];
  const spec = config.faults ?? "none";
  if (isFaultSchedule(spec)) {
    faults = spec.map((s) => ({ ...s }));
  } else if (spec !== "none") {
    const kinds: readonly FaultKind[] = spec === "all" ? FAULT_KINDS : spec;
    const rf = randomFaults(root.fork("faults"), nodes, kinds, horizonMs(workload, network));
    faults = rf.faults;
    network = resolveNetwork({ ...rf.network, ...(config.network ?? {}) });
  }
  const plan = config.plan ?? generatePlan(root.fork("workload").fork("plan"), workload);
  // Randomized crashes come with a disk that takes time to sync, half the time: a crash can then land while a
  // batch is written but its fsync has not returned — it survives a kill -9 (the kernel has it) while the replies
  // that waited for it are never sent (see SimCluster.crash). Its own stream, so other draws stay as they were.
  let persistLatencyMs = config.persistLatencyMs ?? 0;
  if (config.persistLatencyMs === undefined && !isFaultSchedule(spec) && spec !== "none") {
    const kinds: readonly FaultKind[] = spec === "all" ? FAULT_KINDS : spec;
    const disk = root.fork("disk");
    if (kinds.includes("crash") && disk.chance(0.5))
      persistLatencyMs = Math.round((0.2 + disk.next() * 2.8) * 1000) / 1000;
  }
  return {
    nodes,
    workload,
    network,
    faults,
    plan,
    recoveryMs: config.recoveryMs ?? DEFAULT_RECOVERY_MS,
    persistLatencyMs,
  };
}

/**
 * runSimulation runs one seeded simulation: the workload under the fault schedule, then recovery (heal every
 * partition and link fault, end pauses, restart crashed nodes, settle for `recoveryMs`), then one read of every
 * key at every node. Same config ⇒ same history and trace hash.
 */
export function runSimulation(config: SimConfig): SimResult {
  const m = materialize(config);
  const c = new SimCluster({
    engine: config.engine,
    options: config.options ?? {},
    nodes: m.nodes,
    seed: config.seed,
    network: m.network,
    tickMs: config.tickMs,
    persistLatencyMs: m.persistLatencyMs,
    strict: config.strict,
    defaultDeadlineMs: m.workload.deadlineMs,
  });
  const history: HistoryEvent[] = [];
  let faultsApplied = 0;
  let faultsSkipped = 0;
  let faultsLeft = m.faults.length;
  for (const step of m.faults) {
    c.at(step.at, () => {
      if (applyFault(c, step)) faultsApplied++;
      else faultsSkipped++;
      faultsLeft--;
    });
  }
  const requestOptions: RequestOptions | undefined =
    m.workload.requestOptions ?? config.engine.requestOptions?.(c.options);
  const wl = startWorkload({
    cluster: c,
    plan: m.plan,
    spec: m.workload,
    requestOptions,
    history,
    rng: c.fork("workload").fork("clients"),
    writeRetry: config.engine.writeRetry?.(c.options) ?? "anywhere",
  });
  const perClient = Math.max(0, ...m.plan.clients.map((l) => l.length));
  const lastFault = m.faults.reduce((a, s) => Math.max(a, s.at), 0);
  const cap = perClient * (m.workload.deadlineMs + 2 * m.workload.thinkMs + 1) + lastFault + 1000;
  c.runUntil(() => wl.isDone() && faultsLeft === 0, cap);
  const workloadEndMs = c.now;

  // Recovery: a perfect network and every node up, so convergence and liveness can be judged.
  c.heal();
  c.resetLinks();
  c.setNetwork({ loss: 0, dup: 0, reorder: 0 });
  c.resumeAll();
  for (const id of c.nodes) {
    c.skew(id, 0);
    c.restart(id);
  }
  c.runFor(m.recoveryMs);

  const keys = new Set<string>();
  for (let i = 0; i < m.workload.keys; i++) keys.add(keyName(i));
  for (const l of m.plan.clients) for (const p of l) keys.add(p.key);
  const keyList = [...keys].sort();
  const finalOptions = config.engine.requestOptions?.(c.options);
  let finalLeft = 0;
  c.nodes.forEach((node, i) => {
    if (c.isCrashed(node)) return;
    finalLeft++;
    finalReads(
      c,
      node,
      m.plan.clients.length + i,
      keyList,
      finalOptions,
      m.workload.deadlineMs,
      history,
      () => finalLeft--,
    );
  });
  c.runUntil(() => finalLeft === 0, keyList.length * (m.workload.deadlineMs + 10) + 10);

  const finalState: Record<string, Record<string, string[]>> = {};
  for (const id of c.nodes) {
    const core = c.core(id);
    if (core?.dump === undefined) continue;
    const dump = core.dump();
    const rec: Record<string, string[]> = {};
    for (const k of [...dump.keys()].sort()) rec[k] = [...dump.get(k)!];
    finalState[id] = rec;
  }
  let ok = 0;
  let fail = 0;
  let info = 0;
  for (const e of history) {
    if (e.type === "ok") ok++;
    else if (e.type === "fail") fail++;
    else if (e.type === "info") info++;
  }
  const st = c.stats;
  return {
    seed: config.seed,
    engine: config.engine.name,
    options: c.options,
    nodes: [...c.nodes],
    history,
    traceHash: c.traceHash(),
    messages: st.messages,
    delivered: st.delivered,
    dropped: st.dropped,
    virtualMs: c.now,
    faults: m.faults,
    network: m.network,
    workload: m.workload,
    plan: m.plan,
    recoveryMs: m.recoveryMs,
    persistLatencyMs: m.persistLatencyMs,
    finalState,
    stats: {
      ok,
      fail,
      info,
      faultsApplied,
      faultsSkipped,
      duplicated: st.duplicated,
      oversized: st.oversized,
      ticks: st.ticks,
      crashes: st.crashes,
      restarts: st.restarts,
      events: st.events,
      workloadEndMs,
    },
  };
}

function finalReads(
  c: SimCluster,
  node: string,
  process: number,
  keys: string[],
  options: RequestOptions | undefined,
  deadlineMs: number,
  history: HistoryEvent[],
  done: () => void,
): void {
  let i = 0;
  const session = `final-${node}`;
  const next = () => {
    if (i >= keys.length) {
      done();
      return;
    }
    const key = keys[i++]!;
    const meta = { final: true };
    history.push({
      process,
      type: "invoke",
      f: "read",
      key,
      value: null,
      time: timeNs(c.now),
      session,
      meta,
    });
    let finished = false;
    const finish = (ev: Completion) => {
      if (finished) return;
      finished = true;
      history.push(completionEvent(process, "read", key, null, ev, timeNs(c.now), session, meta));
      next();
    };
    const req = {
      op: "get" as const,
      key,
      session: { clientId: session, seq: i },
      ...(options ? { options } : {}),
    };
    const id = c.submit(node, req, (reply) => {
      const served = reply.meta?.node ?? node;
      if (reply.error !== undefined) {
        const definite = isKvErrorCode(reply.error.code) ? isDefinite(reply.error.code) : false;
        finish({ type: definite ? "fail" : "info", error: reply.error.code, node: served });
        return;
      }
      const done = historyCompletion("get", reply);
      finish(
        done.values !== undefined
          ? { type: "ok", values: done.values, node: served }
          : { type: "ok", value: done.value, node: served },
      );
    });
    c.after(deadlineMs, () => {
      if (finished) return;
      c.cancel(id);
      finish({ type: "info", error: "KV_TIMEOUT", node });
    });
  };
  next();
}
