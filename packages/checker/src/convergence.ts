import { opLabel } from "./explain.js";
import { Findings, type GuaranteeResult, unknownResult } from "./guarantee-result.js";
import { push } from "./multimap.js";
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
