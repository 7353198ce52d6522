import type { Guarantee } from "@consistency-lab/kv";
import { opLabel } from "./explain.js";
import { Findings, type GuaranteeResult, unknownResult } from "./guarantee-result.js";
import type { Op } from "./op.js";
import { isWrite, observed, WriteIndex } from "./write-index.js";

/** Limit on ops × processes for the vector-clock table (Int32 entries) before the check answers unknown. */
const MAX_CELLS = 64 * 2 ** 20;
/** Rounds of forced attribution of reads of absent (each recomputes the causal order). */
const MAX_ROUNDS = 64;
/** Repair rounds of the witness attribution of reads of absent. */
const WITNESS_REPAIRS = 6;

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
 * failed its compare is a read with no read-from edge, an `info` write counts only if some read observed it (then
 * it took effect). With siblings, each returned value is read-from. co = (po ∪ rf)+ is represented by vector
 * clocks (po is a total order per process), so the check is O(ops × processes) instead of a transitive closure.
 *
 * An `info` write may take effect after its process moved on, so it is not program-ordered before the process's
 * later ops: it sits on a chain of its own after the process's earlier ops (Knossos likewise treats the process of
 * an `info` as crashed).
 *
 * Several deletes make reads of absent ambiguous (which delete, or the initial state?). Without guessing: over co
 * built from certain edges only (a subset of co under any attribution), a read whose every candidate source is
 * overwritten in its causal past is a violation, and a read with one fitting source is forced (its edge added, co
 * recomputed, repeated). Violations found with certain and forced edges hold under every attribution. Otherwise
 * the check builds one witness attribution (the initial state when it fits, else a fitting delete, preferring one
 * already in the read's past, then the real-time latest) and repairs it a few times: a witness without bad
 * patterns proves the history causal. If none is found the verdict is `unknown` — as it is for repeated non-null
 * values, which are never attributed.
 */
export function checkCausal(ops: readonly Op[], convergence: boolean): GuaranteeResult {
  const g: Guarantee = convergence ? "causalConvergence" : "causal";
  const idx = new WriteIndex(ops);
  if (idx.hasAppend)
    return unknownResult(
      g,
      "the causal check supports read, write, cas and delete only (the history has appends)",
    );
  const amb = idx.ambiguity(ops, true);
  if (amb) return unknownResult(g, `written values must be unique per key for the causal check: ${amb}`);
  const found = new Findings();

  // Read-from sources that are certain, and reads of absent still to attribute.
  const rfOf = new Map<Op, Op[]>();
  const initReads: Op[] = [];
  const ambiguous: Op[] = [];
  for (const op of ops) {
    const vks = observed(op);
    if (vks.length === 0) continue;
    const srcs: Op[] = [];
    for (const vk of vks) {
      if (vk === null) {
        if (idx.writersOf(op.key, null).length === 0) initReads.push(op);
        else ambiguous.push(op);
        continue;
      }
      const ws = idx.writersOf(op.key, vk);
      if (ws.length === 0) {
        found.add(() => `ThinAirRead: ${opLabel(op)} returns a value no op wrote to that key`);
        continue;
      }
      if (ws[0] !== op) srcs.push(ws[0]!);
    }
    rfOf.set(op, srcs);
  }
  if (found.count > 0) return found.result(g);

  // Nodes: determinate ops in their process's chain. An info write may take effect after its process moved on, so
  // it is not po-before the process's later ops: it gets a chain of its own, after its process's earlier ops. Only
  // info writes some read observed, and info deletes (candidate sources of reads of absent), can matter.
  const certainSources = new Set<Op>();
  for (const srcs of rfOf.values()) for (const w of srcs) certainSources.add(w);
  const isNode = (op: Op): boolean => {
    if (op.type === "ok") return op.error === undefined;
    if (op.type === "fail") return !op.error && op.f === "cas";
    return op.f !== "read" && (certainSources.has(op) || op.f === "delete");
  };
  const nodes = ops.filter(isNode).sort((a, b) => a.call - b.call);
  const n = nodes.length;
  const nodeId = new Map<Op, number>(nodes.map((op, i) => [op, i]));
  const procs = new Map<number | string, number>();
  const proc = new Int32Array(n);
  const pidx = new Int32Array(n);
  const perProc: number[][] = [];
  const detachedPred: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const op = nodes[i]!;
    let p = procs.get(op.process);
    if (p === undefined) {
      p = perProc.length;
      procs.set(op.process, p);
      perProc.push([]);
    }
    if (op.type === "info") {
      const chain = perProc[p]!;
      if (chain.length > 0) detachedPred.push([chain[chain.length - 1]!, i]);
      proc[i] = perProc.length;
      pidx[i] = 0;
      perProc.push([i]);
      continue;
    }
    proc[i] = p;
    pidx[i] = perProc[p]!.length;
    perProc[p]!.push(i);
  }
  const P = perProc.length;
  if (n * P > MAX_CELLS)
    return unknownResult(g, `${n} ops × ${P} processes is beyond the causal check's table limit`);

  const observedWriters = new Set<Op>(certainSources);
  const vc = new Int32Array(n * P);
  let writesBy = new Map<string, number[][]>();

  /** computeCo rebuilds co from the current rf: vector clocks and per-key write lists, or a cycle. */
  const computeCo = (
    rf: Map<Op, Op[]>,
    writers: Set<Op>,
    extra: [number, number][] = [],
  ): number[] | undefined => {
    const preds: number[][] = Array.from({ length: n }, () => []);
    for (const list of perProc) for (let j = 1; j < list.length; j++) preds[list[j]!]!.push(list[j - 1]!);
    for (const [a, b] of detachedPred) preds[b]!.push(a);
    for (const [r, srcs] of rf) {
      const ri = nodeId.get(r);
      if (ri !== undefined) for (const w of srcs) preds[ri]!.push(nodeId.get(w)!);
    }
    for (const [a, b] of extra) preds[b]!.push(a);
    const order = topoOrder(n, preds);
    if (!order.ok) return order.cycle;
    vc.fill(-1);
    for (const i of order.order) {
      const base = i * P;
      for (const j of preds[i]!) {
        const jb = j * P;
        for (let p = 0; p < P; p++) if (vc[jb + p]! > vc[base + p]!) vc[base + p] = vc[jb + p]!;
        if (pidx[j]! > vc[base + proc[j]!]!) vc[base + proc[j]!] = pidx[j]!;
      }
    }
    writesBy = new Map();
    for (let i = 0; i < n; i++) {
      const op = nodes[i]!;
      if (!isWrite(op) || (op.type === "info" && !writers.has(op))) continue;
      let per = writesBy.get(op.key);
      if (!per) {
        per = Array.from({ length: P }, () => []);
        writesBy.set(op.key, per);
      }
      per[proc[i]!]!.push(i);
    }
    return undefined;
  };
  // A cas that failed its compare observed the current value, but the history does not say which: a client that
  // builds its next write's causal context from it (siblings stores do) links writes the checker cannot see. For
  // the hiding rule of multi-value reads, x may be below v when v's process failed a cas on the key after x was
  // invoked and before writing v — then no arbitration constraint is drawn (permissive, never a false violation
  // from the missing link).
  const casFails = new Map<string, number[][]>();
  for (let i = 0; i < n; i++) {
    const op = nodes[i]!;
    if (op.f !== "cas" || op.type !== "fail") continue;
    let per = casFails.get(op.key);
    if (!per) {
      per = Array.from({ length: P }, () => []);
      casFails.set(op.key, per);
    }
    per[proc[i]!]!.push(i);
  }
  const mayHaveSeen = (x: number, v: number): boolean => {
    const fails = casFails.get(nodes[v]!.key)?.[proc[v]!];
    if (!fails) return false;
    for (const c of fails) if (pidx[c]! < pidx[v]! && nodes[c]!.ret > nodes[x]!.call) return true;
    return false;
  };
  /** prevWrite is the write of the same key just before node w in its process's order (-1: none). */
  const prevWrite = (w: number): number => {
    const list = writesBy.get(nodes[w]!.key)?.[proc[w]!];
    if (!list) return -1;
    const at = list.indexOf(w);
    return at > 0 ? list[at - 1]! : -1;
  };
  // vc[i*P+p] = highest po index of process p's ops strictly causally before node i (-1: none).
  const coBefore = (a: number, b: number): boolean => vc[b * P + proc[a]!]! >= pidx[a]!;
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
  /** overwritten: some write of r's key other than `src` is co-after src (or any, for the initial state) and co-before r. */
  const overwritten = (r: number, src: number | undefined): number => {
    for (let p = 0; p < P; p++) {
      const w = lastWriteBefore(nodes[r]!.key, p, vc[r * P + p]!);
      if (w < 0 || w === src) continue;
      if (src === undefined || coBefore(src, w)) return w;
    }
    return -1;
  };
  const cycleText = (cycle: number[]): string =>
    `${cycle.map((i) => opLabel(nodes[i]!)).join(" → ")} → back to the first`;

  /** patterns checks every bad pattern under one read-from attribution; examples go to `into`. */
  const patterns = (rf: Map<Op, Op[]>, inits: readonly Op[], writers: Set<Op>, into: Findings): void => {
    const cycle = computeCo(rf, writers);
    if (cycle) {
      into.add(`CyclicCO: program order and read-from form a cycle: ${cycleText(cycle)}`);
      return;
    }
    for (const r of inits) {
      const w = overwritten(nodeId.get(r)!, undefined);
      if (w >= 0)
        into.add(
          () =>
            `WriteCOInitRead: ${opLabel(r)} returns the initial (absent) value, but ${opLabel(nodes[w]!)} is causally before it`,
        );
    }
    const cf: [number, number][] = [];
    for (const [r, srcs] of rf) {
      const ri = nodeId.get(r);
      if (ri === undefined) continue;
      const returned = srcs.length > 1 ? new Set(srcs.map((w) => nodeId.get(w)!)) : undefined;
      for (const w1op of srcs) {
        const w1 = nodeId.get(w1op)!;
        for (let p = 0; p < P; p++) {
          const w2 = lastWriteBefore(r.key, p, vc[ri * P + p]!);
          if (w2 < 0 || w2 === w1) continue;
          if (coBefore(w1, w2)) {
            into.add(
              () =>
                `WriteCORead: ${opLabel(r)} returns the value of ${opLabel(w1op)}, which was overwritten by ${opLabel(nodes[w2]!)} causally before the read`,
            );
            continue;
          }
          if (!convergence) continue;
          // With siblings (a multi-value read) the returned values are the maximal visible writes: a visible write
          // causally below one of them is hidden by it, not arbitrated; one that is not must be arbitrated before
          // each returned value. Per process, the latest such write stands for the earlier ones (po-before it).
          let x = w2;
          while (x >= 0 && returned?.has(x)) x = prevWrite(x);
          if (x < 0 || x === w1) continue;
          if (returned && [...returned].some((v) => coBefore(x, v) || mayHaveSeen(x, v))) continue;
          cf.push([x, w1]);
        }
      }
    }
    if (into.count > 0 || !convergence) return;
    const cfCycle = computeCo(rf, writers, cf);
    if (cfCycle) {
      into.add(
        `CyclicCF: no single order of the writes agrees with what the reads saw (a read's value must be ordered after the writes in its causal past): ${cycleText(cfCycle)}`,
      );
    }
  };

  // Reads of absent when the key has deletes: attribute the forced ones (see the doc comment). co here is built
  // from certain and forced edges only, a subset of co under any attribution.
  const certainInits = [...initReads];
  const forcedRf = new Map<Op, Op>();
  let tentativeInit: Op[] = [];
  let witnessRf = new Map<Op, Op>();
  let undecided = 0;
  for (let round = 0; ambiguous.length > 0; round++) {
    const cycle = computeCo(rfOf, observedWriters);
    if (cycle) break;
    if (round > MAX_ROUNDS)
      return unknownResult(g, "reads of absent could not be attributed to deletes within the round limit");
    tentativeInit = [];
    witnessRf = new Map();
    undecided = 0;
    let forced = 0;
    for (const r of ambiguous) {
      if (forcedRf.has(r)) continue;
      const ri = nodeId.get(r)!;
      if (overwritten(ri, undefined) < 0) {
        tentativeInit.push(r);
        continue;
      }
      const fits: Op[] = [];
      let inPast: Op | undefined;
      for (const d of idx.writersOf(r.key, null)) {
        const di = nodeId.get(d);
        if (di === undefined || d === r || coBefore(ri, di)) continue;
        if (overwritten(ri, di) < 0) {
          fits.push(d);
          if (coBefore(di, ri)) inPast ??= d;
        }
      }
      if (fits.length === 0) {
        found.add(
          () =>
            `WriteCORead: ${opLabel(r)} returns absent, but the initial state and every delete of the key are overwritten causally before the read`,
        );
      } else if (fits.length === 1 && !inPast) {
        forcedRf.set(r, fits[0]!);
        rfOf.get(r)!.push(fits[0]!);
        observedWriters.add(fits[0]!);
        forced++;
      } else {
        witnessRf.set(r, inPast ?? fits[0]!);
        if (!inPast) undecided++;
      }
    }
    if (found.count > 0) return found.result(g);
    if (forced === 0) break;
  }

  // Violations under certain and forced edges hold under every attribution.
  patterns(rfOf, certainInits, observedWriters, found);
  if (found.count > 0 || ambiguous.length === 0) return found.result(g);
  // Otherwise one witness attribution without violation proves the history causal. Start from the choices above
  // (preferring, among fitting deletes, the latest one invoked before the read completed: the real-time source in a
  // history that is nearly linearizable), then repair choices that the witness's own edges invalidated.
  const choice = new Map<Op, Op | null>();
  for (const r of tentativeInit) choice.set(r, null);
  for (const [r, d] of witnessRf) choice.set(r, d);
  // Preference among fitting deletes, as a real-time guess of the source: strategy 0 takes the latest one completed
  // before the read was invoked, else the latest invoked before it completed (suits CC); strategy 1 the latest by
  // completion among those invoked before the read completed (an arbitration in real-time order, suits CCv).
  const choose = (r: Op, strategy: number): Op | null | undefined => {
    const ri = nodeId.get(r)!;
    if (overwritten(ri, undefined) < 0) return null;
    let best: Op | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const d of idx.writersOf(r.key, null)) {
      const di = nodeId.get(d);
      if (di === undefined || d === r || coBefore(ri, di) || overwritten(ri, di) >= 0) continue;
      const t = Number.isFinite(d.ret) ? d.ret : d.call;
      const score =
        strategy === 0
          ? d.ret < r.call
            ? 2e15 + t
            : d.call < r.ret
              ? 1e15 + d.call
              : -d.call
          : d.call < r.ret
            ? 1e15 + t
            : -d.call;
      if (score > bestScore) {
        best = d;
        bestScore = score;
      }
    }
    return best;
  };
  let witness = new Findings();
  for (let strategy = 0; strategy < 2; strategy++) {
    computeCo(rfOf, observedWriters);
    for (const r of choice.keys()) {
      const c = choose(r, strategy);
      if (c !== undefined) choice.set(r, c);
    }
    for (let repair = 0; repair < WITNESS_REPAIRS; repair++) {
      const rf = new Map([...rfOf].map(([r, srcs]) => [r, [...srcs]]));
      const writers = new Set(observedWriters);
      const inits = [...certainInits];
      for (const [r, d] of choice) {
        if (d === null) inits.push(r);
        else {
          rf.get(r)!.push(d);
          writers.add(d);
        }
      }
      witness = new Findings();
      patterns(rf, inits, writers, witness);
      if (witness.count === 0) {
        const res = found.result(g);
        res.reason = `reads of absent attributed to the initial state or a delete (${forcedRf.size} forced, ${choice.size} chosen)`;
        return res;
      }
      // co is now the witness's (patterns left it computed unless there was a cycle): re-choose what broke.
      if (computeCo(rf, writers)) break;
      let changed = 0;
      for (const [r, d] of choice) {
        const ri = nodeId.get(r)!;
        const bad = d === null ? overwritten(ri, undefined) >= 0 : overwritten(ri, nodeId.get(d)!) >= 0;
        if (!bad) continue;
        const c = choose(r, strategy);
        if (c !== undefined && c !== d) {
          choice.set(r, c);
          changed++;
        }
      }
      if (changed === 0) break;
    }
  }
  return unknownResult(
    g,
    `written values must be unique per key to decide: reads of absent follow several deletes (${undecided} with several possible sources), and no attribution tried passes: ${witness.examples[0]}`,
  );
}

/** topoOrder is Kahn's algorithm over predecessor lists; on a cycle it returns one cycle's nodes. */
function topoOrder(
  n: number,
  preds: number[][],
): { ok: true; order: number[] } | { ok: false; cycle: number[] } {
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
