import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkGuarantees, type GuaranteeResult, type Op, parseHistory } from "@consistency-lab/checker";
import type { KvClient } from "@consistency-lab/client";
import {
  declaredGuarantees,
  type EngineDefinition,
  formatEvent,
  type HistoryEvent,
  Rng,
  resolveOptions,
} from "@consistency-lab/kv";
import type { Launcher } from "../cluster.js";
import { makeClient, uniqueValue } from "../load.js";
import { heal, leaderOf, partition, rotated, sleep, statuses } from "../scenarios/common.js";
import { NetNamespaces } from "./netns.js";
import { NodeProcs } from "./procs.js";
import {
  type FaultKind,
  type InjectedFault,
  type PlannedFault,
  pickTargets,
  type Target,
} from "./schedule.js";

/** Mix is the share of each op in the workload (normalised): put, get, and get-then-cas. */
export interface Mix {
  put: number;
  get: number;
  cas: number;
}

/** The workload the users ran: unique puts 50 %, gets 35 %, get-then-cas 15 %. */
export const DEFAULT_MIX: Mix = { put: 50, get: 35, cas: 15 };

export interface NemesisOptions {
  launcher: Launcher;
  engine: EngineDefinition<any>;
  options: Record<string, string>;
  nodes: number;
  /** The faults, planned (from a seed) or replayed from a schedule file. */
  schedule: PlannedFault[];
  seed: number;
  durationMs: number;
  clients: number;
  keys: number;
  valueBytes: number;
  mix: Mix;
  /** Client request deadline (the client retries within it). */
  timeoutMs: number;
  /** Wait after everything is healed and restarted before the final reads. */
  quiesceMs: number;
  checkTimeLimitMs: number;
  /** Run each node in its own network namespace and cut partitions with nftables (root only). */
  netns?: boolean;
  /** Where the history, schedule, summary and node logs go. */
  outDir: string;
  /** Progress lines (one per fault). */
  log?: (line: string) => void;
}

export interface NemesisSummary {
  engine: string;
  options: Record<string, string>;
  nodes: number;
  seed: number;
  durationS: number;
  /** How long checking the history took. */
  checkSeconds: number;
  ops: { total: number; ok: number; fail: number; info: number; final: number };
  faults: InjectedFault[];
  /** Nodes that exited without being killed by the nemesis (a crash is a failure in itself). */
  crashes: { node: string; how: string; atMs: number }[];
  /**
   * When every node first returned the same values for every key, in ms after the final heal (looked at every
   * 200 ms until the quiesce time + 10 s; null if never). Diagnostic only: the verdicts use the final reads.
   */
  agreement: { agreedAfterMs: number | null; checks: number };
  /** Each node's status after the final reads. */
  finalStatus: Record<string, unknown>[];
  declared: string[];
  verdicts: Record<string, GuaranteeResult["verdict"]>;
  /** The first explanation of each broken guarantee. */
  violations: Record<string, string[]>;
  valid: boolean | "unknown";
  historyFile: string;
  scheduleFile: string;
  summaryFile: string;
}

/**
 * runNemesis is the real-process fault run (ARCHITECTURE §7): it starts a local cluster of `clab node` processes,
 * drives a closed-loop client workload recording a history, injects the scheduled faults (kill -9 and restart from
 * the data directory, SIGSTOP/SIGCONT, transport partitions, libfaketime clock skew), then heals everything,
 * restarts every node, reads every key on every node (final reads) and checks the history against what the engine
 * DECLARES for its options. The history, the schedule (replay-ready) and the summary are written to `outDir`.
 */
export async function runNemesis(o: NemesisOptions): Promise<NemesisSummary> {
  const log = o.log ?? (() => {});
  const options = resolveOptions(o.engine.options, o.options);
  const supports = o.engine.supports(options);
  const declared = declaredGuarantees(supports);
  const net = o.netns ? NetNamespaces.create(o.nodes) : undefined;
  let procs: NodeProcs;
  try {
    procs = await NodeProcs.start(o.launcher, {
      engine: o.engine.name,
      nodes: o.nodes,
      options: o.options,
      dataDir: join(o.outDir, "data"),
      ...(net ? { net } : {}),
    });
  } catch (e) {
    net?.remove();
    throw e;
  }
  const killOnExit = () => procs.killAllNow();
  process.once("exit", killOnExit);
  const history: HistoryEvent[] = [];
  const injected: InjectedFault[] = [];
  const crashes: NemesisSummary["crashes"] = [];
  let t0 = performance.now();
  let t0ns = Number(process.hrtime.bigint());
  const now = () => Math.round(performance.now() - t0);
  procs.onUnexpectedExit = (node, how) => {
    crashes.push({ node, how, atMs: now() });
    log(`node ${node} exited on its own (${how})`);
  };
  let nextProcess = 0;
  let finalStatus: NemesisSummary["finalStatus"] = [];
  let agreement: NemesisSummary["agreement"] = { agreedAfterMs: null, checks: 0 };
  try {
    await waitLeader(procs, 15_000);
    // Fault times count from here, when the cluster serves and the workload starts.
    t0 = performance.now();
    t0ns = Number(process.hrtime.bigint());
    const end = t0 + o.durationMs;
    const keys = Array.from({ length: o.keys }, (_, i) => `k${i}`);
    const total = o.mix.put + o.mix.get + o.mix.cas;
    const clients = Array.from({ length: o.clients }, async (_, ci) => {
      const rng = new Rng(o.seed).fork(`client-${ci}`);
      const c = makeClient(procs, rotated(procs.endpoints, ci), {
        timeoutMs: o.timeoutMs,
        process: nextProcess++,
        history,
      });
      let n = 0;
      while (performance.now() < end) {
        const key = keys[rng.int(keys.length)]!;
        const r = rng.next() * total;
        const value = () => uniqueValue(`c${ci}-${++n}`, o.valueBytes);
        try {
          if (r < o.mix.put) await c.put(key, value());
          else if (r < o.mix.put + o.mix.get) await c.get(key);
          else {
            const got = await c.get(key);
            await c.cas(key, got.value, value());
          }
        } catch (e) {
          // A refused op (not a timeout) returns at once: pace the retry so a down cluster is sampled, not flooded.
          if ((e as { code?: string }).code !== "KV_TIMEOUT") await sleep(20);
        }
      }
      await c.close();
    });
    const nemesis = (async () => {
      const rng = new Rng(o.seed).fork("nemesis-targets");
      for (const f of o.schedule) {
        const wait = f.atMs - now();
        if (wait > 0) await sleep(wait);
        if (performance.now() >= end) break;
        const leader = f.target === "leader" ? await leaderOf(procs).catch(() => undefined) : undefined;
        const nodes = pickTargets(f.target, procs.ids, leader, rng);
        const startedMs = now();
        log(`${(startedMs / 1000).toFixed(1)} s: ${describe(f, nodes, procs.net !== undefined)}`);
        await inject(procs, f.kind, nodes, f);
        injected.push({
          ...f,
          target: targetOf(f.target, nodes),
          nodes,
          startedMs,
          healedMs: now(),
          recoveryMs: null,
          firstWriteMs: null,
        });
      }
    })();
    await Promise.all([...clients, nemesis]);

    // Heal everything and bring every node up as it was configured, then let the cluster settle.
    await healAll(procs);
    const healedAt = performance.now();
    await waitLeader(procs, 15_000);
    // Do the nodes agree, and when? This tells slow convergence from none (these reads are not part of the
    // checked history). The final reads come at the quiesce time, or later if the nodes still disagree then.
    agreement = await watchAgreement(procs, keys, healedAt, o.quiesceMs + 10_000);
    const left = o.quiesceMs - (performance.now() - healedAt);
    if (left > 0) await sleep(left);
    for (const [i, ep] of procs.endpoints.entries()) {
      const c: KvClient = makeClient(procs, [ep], {
        timeoutMs: 2000,
        process: nextProcess++,
        history,
        pinned: true,
        final: true,
        clientId: `nemesis-final-${procs.ids[i]}-${o.seed}`,
      });
      for (const k of keys) await c.get(k).catch(() => undefined);
      await c.close();
    }
    // What each node says about itself at the end: the first thing to look at when the final reads disagree.
    finalStatus = await statuses(procs).catch(() => []);
  } finally {
    await procs.stop();
    net?.remove();
    process.removeListener("exit", killOnExit);
  }

  const checkStart = performance.now();
  const ops = parseHistory(history);
  measureRecovery(injected, ops, t0ns);
  const results = checkGuarantees(ops, declared, { timeLimitMs: o.checkTimeLimitMs });
  const checkSeconds = Math.round(performance.now() - checkStart) / 1000;
  const verdicts = Object.fromEntries(results.map((r) => [r.guarantee, r.verdict]));
  const violations = Object.fromEntries(
    results.filter((r) => r.verdict === "violation").map((r) => [r.guarantee, r.examples.slice(0, 2)]),
  );
  const valid: NemesisSummary["valid"] =
    results.some((r) => r.verdict === "violation") || crashes.length > 0
      ? false
      : results.some((r) => r.verdict === "unknown")
        ? "unknown"
        : true;
  const historyFile = join(o.outDir, "history.jsonl");
  const scheduleFile = join(o.outDir, "schedule.json");
  const summaryFile = join(o.outDir, "summary.json");
  writeFileSync(historyFile, history.map((e) => `${formatEvent(e)}\n`).join(""));
  writeFileSync(
    scheduleFile,
    `${JSON.stringify(
      {
        engine: o.engine.name,
        options: o.options,
        nodes: o.nodes,
        seed: o.seed,
        durationMs: o.durationMs,
        faults: injected.map((f) => ({
          atMs: f.atMs,
          kind: f.kind,
          target: { nodes: f.nodes },
          holdMs: f.holdMs,
          ...(f.skew ? { skew: f.skew } : {}),
        })),
      },
      null,
      2,
    )}\n`,
  );
  const summary: NemesisSummary = {
    engine: o.engine.name,
    options: o.options,
    nodes: o.nodes,
    seed: o.seed,
    durationS: o.durationMs / 1000,
    checkSeconds,
    ops: {
      total: ops.length,
      ok: ops.filter((x) => x.type === "ok").length,
      fail: ops.filter((x) => x.type === "fail").length,
      info: ops.filter((x) => x.type === "info").length,
      final: ops.filter((x) => x.final).length,
    },
    faults: injected,
    crashes,
    finalStatus,
    agreement,
    declared,
    verdicts,
    violations,
    valid,
    historyFile,
    scheduleFile,
    summaryFile,
  };
  writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  // A passing run keeps its history, schedule, summary and node logs (data/nN.log); the LevelDB directories are
  // only worth keeping when something broke.
  if (valid === true)
    for (const id of procs.ids)
      rmSync(join(o.outDir, "data", id), { recursive: true, force: true, maxRetries: 3 });
  return summary;
}

function targetOf(t: Target, nodes: string[]): Target {
  return typeof t === "object" ? { nodes } : t;
}

function describe(f: PlannedFault, nodes: string[], netns: boolean): string {
  const who = nodes.join(",");
  switch (f.kind) {
    case "kill":
      return `kill -9 ${who}, restart after ${f.holdMs} ms`;
    case "pause":
      return `SIGSTOP ${who} for ${f.holdMs} ms`;
    case "partition":
      return `partition ${who} from the rest for ${f.holdMs} ms (${netns ? "nftables" : "transport"})`;
    case "skew":
      return `restart ${who} under faketime ${f.skew!.offsetMs} ms x${f.skew!.rate} for ${f.holdMs} ms`;
  }
}

/** inject applies one fault to `nodes`, holds it, and heals it (the next fault starts from a healed cluster). */
async function inject(procs: NodeProcs, kind: FaultKind, nodes: string[], f: PlannedFault): Promise<void> {
  switch (kind) {
    case "kill":
      await Promise.all(nodes.map((id) => procs.kill(id)));
      await sleep(f.holdMs);
      // A restarted node keeps a skew it was given: it is the same machine, with the same clock.
      await Promise.all(nodes.map((id) => procs.startNode(id, 20_000, procs.skewOf(id))));
      return;
    case "pause":
      for (const id of nodes) procs.pause(id);
      await sleep(f.holdMs);
      for (const id of nodes) procs.resume(id);
      return;
    case "partition": {
      const rest = procs.ids.filter((id) => !nodes.includes(id));
      if (procs.net) {
        const ix = (ids: string[]) => ids.map((id) => procs.ids.indexOf(id));
        procs.net.cut(ix(nodes), ix(rest));
        await sleep(f.holdMs);
        procs.net.heal();
      } else {
        await partition(procs, nodes, rest);
        await sleep(f.holdMs);
        await heal(procs);
      }
      return;
    }
    case "skew":
      await Promise.all(
        nodes.map(async (id) => {
          await procs.kill(id);
          await procs.startNode(id, 20_000, f.skew);
        }),
      );
      await sleep(f.holdMs);
      await Promise.all(
        nodes.map(async (id) => {
          await procs.kill(id);
          await procs.startNode(id);
        }),
      );
      return;
  }
}

/** healAll continues paused nodes, starts stopped ones (unskewed), and clears every transport fault. */
async function healAll(procs: NodeProcs): Promise<void> {
  for (const id of procs.ids) procs.resume(id);
  await Promise.all(
    procs.ids.map(async (id) => {
      if (procs.skewOf(id) && procs.isUp(id)) await procs.kill(id);
      if (!procs.isUp(id)) await procs.startNode(id);
    }),
  );
  procs.net?.heal();
  await heal(procs).catch(() => undefined);
}

const ELECTED_ROLES = new Set(["follower", "candidate", "learner"]);

/**
 * waitLeader waits until every node answers its status and, where nodes are followers or candidates (an engine
 * with an elected leader), until one of them leads. A leaderless engine's nodes are all up at once.
 */
async function waitLeader(procs: NodeProcs, timeoutMs: number): Promise<string | undefined> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const all = await statuses(procs).catch(() => []);
    const leader = all.find((s) => s.role === "leader")?.id;
    const up = all.length === procs.ids.length && all.every((s) => s.role !== "unreachable");
    if (leader || (up && !all.some((s) => ELECTED_ROLES.has(s.role))) || performance.now() > until)
      return leader;
    await sleep(100);
  }
}

async function watchAgreement(
  procs: NodeProcs,
  keys: string[],
  healedAt: number,
  withinMs: number,
): Promise<NemesisSummary["agreement"]> {
  const readers = procs.endpoints.map((ep, i) =>
    // One attempt each: a node that does not serve reads (a follower of a leader-only engine) says so at once
    // instead of holding the watch for a whole deadline per key.
    makeClient(procs, [ep], {
      timeoutMs: 1000,
      retries: 0,
      process: -1,
      pinned: true,
      clientId: `nemesis-watch-${i}`,
    }),
  );
  try {
    for (let check = 1; ; check++) {
      const views = await Promise.all(
        readers.map(async (c) => {
          const out: string[] = [];
          for (const k of keys) {
            const r = await c.get(k).catch(() => undefined);
            out.push(r ? JSON.stringify([...(r.values ?? [r.value])].sort()) : "?");
          }
          return out.join("|");
        }),
      );
      // Nodes that do not serve reads (followers of a linearizable engine) say "?" and are left out.
      const known = views.filter((v) => !v.split("|").includes("?"));
      if (known.length > 0 && known.every((v) => v === known[0]))
        return { agreedAfterMs: Math.round(performance.now() - healedAt), checks: check };
      if (performance.now() - healedAt > withinMs) return { agreedAfterMs: null, checks: check };
      await sleep(200);
    }
  } finally {
    await Promise.all(readers.map((c) => c.close()));
  }
}

const WRITES = new Set(["write", "cas", "delete", "append"]);

/** measureRecovery fills each fault's recovery figures from the acknowledged writes of the history. */
function measureRecovery(faults: InjectedFault[], ops: Op[], t0ns: number): void {
  const acked = ops
    .filter((x) => x.type === "ok" && WRITES.has(x.f) && x.callNs !== undefined && x.retNs !== undefined)
    .map((x) => ({ call: (x.callNs! - t0ns) / 1e6, ret: (x.retNs! - t0ns) / 1e6 }));
  const firstAfter = (ms: number): number | null => {
    let best = Number.POSITIVE_INFINITY;
    for (const w of acked) if (w.call >= ms && w.ret < best) best = w.ret;
    return Number.isFinite(best) ? Math.round(best - ms) : null;
  };
  for (const f of faults) {
    f.recoveryMs = firstAfter(f.healedMs);
    f.firstWriteMs = firstAfter(f.startedMs);
  }
}
