import type { Guarantee } from "@consistency-lab/kv";
import { opLabel } from "./explain.js";
import { Findings, type GuaranteeResult, unknownResult } from "./guarantee-result.js";
import type { Op } from "./op.js";
import { isWrite, observed, WriteIndex } from "./write-index.js";

/** Limit on ops × processes for the vector-clock table (Int32 entries) before the check answers unknown. */
const MAX_CELLS = 64 * 2 ** 20;

/**
 * checkCausal decides causal consistency (CC) and, with `convergence`, causal convergence (CCv) of a history of
 * reads and writes by searching for the bad patterns of Bouajjani, Enea, Guerraoui & Hamza, "On Verifying Causal
 * Consistency" (POPL'17, Table 2), which are complete for differentiated histories (each value written once per
 * key):
 * - ThinAirRead: a read returns a value nobody wrote;
 * - CyclicCO: program order ∪ read-from (po ∪ rf) is cyclic;
 * - WriteCOInitRead: a read returns the initial value though a write of that key is causally before it;
 * - WriteCORead: a read returns w1 though another write w2 of that key has w1 co w2 co r;
 * - CyclicCF (CCv only): co ∪ cf is cyclic, where w2 cf w1 when some read returns w1 and has w2 in its causal past.
 *
 * Mapping of our ops: delete is a write of "absent", an ok cas is a read of `expected` plus a write, a cas that
 * failed its compare is a read with no read-from edge, an `info` write is included only if some read observed it
 * (then it took effect). With siblings, each returned value is read-from. co = (po ∪ rf)+ is represented by vector
 * clocks (po is a total order per process), so the check is O(ops × processes) instead of a transitive closure.
 */
export function checkCausal(ops: readonly Op[], convergence: boolean): GuaranteeResult {
  const g: Guarantee = convergence ? "causalConvergence" : "causal";
  const idx = new WriteIndex(ops);
  if (idx.hasAppend) return unknownResult(g, "the causal check supports read, write, cas and delete only (the history has appends)");
  const amb = idx.ambiguity(ops);
  if (amb) return unknownResult(g, `written values must be unique per key for the causal check: ${amb}`);
  const found = new Findings();

  // Observed info writes took effect; unobserved ones may never have happened and constrain nothing.
  const observedWriters = new Set<Op>();
  const rfOf = new Map<Op, Op[]>();
  const initReads: Op[] = [];
  for (const op of ops) {
    const vks = observed(op);
    if (vks.length === 0) continue;
    const srcs: Op[] = [];
    for (const vk of vks) {
      if (vk === null) {
        const dels = idx.writersOf(op.key, null);
        if (dels.length === 0) initReads.push(op);
        else srcs.push(dels[0]!);
        continue;
      }
      const ws = idx.writersOf(op.key, vk);
      if (ws.length === 0) {
        found.add(() => `ThinAirRead: ${opLabel(op)} returns a value no op wrote to that key`);
        continue;
      }
      if (ws[0] !== op) srcs.push(ws[0]!);
    }
    for (const w of srcs) observedWriters.add(w);
    rfOf.set(op, srcs);
  }
  if (found.count > 0) return found.result(g);

  const nodes = ops.filter(
    (op) => (op.type === "ok" && op.error === undefined) || (op.type === "fail" && !op.error && op.f === "cas") || observedWriters.has(op),
  );
  nodes.sort((a, b) => a.call - b.call);
  const n = nodes.length;
  const nodeId = new Map<Op, number>(nodes.map((op, i) => [op, i]));
  const procs = new Map<number | string, number>();
  const proc = new Int32Array(n);
  const pidx = new Int32Array(n);
  const perProc: number[][] = [];
  for (let i = 0; i < n; i++) {
    let p = procs.get(nodes[i]!.process);
    if (p === undefined) {
      procs.set(nodes[i]!.process, (p = procs.size));
      perProc.push([]);
    }
    proc[i] = p;
    pidx[i] = perProc[p]!.length;
    perProc[p]!.push(i);
  }
  const P = procs.size;
  if (n * P > MAX_CELLS) return unknownResult(g, `${n} ops × ${P} processes is beyond the causal check's table limit`);

  // Edges of po ∪ rf.
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const list of perProc) for (let j = 1; j < list.length; j++) preds[list[j]!]!.push(list[j - 1]!);
  for (const [r, srcs] of rfOf) {
    const ri = nodeId.get(r);
    if (ri === undefined) continue;
    for (const w of srcs) preds[ri]!.push(nodeId.get(w)!);
  }
  const order = topoOrder(n, preds);
  if (!order.ok) {
    found.add(`CyclicCO: program order and read-from form a cycle: ${order.cycle.map((i) => opLabel(nodes[i]!)).join(" → ")} → back to the first`);
    return found.result(g);
  }

  // vc[i*P+p] = highest po index of process p's ops strictly causally before node i (-1: none).
  const vc = new Int32Array(n * P).fill(-1);
  for (const i of order.order) {
    const base = i * P;
    for (const j of preds[i]!) {
      const jb = j * P;
      for (let p = 0; p < P; p++) if (vc[jb + p]! > vc[base + p]!) vc[base + p] = vc[jb + p]!;
      if (pidx[j]! > vc[base + proc[j]!]!) vc[base + proc[j]!] = pidx[j]!;
    }
  }
  const coBefore = (a: number, b: number): boolean => vc[b * P + proc[a]!]! >= pidx[a]!;

  // Per key, per process: po indexes of writes, ascending.
  const writesBy = new Map<string, number[][]>();
  for (let i = 0; i < n; i++) {
    const op = nodes[i]!;
    if (!isWrite(op) || op.type === "fail") continue;
    let per = writesBy.get(op.key);
    if (!per) writesBy.set(op.key, (per = Array.from({ length: P }, () => [])));
    per[proc[i]!]!.push(i);
  }
  const lastWriteBefore = (key: string, p: number, maxPidx: number): number => {
    const list = writesBy.get(key)?.[p];
    if (!list || maxPidx < 0) return -1;
    let lo = 0;
    let hi = list.length - 1;
    let res = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (pidx[list[mid]!]! <= maxPidx) {
        res = list[mid]!;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return res;
  };

  for (const r of initReads) {
    const ri = nodeId.get(r)!;
    for (let p = 0; p < P; p++) {
      const w = lastWriteBefore(r.key, p, vc[ri * P + p]!);
      if (w >= 0) {
        found.add(() => `WriteCOInitRead: ${opLabel(r)} returns the initial (absent) value, but ${opLabel(nodes[w]!)} is causally before it`);
        break;
      }
    }
  }
  const cf: [number, number][] = [];
  for (const [r, srcs] of rfOf) {
    const ri = nodeId.get(r);
    if (ri === undefined) continue;
    for (const w1op of srcs) {
      const w1 = nodeId.get(w1op)!;
      for (let p = 0; p < P; p++) {
        const w2 = lastWriteBefore(r.key, p, vc[ri * P + p]!);
        if (w2 < 0 || w2 === w1) continue;
        if (coBefore(w1, w2)) {
          found.add(
            () =>
              `WriteCORead: ${opLabel(r)} returns the value of ${opLabel(w1op)}, which was overwritten by ${opLabel(nodes[w2]!)} causally before the read`,
          );
        } else if (convergence) cf.push([w2, w1]);
      }
    }
  }
  if (found.count > 0 || !convergence) return found.result(g);

  for (const [a, b] of cf) preds[b]!.push(a);
  const withCf = topoOrder(n, preds);
  if (!withCf.ok) {
    found.add(
      `CyclicCF: no single order of the writes agrees with what the reads saw (each read's value must be ordered after the writes in its causal past): ${withCf.cycle
        .map((i) => opLabel(nodes[i]!))
        .join(" → ")} → back to the first`,
    );
  }
  return found.result(g);
}

/** topoOrder is Kahn's algorithm over predecessor lists; on a cycle it returns one cycle's nodes. */
function topoOrder(n: number, preds: number[][]): { ok: true; order: number[] } | { ok: false; cycle: number[] } {
  const succs: number[][] = Array.from({ length: n }, () => []);
  const indeg = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (const j of preds[i]!) {
      succs[j]!.push(i);
      indeg[i]!++;
    }
  }
  const order: number[] = [];
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  while (queue.length > 0) {
    const i = queue.pop()!;
    order.push(i);
    for (const s of succs[i]!) if (--indeg[s]! === 0) queue.push(s);
  }
  if (order.length === n) return { ok: true, order };
  // Every remaining node has a remaining predecessor: walk predecessors until a node repeats.
  let x = indeg.findIndex((d) => d > 0);
  const seen = new Map<number, number>();
  const path: number[] = [];
  while (!seen.has(x)) {
    seen.set(x, path.length);
    path.push(x);
    x = preds[x]!.find((j) => indeg[j]! > 0)!;
  }
  return { ok: false, cycle: path.slice(seen.get(x)!).reverse() };
}
