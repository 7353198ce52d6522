import { checkCasAtomic } from "./cas-atomic.js";
import { checkNoLostWrites } from "./lost-writes.js";
import type { Op } from "./op.js";
import { readValues } from "./op.js";
import { valueKey } from "./values.js";

/** AnomalyStats counts anomalies that are measured rather than judged (bench, `clab sim` for weaker models). */
export interface AnomalyStats {
  /** Reads that returned a value already superseded when they started (see anomalyStats). */
  staleReads: number;
  /** Most acknowledged versions a stale read was behind. */
  maxVersionsBehind: number;
  /** Longest time a stale read was behind: from the first newer write's completion to the read's invoke. */
  maxMsBehind: number;
  lostWrites: number;
  /** Reads that returned more than one sibling. */
  siblingReads: number;
  maxSiblings: number;
  duplicateCasClaims: number;
}

/**
 * anomalyStats measures a history. A read r of key k is stale when every value it returned was written by a write
 * w (or is the initial value) that is definitely superseded: some acknowledged write w2 of k was invoked after w
 * completed (so w2 is ordered after w in any execution) and completed before r was invoked. Its staleness is the
 * number of such w2 (versions behind) and the time since the first of them completed (needs `time`). With
 * siblings or several candidate writers, the freshest interpretation is used.
 */
export function anomalyStats(ops: readonly Op[]): AnomalyStats {
  const stats: AnomalyStats = {
    staleReads: 0,
    maxVersionsBehind: 0,
    maxMsBehind: 0,
    lostWrites: checkNoLostWrites(ops).count,
    siblingReads: 0,
    maxSiblings: 0,
    duplicateCasClaims: checkCasAtomic(ops).count,
  };
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    let l = byKey.get(op.key);
    if (!l) {
      l = [];
      byKey.set(op.key, l);
    }
    l.push(op);
  }
  for (const kops of byKey.values()) {
    // Writer completion per value key (latest, i.e. freshest interpretation); absent: the initial state or deletes.
    const freshest = new Map<string | null, number>([[null, Number.NEGATIVE_INFINITY]]);
    const note = (vk: string | null, ret: number): void => {
      if (ret > (freshest.get(vk) ?? Number.NEGATIVE_INFINITY)) freshest.set(vk, ret);
    };
    for (const op of kops) {
      if (op.type === "fail") continue;
      if (op.f === "write") note(valueKey(op.value), op.ret);
      else if (op.f === "cas") note(valueKey((op.value as unknown[])[1]), op.ret);
      else if (op.f === "delete") note(null, op.ret);
    }
    const acked = kops
      .filter((op) => op.type === "ok" && (op.f === "write" || op.f === "cas" || op.f === "delete"))
      .sort((a, b) => a.ret - b.ret);
    const reads = kops.filter((op) => op.f === "read" && op.type === "ok").sort((a, b) => a.call - b.call);
    // Sweep reads by invoke; writes enter as they complete. A Fenwick tree over writes ranked by invoke answers
    // "how many completed writes were invoked after t" and the earliest completion time among them.
    const byCall = [...acked].sort((a, b) => a.call - b.call);
    const rank = new Map<Op, number>(byCall.map((w, i) => [w, i]));
    const m = byCall.length;
    const count = new Int32Array(m + 1);
    const minNs = new Float64Array(m + 1).fill(Number.POSITIVE_INFINITY);
    // Suffix queries: index i maps to m - i so that a prefix of the tree is a suffix of the invoke order.
    const add = (r: number, ns: number): void => {
      for (let i = m - r; i <= m; i += i & -i) {
        count[i]!++;
        if (ns < minNs[i]!) minNs[i] = ns;
      }
    };
    const query = (fromRank: number): { n: number; ns: number } => {
      let n = 0;
      let ns = Number.POSITIVE_INFINITY;
      for (let i = m - fromRank; i > 0; i -= i & -i) {
        n += count[i]!;
        if (minNs[i]! < ns) ns = minNs[i]!;
      }
      return { n, ns };
    };
    let wi = 0;
    for (const r of reads) {
      const vals = readValues(r);
      if (vals.length > 1) {
        stats.siblingReads++;
        stats.maxSiblings = Math.max(stats.maxSiblings, vals.length);
      }
      while (wi < acked.length && acked[wi]!.ret < r.call) {
        add(rank.get(acked[wi]!)!, acked[wi]!.retNs ?? Number.NaN);
        wi++;
      }
      let writerRet = Number.NEGATIVE_INFINITY;
      let known = false;
      for (const v of vals) {
        const f = freshest.get(valueKey(v));
        if (f === undefined) continue;
        known = true;
        if (f > writerRet) writerRet = f;
      }
      if (!known) continue;
      // First write rank invoked after writerRet.
      let lo = 0;
      let hi = m;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (byCall[mid]!.call > writerRet) hi = mid;
        else lo = mid + 1;
      }
      if (lo >= m) continue;
      const q = query(lo);
      if (q.n === 0) continue;
      stats.staleReads++;
      stats.maxVersionsBehind = Math.max(stats.maxVersionsBehind, q.n);
      if (r.callNs !== undefined && Number.isFinite(q.ns))
        stats.maxMsBehind = Math.max(stats.maxMsBehind, (r.callNs - q.ns) / 1e6);
    }
  }
  return stats;
}
