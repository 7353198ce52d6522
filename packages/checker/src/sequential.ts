import { opLabel } from "./explain.js";
import { kvModel } from "./kv-model.js";
import { checkLinearizableSync, type LinearizabilityResult } from "./linearizable.js";
import { LinearizedSet, MemoTable, stateEqual, stateHasher } from "./memo-table.js";
import { type Model, partitionByKey } from "./model.js";
import type { Op } from "./op.js";
import { isRelevant, type SearchLimits } from "./wgl.js";

/** SequentialResult is the sequential-consistency verdict. */
export interface SequentialResult {
  verdict: "ok" | "violation" | "unknown";
  keys: number;
  ops: number;
  seconds: number;
  failingKey?: string;
  explanation?: string;
}

interface SearchOutcome {
  verdict: "ok" | "violation" | "unknown";
  reason?: string;
  deepest: number;
  stuck: Op[];
}

/**
 * searchSequential looks for one total order of the ops that the model accepts and that respects each process's
 * order (Lamport 1979) — not real time. Indeterminate ops may go anywhere after their process's earlier ops, or
 * nowhere. Depth-first, candidates in invoke order (so a history that is close to linearizable is found fast),
 * memoized on (linearized set, state) like the linearizability search.
 */
export function searchSequential<S>(
  ops: readonly Op[],
  model: Model<S>,
  limits: SearchLimits,
): SearchOutcome {
  const rel = (model.prune ? model.prune(ops) : [...ops]).filter(isRelevant).sort((a, b) => a.call - b.call);
  const n = rel.length;
  const procIndex = new Map<number | string, number>();
  const procOf = rel.map((op) => {
    let p = procIndex.get(op.process);
    if (p === undefined) {
      p = procIndex.size;
      procIndex.set(op.process, p);
    }
    return p;
  });
  const P = procIndex.size;
  const dets: number[][] = Array.from({ length: P }, () => []);
  const infos: number[][] = Array.from({ length: P }, () => []);
  for (let i = 0; i < n; i++) (rel[i]!.type === "info" ? infos : dets)[procOf[i]!]!.push(i);
  const ptr = new Int32Array(P);
  const readOnly = rel.map((op) => op.type !== "info" && (model.readOnly?.(op) ?? false));
  let remaining = rel.filter((o) => o.type !== "info").length;
  const set = new LinearizedSet(n);
  const memo = new MemoTable<S>(stateHasher(model.hash), stateEqual(model.equal));

  const candidates = (): number[] => {
    const c: number[] = [];
    for (let p = 0; p < P; p++) {
      const d = dets[p]![ptr[p]!];
      if (d !== undefined) c.push(d);
      for (const i of infos[p]!) {
        if (d !== undefined && i > d) break;
        if (!set.has(i)) c.push(i);
      }
    }
    c.sort((a, b) => a - b);
    // A determinate read-only op that is legal now is taken alone, as in the linearizability search: any order
    // that places it later can move it here (it is its process's next op and changes no state).
    for (const i of c) {
      if (readOnly[i] && model.step(state, rel[i]!).length > 0) return [i];
    }
    return c;
  };

  interface Frame {
    cands: number[];
    ci: number;
    alts: S[] | null;
    ai: number;
    state: S;
  }
  let state = model.init();
  const stack: Frame[] = [{ cands: candidates(), ci: 0, alts: null, ai: 0, state }];
  let deepest = 0;
  let stuck: Op[] = [];
  let iter = 0;
  for (;;) {
    if (remaining === 0) return { verdict: "ok", deepest, stuck };
    if ((++iter & 1023) === 0) {
      if (performance.now() > limits.deadline)
        return { verdict: "unknown", reason: "time limit reached", deepest, stuck };
      if (memo.words > limits.budgetWords)
        return { verdict: "unknown", reason: "memory budget reached", deepest, stuck };
    }
    const f = stack[stack.length - 1]!;
    let advanced = false;
    while (f.ci < f.cands.length && !advanced) {
      const i = f.cands[f.ci]!;
      if (!f.alts) {
        f.alts = model.step(f.state, rel[i]!);
        f.ai = 0;
      }
      while (f.ai < f.alts.length) {
        const s = f.alts[f.ai++]!;
        set.set(i);
        if (memo.add(set, s)) {
          if (rel[i]!.type !== "info") {
            ptr[procOf[i]!]!++;
            remaining--;
          }
          state = s;
          stack.push({ cands: candidates(), ci: 0, alts: null, ai: 0, state });
          if (stack.length - 1 > deepest) deepest = stack.length - 1;
          advanced = true;
          break;
        }
        set.clear(i);
      }
      if (!advanced) {
        f.ci++;
        f.alts = null;
      }
    }
    if (advanced) continue;
    // Dead end: undo the op that led here.
    if (stack.length - 1 === deepest && stuck.length === 0) stuck = f.cands.map((i) => rel[i]!);
    stack.pop();
    const parent = stack[stack.length - 1];
    if (!parent) return { verdict: "violation", deepest, stuck };
    const i = parent.cands[parent.ci]!;
    set.clear(i);
    if (rel[i]!.type !== "info") {
      ptr[procOf[i]!]!--;
      remaining++;
    }
    state = parent.state;
  }
}

/**
 * productModel runs one model per key side by side, for checks that are not compositional (sequential
 * consistency is not local: Herlihy & Wing 1990 §3.4) and so must consider all keys at once.
 */
export function productModel<S>(base: Model<S>, keys: readonly string[]): Model<S[]> {
  const index = new Map(keys.map((k, i) => [k, i]));
  const h = stateHasher(base.hash);
  const eq = stateEqual(base.equal);
  return {
    name: `${base.name}×${keys.length}`,
    init: () => keys.map(() => base.init()),
    step(state, op) {
      const k = index.get(op.key)!;
      return base.step(state[k]!, op).map((s) => {
        const next = state.slice();
        next[k] = s;
        return next;
      });
    },
    hash(state) {
      let x = 0;
      for (let i = 0; i < state.length; i++) x = (Math.imul(x, 31) + h(state[i]!)) | 0;
      return x;
    },
    equal: (a, b) => a.every((s, i) => eq(s, b[i]!)),
    ...(base.readOnly ? { readOnly: (op: Op) => base.readOnly!(op) } : {}),
    ...(base.prune
      ? { prune: (ops: readonly Op[]) => partitionByKey([...ops]).flatMap((part) => base.prune!(part)) }
      : {}),
    describeState: (s) =>
      keys.map((k, i) => `${k}=${base.describeState ? base.describeState(s[i]!) : String(s[i])}`).join(", "),
  };
}

/**
 * checkSequentialSync checks sequential consistency: a linearizable history is sequentially consistent; otherwise
 * each key must have a process-order-respecting order on its own (a necessary condition), and then all keys
 * together (the definition). `linearizable` lets a caller pass a result it already has.
 */
export function checkSequentialSync(
  ops: Op[],
  opts: {
    model?: Model;
    timeLimitMs?: number;
    memoryLimitMb?: number;
    linearizable?: LinearizabilityResult;
  } = {},
): SequentialResult {
  const start = performance.now();
  const model = opts.model ?? kvModel;
  const timeLimitMs = opts.timeLimitMs ?? 60_000;
  const limits: SearchLimits = {
    deadline: start + timeLimitMs,
    budgetWords: ((opts.memoryLimitMb ?? 384) * 2 ** 20) / 4,
  };
  const parts = (model.partition ? model.partition(ops) : [ops])
    .filter((p) => p.length > 0)
    .sort((a, b) => a.length - b.length);
  const done = (r: Omit<SequentialResult, "keys" | "ops" | "seconds">): SequentialResult => ({
    keys: parts.length,
    ops: ops.length,
    seconds: (performance.now() - start) / 1000,
    ...r,
  });
  const lin =
    opts.linearizable ??
    checkLinearizableSync(ops, {
      model,
      timeLimitMs: timeLimitMs / 2,
      ...(opts.memoryLimitMb ? { memoryLimitMb: opts.memoryLimitMb } : {}),
    });
  if (lin.verdict === "ok")
    return done({ verdict: "ok", explanation: "the history is linearizable, hence sequentially consistent" });
  let unknown: string | undefined;
  for (const part of parts) {
    const r = searchSequential(part, model as Model<unknown>, limits);
    const key = part[0]!.key;
    if (r.verdict === "violation") {
      const stuck = r.stuck.slice(0, 4).map((o) => `  ${opLabel(o, model)}`);
      return done({
        verdict: "violation",
        failingKey: key,
        explanation: [
          `key ${JSON.stringify(key)} (${part.length} ops) has no total order that respects each process's order: at most ${r.deepest} op(s) can be ordered; then none of the next ops of each process is legal:`,
          ...stuck,
        ].join("\n"),
      });
    }
    if (r.verdict === "unknown") unknown ??= `key ${JSON.stringify(key)}: ${r.reason}`;
  }
  if (unknown) return done({ verdict: "unknown", explanation: unknown });
  if (parts.length === 1 || !model.partition) return done({ verdict: "ok" });
  const keys = parts.map((p) => p[0]!.key);
  const joint = searchSequential(ops, productModel(model as Model<unknown>, keys), limits);
  if (joint.verdict === "ok") return done({ verdict: "ok" });
  if (joint.verdict === "unknown")
    return done({ verdict: "unknown", explanation: `all keys together: ${joint.reason}` });
  return done({
    verdict: "violation",
    explanation: [
      `each key is sequentially consistent on its own, but there is no single order of all ${ops.length} ops that respects every process's order (sequential consistency is not compositional); at most ${joint.deepest} op(s) can be ordered; stuck at:`,
      ...joint.stuck.slice(0, 4).map((o) => `  ${opLabel(o, model)}`),
    ].join("\n"),
  });
}
