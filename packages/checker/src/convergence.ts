import { opLabel } from "./explain.js";
import { Findings, type GuaranteeResult, unknownResult } from "./guarantee-result.js";
import type { Op } from "./op.js";
import { readValues } from "./op.js";
import { showValueKey, valueKey } from "./values.js";
import { isWrite } from "./write-index.js";

/**
 * closingReads picks, per key, the reads that show where replicas ended up: the `final` reads when the history
 * has any; otherwise, per node (or process when no node is recorded), the last ok read of the key invoked after
 * the last write to that key completed. A key with no such read is left out.
 */
export function closingReads(ops: readonly Op[]): Map<string, Op[]> {
  const out = new Map<string, Op[]>();
  const finals = ops.filter((op) => op.final && op.f === "read" && op.type === "ok");
  if (finals.length > 0) {
    for (const r of finals) push(out, r.key, r);
    return out;
  }
  // The last moment an acknowledged write of the key ended.
  const lastWriteEnd = new Map<string, number>();
  for (const op of ops) {
    if (!isWrite(op) || op.type !== "ok") continue;
    if (op.ret > (lastWriteEnd.get(op.key) ?? Number.NEGATIVE_INFINITY)) lastWriteEnd.set(op.key, op.ret);
  }
  const last = new Map<string, Op>();
  for (const op of ops) {
    if (op.f !== "read" || op.type !== "ok") continue;
    if (op.call < (lastWriteEnd.get(op.key) ?? Number.NEGATIVE_INFINITY)) continue;
    const where = `${op.key}\u0000${op.node ?? `process ${String(op.process)}`}`;
    const prev = last.get(where);
    if (!prev || op.call > prev.call) last.set(where, op);
  }
  for (const r of last.values()) push(out, r.key, r);
  return out;
}

/** valueSet renders the set of values a read returned, order-insensitive. */
export function valueSet(r: Op): string {
  return readValues(r)
    .map((v) => showValueKey(valueKey(v)))
    .sort()
    .join(", ");
}

/**
 * checkConvergence checks that replicas converge (eventual consistency's safety half, as in Jepsen's final
 * reads): all closing reads of a key (see closingReads) return the same set of values. `unknown` when no key has
 * a closing read. Writes whose outcome is unknown (info) are ignored when choosing the cut-off, since they may
 * never complete; a late info write can make honest replicas disagree, which is reported, not excused.
 */
export function checkConvergence(ops: readonly Op[]): GuaranteeResult {
  const closing = closingReads(ops);
  if (closing.size === 0) {
    return unknownResult(
      "convergence",
      "no final reads (meta.final) and no read after the last write of any key",
    );
  }
  const found = new Findings();
  for (const [key, reads] of closing) {
    const sets = new Map<string, Op>();
    for (const r of reads) if (!sets.has(valueSet(r))) sets.set(valueSet(r), r);
    if (sets.size > 1) {
      found.add(
        () =>
          `key ${JSON.stringify(key)} did not converge: ${[...sets]
            .slice(0, 3)
            .map(
              ([vs, r]) =>
                `${r.node ? `node ${r.node}` : `process ${String(r.process)}`} reads {${vs}} (${opLabel(r)})`,
            )
            .join("; ")}`,
      );
    }
  }
  const res = found.result("convergence");
  res.reason = `${closing.size} key(s) with closing reads`;
  return res;
}

/**
 * checkNoLostWrites finds acknowledged writes that are lost: a closing read of the key returns neither the write's
 * value nor a value whose write could be ordered after it (not completed before the lost write was invoked), nor
 * absent explained by a delete that could be ordered after it. Writes are ok `write`, ok `cas` (its new value) and
 * ok `append` (its string must appear in the value read). Only writes acknowledged before the read was invoked are required.
 */
export function checkNoLostWrites(ops: readonly Op[]): GuaranteeResult {
  const closing = closingReads(ops);
  if (closing.size === 0)
    return unknownResult("noLostWrites", "no final reads and no read after the last write of any key");
  const found = new Findings();
  const byKey = new Map<string, Op[]>();
  for (const op of ops) push(byKey, op.key, op);
  for (const [key, reads] of closing) {
    const kops = byKey.get(key) ?? [];
    const writers = new Map<string | null, Op[]>();
    for (const op of kops) {
      if (op.type === "fail") continue;
      if (op.f === "write" || op.f === "cas" || op.f === "delete") {
        const vk =
          op.f === "write"
            ? valueKey(op.value)
            : op.f === "cas"
              ? valueKey((op.value as unknown[])[1])
              : null;
        push(writers, vk, op);
      }
    }
    const acked = kops.filter(
      (op) => op.type === "ok" && (op.f === "write" || op.f === "cas" || op.f === "append"),
    );
    const lost = new Set<Op>();
    for (const r of reads) {
      const vks = readValues(r).map(valueKey);
      let rank = Number.NEGATIVE_INFINITY;
      const returned = new Set<Op>();
      for (const vk of vks) {
        for (const w of writers.get(vk) ?? []) {
          returned.add(w);
          if (w.ret > rank) rank = w.ret;
        }
      }
      for (const w of acked) {
        if (lost.has(w) || !(w.ret < r.call)) continue;
        if (w.f === "append") {
          const s = String(w.value);
          if (!readValues(r).some((v) => typeof v === "string" && v.includes(s))) lost.add(w);
          continue;
        }
        if (returned.has(w) || rank > w.call) continue;
        lost.add(w);
        found.add(
          () =>
            `lost write: ${opLabel(w)} was acknowledged, but the closing ${opLabel(r)} returns {${valueSet(r)}}, written ${
              returned.size === 0
                ? "by no op that could follow it"
                : "by op(s) that completed before it was invoked"
            }`,
        );
      }
    }
  }
  return found.result("noLostWrites");
}

/**
 * checkCasAtomic checks that no two ok cas ops on a key swapped from the same occurrence of a value. Each time a
 * value is put in place (a write or cas writing it, a delete or the initial state for absent; ok or info) it can
 * be swapped away by at most one successful cas; a cas can use an occurrence put in place by an op invoked before
 * the cas completed. Claims are matched to occurrences greedily in completion order, which is optimal because
 * the constraint is a threshold on time. Unmatched claims are duplicate claims.
 */
export function checkCasAtomic(ops: readonly Op[]): GuaranteeResult {
  const found = new Findings();
  const claims = new Map<string, Op[]>();
  const producers = new Map<string, number[]>();
  const slot = (key: string, vk: string | null): string => `${key}\u0000${vk ?? "\u0001absent"}`;
  const keys = new Set<string>();
  for (const op of ops) {
    keys.add(op.key);
    if (op.type === "fail") continue;
    if (op.f === "cas") {
      const [e, nv] = op.value as [unknown, unknown];
      if (op.type === "ok") push(claims, slot(op.key, valueKey(e)), op);
      push(producers, slot(op.key, valueKey(nv)), op.call);
    } else if (op.f === "write") push(producers, slot(op.key, valueKey(op.value)), op.call);
    else if (op.f === "delete") push(producers, slot(op.key, null), op.call);
  }
  for (const k of keys) push(producers, slot(k, null), Number.NEGATIVE_INFINITY);
  for (const [s, cs] of claims) {
    if (cs.length < 2) continue;
    cs.sort((a, b) => a.ret - b.ret);
    const ps = (producers.get(s) ?? []).sort((a, b) => a - b);
    let available = 0;
    let pi = 0;
    const used: Op[] = [];
    for (const c of cs) {
      while (pi < ps.length && ps[pi]! < c.ret) {
        pi++;
        available++;
      }
      if (available > 0) {
        available--;
        used.push(c);
      } else {
        const other = used[used.length - 1];
        found.add(
          () =>
            `duplicate cas claim: ${opLabel(c)} swapped from a value that ${other ? `${opLabel(other)} had already swapped away` : "was already consumed"}, and no op put it back in between`,
        );
      }
    }
  }
  return found.result("casAtomic");
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  let l = m.get(k);
  if (!l) {
    l = [];
    m.set(k, l);
  }
  l.push(v);
}
