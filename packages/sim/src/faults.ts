import type { Rng } from "@consistency-lab/kv";
import type { SimCluster } from "./sim-cluster.js";
import { FAULT_STEP_KEYS, type FaultKind, type FaultStep, type NetworkConfig } from "./types.js";

/** FaultStepKey is the key naming a fault step's kind (a FaultKind, or `heal` / `restart`). */
export type FaultStepKey = (typeof FAULT_STEP_KEYS)[number];

/** faultStepKey returns the key that names the step's kind. */
export function faultStepKey(step: FaultStep): FaultStepKey {
  for (const k of FAULT_STEP_KEYS) if (k in step) return k;
  throw new TypeError(`fault step has no kind: ${JSON.stringify(step)}`);
}

/** resolveTargets maps a node target (id, "*" or "leader") to ids; undefined when "leader" names nobody. */
export function resolveTargets(c: SimCluster, target: string): string[] | undefined {
  if (target === "*") return [...c.nodes];
  if (target === "leader") {
    const l = c.leader();
    return l === undefined ? undefined : [l];
  }
  return [target];
}

function resolveGroup(c: SimCluster, group: string[]): string[] | undefined {
  const out: string[] = [];
  for (const t of group) {
    const r = resolveTargets(c, t);
    if (r === undefined) return undefined;
    for (const id of r) if (!out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * applyFault applies one fault step to the cluster now. Returns false when it was skipped because a "leader"
 * target named nobody at that moment.
 */
export function applyFault(c: SimCluster, step: FaultStep): boolean {
  const s = step as Record<string, any>;
  switch (faultStepKey(step)) {
    case "partition": {
      const groups: string[][] = [];
      for (const g of s.partition as string[][]) {
        const r = resolveGroup(c, g);
        if (r === undefined) return false;
        groups.push(r);
      }
      c.partition(groups);
      return true;
    }
    case "partition-oneway": {
      const from = resolveGroup(c, s["partition-oneway"].from);
      const to = resolveGroup(c, s["partition-oneway"].to);
      if (from === undefined || to === undefined) return false;
      c.partitionOneWay(from, to);
      return true;
    }
    case "heal":
      c.heal();
      return true;
    case "crash": {
      const t = resolveTargets(c, s.crash);
      if (t === undefined) return false;
      for (const id of t) c.crash(id);
      return true;
    }
    case "restart": {
      const t = resolveTargets(c, s.restart);
      if (t === undefined) return false;
      for (const id of t) c.restart(id);
      return true;
    }
    case "pause": {
      const t = resolveTargets(c, s.pause.node);
      if (t === undefined) return false;
      for (const id of t) c.pause(id, s.pause.ms);
      return true;
    }
    case "skew": {
      const t = resolveTargets(c, s.skew.node);
      if (t === undefined) return false;
      for (const id of t) c.skew(id, s.skew.ms);
      return true;
    }
    case "loss":
    case "delay": {
      const key = faultStepKey(step);
      const a = s[key];
      const from = resolveTargets(c, a.from);
      const to = resolveTargets(c, a.to);
      if (from === undefined || to === undefined) return false;
      for (const f of from) {
        for (const t of to) {
          if (f === t) continue;
          if (key === "loss") c.setLink(f, t, { loss: a.rate });
          else c.setLink(f, t, { delay: a.ms, jitter: a.jitter ?? 0 });
        }
      }
      return true;
    }
    case "dup":
      c.setNetwork({ dup: s.dup.rate });
      return true;
    case "reorder":
      c.setNetwork({ reorder: s.reorder.rate });
      return true;
  }
}

const round = (x: number) => Math.round(x);
const uniform = (rng: Rng, lo: number, hi: number) => lo + rng.next() * (hi - lo);
const rate = (x: number) => Math.round(x * 1000) / 1000;

/**
 * randomFaults materializes a randomized fault schedule over `horizonMs` (TigerBeetle VOPR swarm testing,
 * reference/checkers.md §5.2): per seed it picks which of `kinds` are active, how often faults strike and how
 * hard, and a background network (loss, duplication, reordering, delay distribution). Crashes keep a majority up
 * in most seeds (so liveness is exercised) but not in all. The schedule always ends with heal + restart "*".
 */
export function randomFaults(
  rng: Rng,
  nodes: string[],
  kinds: readonly FaultKind[],
  horizonMs: number,
): { faults: FaultStep[]; network: Partial<NetworkConfig> } {
  const n = nodes.length;
  const usable = kinds.filter((k) => n >= 2 || !(k === "partition" || k === "partition-oneway"));
  const network: Partial<NetworkConfig> = {};
  const faults: FaultStep[] = [];
  if (usable.length === 0) return { faults, network };
  // Swarm testing: each kind is switched on with probability ½, at least one.
  let active = usable.filter(() => rng.chance(0.5));
  if (active.length === 0) active = [rng.pick(usable)];
  if (active.includes("loss") && rng.chance(0.5)) network.loss = rate(uniform(rng, 0, 0.05));
  if (active.includes("dup") && rng.chance(0.5)) network.dup = rate(uniform(rng, 0, 0.05));
  if (active.includes("reorder") && rng.chance(0.5)) network.reorder = rate(uniform(rng, 0, 0.2));
  if (active.includes("delay") && rng.chance(0.5)) {
    network.delay = {
      kind: "exponential",
      meanMs: round(uniform(rng, 1, 10)),
      minMs: round(uniform(rng, 0, 3)),
    };
  }
  const baseLoss = network.loss ?? 0;
  const baseDup = network.dup ?? 0;
  const baseReorder = network.reorder ?? 0;
  // Intensity: mean ms between fault episodes and how long one lasts.
  const interval = round(uniform(rng, 100, 1500));
  const maxDuration = round(uniform(rng, 100, 2000));
  // Most seeds keep a majority up; about one in ten may lose it.
  const unsafe = rng.chance(0.1);
  const maxDown = unsafe ? n : Math.floor((n - 1) / 2);
  const downs: { id: string; from: number; to: number }[] = [];
  const pickNode = () => rng.pick(nodes);
  const subset = (): string[] => {
    const s = nodes.filter(() => rng.chance(0.5));
    if (s.length === 0) s.push(pickNode());
    if (s.length === n) s.splice(rng.int(n), 1);
    return s;
  };
  let t = round(rng.next() * interval);
  while (t < horizonMs) {
    const kind = rng.pick(active);
    const end = Math.min(horizonMs, t + round(uniform(rng, 20, maxDuration)));
    switch (kind) {
      case "partition": {
        const mode = rng.int(3);
        let side: string[];
        if (mode === 0) side = [pickNode()];
        else if (mode === 1) side = rng.shuffle([...nodes]).slice(0, Math.floor((n - 1) / 2) || 1);
        else side = subset();
        faults.push({ at: t, partition: [side, nodes.filter((x) => !side.includes(x))] });
        faults.push({ at: end, heal: true });
        break;
      }
      case "partition-oneway": {
        const from = subset();
        const rest = nodes.filter((x) => !from.includes(x));
        const to = rng.chance(0.5) ? rest : rest.filter(() => rng.chance(0.5));
        if (to.length === 0) to.push(rest[0]!);
        faults.push({ at: t, "partition-oneway": { from, to } });
        faults.push({ at: end, heal: true });
        break;
      }
      case "crash": {
        const live = downs.filter((d) => d.from <= t && t < d.to);
        if (live.length >= maxDown) break;
        if (unsafe && rng.chance(0.5)) {
          // Lose a majority at once, so availability loss and recovery from it are exercised too.
          const victims = rng.shuffle([...nodes]).slice(0, Math.floor(n / 2) + 1);
          for (const id of victims) faults.push({ at: t, crash: id });
          for (const id of victims) faults.push({ at: end, restart: id });
          for (const id of victims) downs.push({ id, from: t, to: end });
          break;
        }
        if (rng.chance(0.25)) {
          faults.push({ at: t, crash: "leader" });
          faults.push({ at: end, restart: "*" });
          downs.push({ id: "leader", from: t, to: end });
        } else {
          const candidates = nodes.filter((x) => !live.some((d) => d.id === x));
          if (candidates.length === 0) break;
          const id = rng.pick(candidates);
          faults.push({ at: t, crash: id });
          faults.push({ at: end, restart: id });
          downs.push({ id, from: t, to: end });
        }
        break;
      }
      case "pause":
        faults.push({
          at: t,
          pause: { node: rng.chance(0.25) ? "leader" : pickNode(), ms: round(uniform(rng, 10, 500)) },
        });
        break;
      case "skew": {
        const node = pickNode();
        faults.push({ at: t, skew: { node, ms: round(uniform(rng, -1000, 1000)) } });
        faults.push({ at: end, skew: { node, ms: 0 } });
        break;
      }
      case "loss": {
        const from = rng.chance(0.5) ? pickNode() : "*";
        const to = from === "*" ? pickNode() : rng.chance(0.5) ? pickNode() : "*";
        faults.push({ at: t, loss: { from, to, rate: rate(uniform(rng, 0.1, 0.9)) } });
        faults.push({ at: end, loss: { from, to, rate: baseLoss } });
        break;
      }
      case "dup":
        faults.push({ at: t, dup: { rate: rate(uniform(rng, 0.05, 0.5)) } });
        faults.push({ at: end, dup: { rate: baseDup } });
        break;
      case "reorder":
        faults.push({ at: t, reorder: { rate: rate(uniform(rng, 0.05, 0.5)) } });
        faults.push({ at: end, reorder: { rate: baseReorder } });
        break;
      case "delay": {
        const from = pickNode();
        const ms = round(uniform(rng, 5, 300));
        const jitter = rng.chance(0.5) ? round(uniform(rng, 0, ms)) : 0;
        faults.push({ at: t, delay: { from, to: "*", ms, jitter } });
        faults.push({ at: end, delay: { from, to: "*", ms: 0, jitter: 0 } });
        break;
      }
    }
    t += 1 + round(rng.exponential(interval));
  }
  faults.push({ at: horizonMs, heal: true });
  faults.push({ at: horizonMs, restart: "*" });
  // Stable sort: steps at the same time keep their generation order (a crash before its restart).
  faults.sort((a, b) => a.at - b.at);
  return { faults, network };
}
