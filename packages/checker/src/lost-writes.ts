import { closingReads, valueSet } from "./convergence.js";
import { opLabel } from "./explain.js";
import { Findings, type GuaranteeResult, unknownResult } from "./guarantee-result.js";
import { push } from "./multimap.js";
import type { Op } from "./op.js";
import { readValues } from "./op.js";
import { valueKey } from "./values.js";

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
