import { LinearizedSet, MemoTable, stateEqual, stateHasher } from "./memo-table.js";
import type { Model } from "./model.js";
import type { Op } from "./op.js";

/**
 * PartitionOutcome is the result of checking one partition (one key), in plain data so it can cross a worker
 * boundary. Op references are positions in the partition's op array as it was passed in.
 */
export interface PartitionOutcome {
  key: string;
  ops: number;
  verdict: "ok" | "violation" | "unknown";
  /** Why the verdict is unknown (time limit, memory budget). */
  reason?: string;
  seconds: number;
  /** Configurations explored (memo-table entries). */
  explored: number;
  /** Violation: the longest linearizable prefix found, in linearization order. */
  prefix?: number[];
  /** The model state after each op of `prefix`, as described by the model. */
  prefixStates?: string[];
  /** The initial state, described. */
  initState?: string;
  /** Violation: the op that had to take effect (its completion was reached) but could not. */
  blocking?: number;
  /** Violation: the pending ops that could have been next after the prefix and were tried. */
  candidates?: number[];
  /** Violation: those candidates the model rejects in the state after the prefix. */
  illegal?: number[];
  /** ok: a full linearization of the determinate ops (plus the indeterminate ones that took effect). */
  linearization?: number[];
  linearizationStates?: string[];
}

/** SearchLimits bound one search. */
export interface SearchLimits {
  /** performance.now() deadline. */
  deadline: number;
  /** Memo-table budget in 32-bit words. */
  budgetWords: number;
  /** Return the linearization found (with described states) when ok, for reports. */
  keepLinearization?: boolean;
}

/**
 * relevantOps keeps the ops that constrain or may change the state (ARCHITECTURE §4): a `fail` with an error did
 * not happen; a `fail` read/write/delete/append did not take effect and observed nothing; an `info` read changed
 * nothing. A cas `fail` without error stays: it observed that the value differed from `expected`.
 */
export function isRelevant(op: Op): boolean {
  if (op.type === "fail") return !op.error && op.f === "cas";
  if (op.type === "info") return op.f !== "read";
  return true;
}

/**
 * checkPartitionLinearizable is the Wing & Gong search with Lowe's memoization, structured as in Porcupine's
 * checkSingle: the calls and returns sit in one time-ordered doubly linked list; at a call we try to linearize the
 * op (lift its call and return out of the list) and restart from the head; reaching a return means that op should
 * already have been linearized, so we backtrack. A configuration (linearized set, state) already explored is not
 * explored again. Indeterminate ops have no return entry: they may be linearized at any point after their call,
 * or never, so the search succeeds once every determinate op is linearized.
 */
export function checkPartitionLinearizable<S>(
  partition: readonly Op[],
  model: Model<S>,
  limits: SearchLimits,
  usePrecedence = true,
): PartitionOutcome {
  const search = searchPartition(partition, model, limits, usePrecedence);
  for (;;) {
    const step = search.next();
    if (step.done) return step.value;
  }
}

/** SLICE is how many search steps searchPartition takes between two yields (and time/memory checks). */
export const SLICE = 1024;

/**
 * searchPartition is checkPartitionLinearizable as a resumable search: it yields every SLICE steps, so that the
 * keys of a history can be searched side by side and the check can stop at the first key that is not
 * linearizable (linearizable.ts), and returns the outcome.
 */
export function* searchPartition<S>(
  partition: readonly Op[],
  model: Model<S>,
  limits: SearchLimits,
  usePrecedence = true,
): Generator<void, PartitionOutcome, void> {
  const t0 = performance.now();
  const key = partition[0]?.key ?? "";
  const positions: number[] = [];
  const kept = model.prune ? new Set(model.prune(partition)) : undefined;
  for (let i = 0; i < partition.length; i++) {
    if (isRelevant(partition[i]!) && (!kept || kept.has(partition[i]!))) positions.push(i);
  }
  positions.sort((a, b) => partition[a]!.call - partition[b]!.call || a - b);
  const ops = positions.map((p) => partition[p]!);
  const n = ops.length;
  const det = ops.map((op) => op.type !== "info");
  let remaining = det.filter(Boolean).length;

  // Node 0 is the head sentinel; op i has call node 2i+1 and (when determinate) return node 2i+2.
  const nodes: number[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(2 * i + 1);
    if (det[i]) nodes.push(2 * i + 2);
  }
  const timeOf = (node: number): number => {
    const op = ops[(node - 1) >> 1]!;
    return node & 1 ? op.call : op.ret;
  };
  // Closed intervals: on equal times calls come first, so touching ops count as concurrent.
  nodes.sort((a, b) => timeOf(a) - timeOf(b) || (b & 1) - (a & 1) || a - b);
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = 0;
  for (const node of nodes) {
    next[last] = node;
    prev[node] = last;
    last = node;
  }

  const unlink = (x: number): void => {
    next[prev[x]!] = next[x]!;
    if (next[x] !== -1) prev[next[x]!] = prev[x]!;
  };
  const relink = (x: number): void => {
    next[prev[x]!] = x;
    if (next[x] !== -1) prev[next[x]!] = x;
  };
  const lift = (i: number): void => {
    unlink(2 * i + 1);
    if (det[i]) unlink(2 * i + 2);
    if (scRank[i]! >= 0) fenAdd(scRank[i]!, 1);
  };
  const unlift = (i: number): void => {
    if (det[i]) relink(2 * i + 2);
    relink(2 * i + 1);
    if (scRank[i]! >= 0) fenAdd(scRank[i]!, -1);
  };

  // Precedence pruning (Model.precedence): op i waits until the counted ops that completed before before[i] are
  // linearized, save exempt[i] of them; a Fenwick tree over counted ops in completion order counts the linearized.
  const prec = usePrecedence ? model.precedence?.(ops) : undefined;
  const T = prec?.before;
  const scRank = new Int32Array(n).fill(-1);
  const need = new Int32Array(n);
  const prefixLen = new Int32Array(n);
  const fen = new Int32Array(n + 1);
  if (prec) {
    const sc: number[] = [];
    for (let i = 0; i < n; i++) if (prec.counted[i]) sc.push(i);
    sc.sort((a, b) => ops[a]!.ret - ops[b]!.ret);
    sc.forEach((i, r) => {
      scRank[i] = r;
    });
    for (let i = 0; i < n; i++) {
      const t = prec.before[i]!;
      if (t === Number.NEGATIVE_INFINITY) continue;
      let lo = 0;
      let hi = sc.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ops[sc[mid]!]!.ret < t) lo = mid + 1;
        else hi = mid;
      }
      prefixLen[i] = lo;
      need[i] = lo - prec.exempt[i]! - (scRank[i]! >= 0 && scRank[i]! < lo ? 1 : 0);
    }
  }
  const fenAdd = (r: number, d: number): void => {
    for (let x = r + 1; x <= n; x += x & -x) fen[x]! += d;
  };
  const fenPrefix = (k: number): number => {
    let sum = 0;
    for (let x = k; x > 0; x -= x & -x) sum += fen[x]!;
    return sum;
  };
  const mayLinearize = (i: number): boolean => need[i]! <= 0 || fenPrefix(prefixLen[i]!) >= need[i]!;

  const set = new LinearizedSet(n);
  const memo = new MemoTable<S>(stateHasher(model.hash), stateEqual(model.equal));
  const describe = (s: S): string =>
    model.describeState ? model.describeState(s) : (JSON.stringify(s) ?? String(s));
  interface Frame {
    i: number;
    prevState: S;
    alts: S[];
    alt: number;
    /** A read-only op linearized as soon as it was legal: no alternative order needs trying (see below). */
    greedy: boolean;
  }
  const stack: Frame[] = [];
  const readOnly = ops.map((op) => op.type !== "info" && (model.readOnly?.(op) ?? false));
  let state = model.init();
  const init = state;
  let cur = next[0]!;
  let resumeAlts: S[] | null = null;
  let startAlt = 0;
  let iter = 0;
  let bestDepth = -1;
  let best: { state: S; blocking: number; candidates: number[] } | undefined;
  const bestOps: number[] = [];
  const bestStates: S[] = [];
  let low = 0;
  const described = (): Pick<
    PartitionOutcome,
    "prefix" | "prefixStates" | "blocking" | "candidates" | "illegal"
  > =>
    best
      ? {
          prefix: bestOps.map((i) => positions[i]!),
          prefixStates: bestStates.map(describe),
          blocking: positions[best.blocking]!,
          candidates: best.candidates.map((c) => positions[c]!),
          illegal: best.candidates
            .filter((c) => model.step(best!.state, ops[c]!).length === 0)
            .map((c) => positions[c]!),
        }
      : {};

  const finish = (
    verdict: PartitionOutcome["verdict"],
    extra: Partial<PartitionOutcome>,
  ): PartitionOutcome => ({
    key,
    ops: partition.length,
    verdict,
    seconds: (performance.now() - t0) / 1000,
    explored: memo.entries,
    initState: describe(init),
    ...extra,
  });

  // Precedence pruning cuts the search short of the prefixes a reader expects ("write 1, write 2, read 1" cannot
  // even start), so a violation is explained by a search without it, when that ends in time.
  const violation = (): PartitionOutcome => {
    if (T) {
      const plain = checkPartitionLinearizable(partition, model, limits, false);
      // ("ok" cannot happen if the pruning is sound; should it, the unpruned answer is the one to trust.)
      if (plain.verdict !== "unknown") return { ...plain, seconds: (performance.now() - t0) / 1000 };
    }
    return finish("violation", described());
  };

  /** backtrack undoes the last choice that has an alternative; false when there is none left. */
  const backtrack = (): boolean => {
    for (;;) {
      const frame = stack.pop();
      if (!frame) return false;
      if (stack.length < low) low = stack.length;
      state = frame.prevState;
      set.clear(frame.i);
      unlift(frame.i);
      if (det[frame.i]) remaining++;
      if (frame.greedy) continue;
      cur = 2 * frame.i + 1;
      resumeAlts = frame.alts;
      startAlt = frame.alt + 1;
      return true;
    }
  };

  for (;;) {
    if (remaining === 0) {
      if (!limits.keepLinearization) return finish("ok", {});
      return finish("ok", {
        linearization: stack.map((f) => positions[f.i]!),
        linearizationStates: stack.map((f) => describe(f.alts[f.alt]!)),
      });
    }
    if (++iter % SLICE === 0) {
      yield;
      if (performance.now() > limits.deadline) {
        return finish("unknown", {
          reason: `time limit reached after exploring ${memo.entries} configurations`,
          ...described(),
        });
      }
      if (memo.words > limits.budgetWords) {
        return finish("unknown", {
          reason: `memory budget reached (${Math.round((memo.words * 4) / 2 ** 20)} MB of memo table)`,
          ...described(),
        });
      }
    }
    if (cur === -1) {
      // Unreachable while a determinate op remains (its return is still in the list); kept as a guard.
      throw new Error("linearizability search ran off the end of the history");
    }
    if (cur & 1) {
      const i = (cur - 1) >> 1;
      if (resumeAlts === null && !mayLinearize(i)) {
        cur = next[cur]!;
        continue;
      }
      if (readOnly[i]) {
        // A determinate op that never changes the state (a read, a cas that failed its compare), legal now, can be
        // linearized now: any completion that places it later stays a completion with it moved here (ops that
        // returned before its call are all linearized already). So configuration C fails iff C+op fails — take it
        // greedily, never try it elsewhere, and if C+op was already explored (and failed), C fails too.
        if (model.step(state, ops[i]!).length === 0) {
          cur = next[cur]!;
          continue;
        }
        set.set(i);
        if (memo.add(set, state)) {
          stack.push({ i, prevState: state, alts: [state], alt: 0, greedy: true });
          lift(i);
          remaining--;
          cur = next[0]!;
          continue;
        }
        set.clear(i);
        if (!backtrack()) return violation();
        continue;
      }
      const alts = resumeAlts ?? model.step(state, ops[i]!);
      let moved = false;
      for (let a = startAlt; a < alts.length; a++) {
        set.set(i);
        if (memo.add(set, alts[a]!)) {
          stack.push({ i, prevState: state, alts, alt: a, greedy: false });
          state = alts[a]!;
          lift(i);
          if (det[i]) remaining--;
          cur = next[0]!;
          moved = true;
          break;
        }
        set.clear(i);
      }
      resumeAlts = null;
      startAlt = 0;
      if (!moved) cur = next[cur]!;
      continue;
    }
    // A return: its op must have been linearized before this point, so the last choice was wrong.
    if (stack.length > bestDepth) {
      // Raw snapshot only (described when the verdict is known). Only the part of the stack that changed since the
      // last snapshot is copied (`low` is the lowest the stack went since), so snapshots cost O(pushes) overall.
      bestDepth = stack.length;
      bestOps.length = low;
      bestStates.length = low;
      for (let j = low; j < stack.length; j++) {
        bestOps.push(stack[j]!.i);
        bestStates.push(stack[j]!.alts[stack[j]!.alt]!);
      }
      low = stack.length;
      const candidates: number[] = [];
      for (let x = next[0]!; x !== cur && x !== -1; x = next[x]!) if (x & 1) candidates.push((x - 1) >> 1);
      const blocking = (cur - 2) >> 1;
      if (!candidates.includes(blocking)) candidates.push(blocking);
      best = { state, blocking, candidates };
    }
    if (!backtrack()) return violation();
  }
}
