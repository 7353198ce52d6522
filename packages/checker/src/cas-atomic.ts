import { opLabel } from "./explain.js";
import { Findings, type GuaranteeResult } from "./guarantee-result.js";
import { push } from "./multimap.js";
import type { Op } from "./op.js";
import { valueKey } from "./values.js";

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
