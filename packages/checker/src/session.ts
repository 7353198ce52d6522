import type { Guarantee } from "@consistency-lab/kv";
import { opLabel } from "./explain.js";
import { Findings, type GuaranteeResult, unknownResult } from "./guarantee-result.js";
import { push } from "./multimap.js";
import type { Op } from "./op.js";
import { isWrite, observed, WriteIndex } from "./write-index.js";

/** SessionGuarantee is one of the four session guarantees of Terry et al. (PDIS 1994). */
export type SessionGuarantee = "readYourWrites" | "monotonicReads" | "monotonicWrites" | "writesFollowReads";

/**
 * checkSession checks one session guarantee (Terry, Demers, Petersen, Spreitzer, Theimer, Welch, "Session
 * Guarantees for Weakly Consistent Replicated Data", PDIS 1994), with each process as a session, over a history
 * with unique written values per key.
 *
 * A read r *reflects* a write w of its key when r returns w's value or the value of a write that could be ordered
 * after w, i.e. one that had not completed when w was invoked (`ret(w') > call(w)`; an indeterminate write never
 * completed, so it may be ordered after anything). With siblings, r reflects w if any returned value does. A
 * read of absent reflects w when a delete of the key could be ordered after w. Because `ret(w) > call(w)`, r
 * reflects w iff rank(r) > call(w), rank(r) being the latest completion among the writers of the values it
 * returned — so each obligation is a floor per (session, key).
 *
 * Obligations of a session q for its later reads of key k:
 * - readYourWrites: q's own acknowledged writes of k;
 * - monotonicReads: every write whose value an earlier read of q on k returned;
 * - monotonicWrites: once q has read a value written by w2 of process p, every acknowledged write of p that
 *   completed before w2 was invoked (p's writes are seen in p's order, by everyone);
 * - writesFollowReads: once q has read a value written by w2 of process p, every write whose value p had read
 *   before invoking w2 (w2 is ordered after what its writer had seen).
 */
export function checkSession(ops: readonly Op[], guarantee: SessionGuarantee): GuaranteeResult {
  const idx = new WriteIndex(ops);
  if (idx.hasAppend)
    return unknownResult(
      guarantee,
      "session checks support read, write, cas and delete only (the history has appends)",
    );
  // Reads of absent are attributed to whichever delete is most favourable, so only value reads need uniqueness.
  const amb = idx.ambiguity(ops, true);
  if (amb) return unknownResult(guarantee, `written values must be unique per key: ${amb}`);
  const found = new Findings();
  const sorted = [...ops].sort((a, b) => a.call - b.call);

  // The writers of what a read returned, and its rank (latest possible completion among them).
  const writersOf = (r: Op): { writers: Op[]; rank: number } => {
    let rank = Number.NEGATIVE_INFINITY;
    const writers: Op[] = [];
    for (const vk of observed(r)) {
      const ws = idx.writersOf(r.key, vk);
      if (vk === null) {
        for (const d of ws) if (d.ret > rank) rank = d.ret;
        continue;
      }
      const w = ws[0];
      if (!w) {
        // A value nobody wrote reflects nothing (that anomaly is the causal check's ThinAirRead).
        continue;
      }
      writers.push(w);
      if (w.ret > rank) rank = w.ret;
    }
    return { writers, rank };
  };

  // Per process, what others need for monotonicWrites / writesFollowReads, in completion order.
  const ackedWrites = new Map<number | string, Op[]>();
  const reads = new Map<number | string, { ret: number; w: Op; read: Op }[]>();
  for (const op of sorted) {
    if (op.type !== "ok") continue;
    if (isWrite(op)) push(ackedWrites, op.process, op);
    if (op.f === "read" || op.f === "cas")
      for (const w of writersOf(op).writers) push(reads, op.process, { ret: op.ret, w, read: op });
  }
  for (const l of ackedWrites.values()) l.sort((a, b) => a.ret - b.ret);
  for (const l of reads.values()) l.sort((a, b) => a.ret - b.ret);

  interface Floor {
    call: number;
    w: Op;
    why: string;
  }
  const byProc = new Map<number | string, Op[]>();
  for (const op of sorted) push(byProc, op.process, op);
  for (const [q, list] of byProc) {
    const floors = new Map<string, Floor>();
    const cursor = new Map<number | string, number>();
    const raise = (w: Op, why: string): void => {
      const f = floors.get(w.key);
      if (!f || w.call > f.call) floors.set(w.key, { call: w.call, w, why });
    };
    for (const op of list) {
      if (op.type !== "ok") continue;
      const isRead = op.f === "read" || (op.f === "cas" && op.type === "ok");
      if (isRead) {
        const { writers, rank } = writersOf(op);
        const f = floors.get(op.key);
        if (f && !(rank > f.call)) {
          found.add(
            () =>
              `${label(guarantee)}: ${opLabel(op)} does not reflect ${opLabel(f.w)} (${f.why}): it returns ${
                writers.length > 0
                  ? "a value whose write completed before that write was invoked"
                  : observed(op).some((v) => v !== null)
                    ? "a value no write that may have taken effect wrote (a write recorded as failed, or none)"
                    : "a value older than that write"
              }`,
          );
        }
        if (guarantee === "monotonicReads") for (const w of writers) raise(w, `process ${q} read it earlier`);
        if (guarantee === "monotonicWrites" || guarantee === "writesFollowReads") {
          for (const w2 of writers) {
            const p = w2.process;
            const done = cursor.get(p) ?? 0;
            if (guarantee === "monotonicWrites") {
              const ws = ackedWrites.get(p) ?? [];
              let c = done;
              for (; c < ws.length && ws[c]!.ret < w2.call; c++) {
                raise(ws[c]!, `process ${q} saw ${opLabel(w2)}, a later write of the same process`);
              }
              if (c > done) cursor.set(p, c);
            } else {
              const rs = reads.get(p) ?? [];
              let c = done;
              for (; c < rs.length && rs[c]!.ret < w2.call; c++) {
                raise(rs[c]!.w, `process ${q} saw ${opLabel(w2)}, written after its writer had read it`);
              }
              if (c > done) cursor.set(p, c);
            }
          }
        }
      }
      if (guarantee === "readYourWrites" && isWrite(op) && op.f !== "append")
        raise(op, `process ${q}'s own earlier write`);
    }
  }
  return found.result(guarantee);
}

function label(g: SessionGuarantee): string {
  return {
    readYourWrites: "read-your-writes",
    monotonicReads: "monotonic reads",
    monotonicWrites: "monotonic writes",
    writesFollowReads: "writes-follow-reads",
  }[g];
}

/** SESSION_GUARANTEES lists the four session guarantees in the order reports show them. */
export const SESSION_GUARANTEES: readonly (SessionGuarantee & Guarantee)[] = [
  "readYourWrites",
  "monotonicReads",
  "monotonicWrites",
  "writesFollowReads",
];
