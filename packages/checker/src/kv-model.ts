import type { Model, Precedence } from "./model.js";
import { partitionByKey } from "./model.js";
import type { Op } from "./op.js";
import { showValue, showValueKey, valueKey } from "./values.js";

/** RegisterState is one key's value as a canonical value key (see valueKey), null when absent. */
export type RegisterState = string | null;

interface Prepared {
  /** write / cas new / append: the value key written. */
  w: string | null;
  /** cas expected. */
  e: string | null;
  /** ok read: the value key read; undefined when the read returned several siblings. */
  r: string | null | undefined;
  siblings: boolean;
}

// Cached on the op under a symbol: the search calls step many times per op, and a WeakMap lookup showed in profiles.
const PREPARED = Symbol("kv-model.prepared");

function prep(op: Op): Prepared {
  const cached = (op as Op & { [PREPARED]?: Prepared })[PREPARED];
  if (cached) return cached;
  let p: Prepared;
  p = { w: null, e: null, r: null, siblings: false };
  switch (op.f) {
    case "read":
      if (op.values && op.values.length > 1) {
        p.siblings = true;
        p.r = undefined;
      } else p.r = valueKey(op.values ? op.values[0] : op.value);
      break;
    case "write":
      p.w = valueKey(op.value);
      break;
    case "cas": {
      const [e, n] = op.value as [unknown, unknown];
      p.e = valueKey(e);
      p.w = valueKey(n);
      break;
    }
    case "append":
      p.w = valueKey(op.value);
      break;
    case "delete":
      break;
  }
  Object.defineProperty(op, PREPARED, { value: p, enumerable: false });
  return p;
}

function appendTo(state: RegisterState, s: string | null): RegisterState | undefined {
  const add = s === null ? "" : showable(s);
  if (add === undefined) return undefined;
  if (state === null) return `"${add}`;
  // Append extends a string value only; appending to a number or object is not defined.
  if (!state.startsWith('"')) return undefined;
  return state + add;
}

function showable(k: string): string | undefined {
  return k.startsWith('"') ? k.slice(1) : undefined;
}

function makeModel(name: "register" | "kv", withAppend: boolean): Model<RegisterState> {
  return {
    name,
    init: () => null,
    step(state, op) {
      const p = prep(op);
      const determinate = op.type !== "info";
      switch (op.f) {
        case "read":
          if (!determinate) return [state];
          // A linearizable register holds one value: a read that returned several siblings cannot be explained.
          if (p.siblings) return [];
          return p.r === state ? [state] : [];
        case "write":
          return [p.w];
        case "delete":
          return [null];
        case "cas":
          if (op.type === "fail") return state === p.e ? [] : [state];
          if (op.type === "ok") return state === p.e ? [p.w] : [];
          // info: it swapped if the compare matched; if not, it changed nothing.
          return [state === p.e ? p.w : state];
        case "append": {
          if (!withAppend) return [];
          const next = appendTo(state, p.w);
          return next === undefined ? [] : [next];
        }
      }
    },
    precedence: (ops) => registerPrecedence(ops),
    prune: (ops) => registerPrune(ops),
    // A read and a cas that failed its compare only observe.
    readOnly: (op) => op.f === "read" || (op.f === "cas" && op.type === "fail"),
    hash: (s) => (s === null ? "\u0000" : s),
    equal: (a, b) => a === b,
    partition: partitionByKey,
    describeOp: describeOp,
    describeState: (s) => showValueKey(s),
  };
}

/**
 * registerPrune drops `info` writes and cas ops whose written value no ok read returns and no cas (ok or info) expects, on a
 * key where no cas failed its compare. Were such an op to take effect, its value would only be seen by writes and
 * deletes (which ignore the state): removing it from any legal order leaves the order legal, and an indeterminate
 * op may always not have happened. Many processes timing out on writes otherwise multiply the search.
 */
function registerPrune(ops: readonly Op[]): Op[] {
  const observed = new Set<string | null>();
  for (const op of ops) {
    if (op.f === "append") return [...ops];
    if (op.f === "cas" && op.type === "fail" && !op.error) return [...ops];
    if (op.type === "fail") continue;
    const p = prep(op);
    if (op.f === "read" && op.type === "ok") {
      if (p.siblings) for (const v of op.values ?? []) observed.add(valueKey(v));
      else observed.add(p.r ?? null);
    } else if (op.f === "cas") {
      // An indeterminate cas expecting the value could have swapped from it: that counts as observing it too.
      observed.add(p.e);
    }
  }
  return ops.filter(
    (op) => !(op.type === "info" && (op.f === "write" || op.f === "cas") && !observed.has(prep(op).w)),
  );
}

/**
 * registerPrecedence: a read observes the value of the last state-changing op linearized before it. When only one op
 * wrote value v (a write, or a cas's new value; ok or info), a read r returning v (or an ok cas expecting v) that
 * began at time t forces that writer w to be linearized after every determinate op X ≠ w that completed before t
 * and is not a read of v: a state-changing X precedes r and w is the last such op before r; a read of another
 * value precedes r, and w after it is the only way for r to see v (v cannot come back once overwritten). Values
 * written several times, absent (several deletes write it) and appends get no constraint.
 */
function registerPrecedence(ops: readonly Op[]): Precedence | undefined {
  const writers = new Map<string, number>();
  const multiple = new Set<string>();
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (op.f === "append") return undefined;
    if (op.type === "fail" || (op.f !== "write" && op.f !== "cas")) continue;
    const w = prep(op).w;
    if (w === null) continue;
    if (writers.has(w)) multiple.add(w);
    else writers.set(w, i);
  }
  const n = ops.length;
  const before = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
  const counted = new Uint8Array(n);
  const exempt = new Int32Array(n);
  // Counted: determinate state-changing ops and ok single-value reads (cas fails observe too little).
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (op.type === "info") continue;
    if (op.f === "read") counted[i] = op.type === "ok" && !prep(op).siblings ? 1 : 0;
    else if (op.f !== "cas" || op.type === "ok") counted[i] = op.type === "ok" ? 1 : 0;
  }
  const readsOf = new Map<number, Op[]>();
  let any = false;
  for (const op of ops) {
    if (op.type !== "ok") continue;
    const p = prep(op);
    const v = op.f === "read" ? p.r : op.f === "cas" ? p.e : undefined;
    if (v === undefined || v === null || multiple.has(v)) continue;
    const w = writers.get(v);
    if (w === undefined || ops[w] === op) continue;
    if (op.f === "read") {
      let l = readsOf.get(w);
      if (!l) {
        l = [];
        readsOf.set(w, l);
      }
      l.push(op);
    }
    if (op.call > before[w]!) {
      before[w] = op.call;
      any = true;
    }
  }
  if (!any) return undefined;
  for (const [w, reads] of readsOf) for (const r of reads) if (r.ret < before[w]!) exempt[w]!++;
  return { before, counted, exempt };
}

/** describeOp renders an op in words, e.g. `p3 cas x [1,2] → ok`. */
export function describeOp(op: Op): string {
  const who = `p${op.process}`;
  const key = op.key === "" ? "" : ` ${op.key}`;
  const outcome =
    op.type === "info"
      ? "info (outcome unknown)"
      : op.type === "fail"
        ? op.error
          ? `fail ${op.error}`
          : "fail"
        : "ok";
  switch (op.f) {
    case "read":
      if (op.type !== "ok") return `${who} read${key} → ${outcome}`;
      return `${who} read${key} → ${op.values ? `siblings [${op.values.map(showValue).join(", ")}]` : showValue(op.value)}`;
    case "write":
      return `${who} write${key} ${showValue(op.value)} → ${outcome}`;
    case "delete":
      return `${who} delete${key} → ${outcome}`;
    case "append":
      return `${who} append${key} ${showValue(op.value)} → ${outcome}`;
    case "cas": {
      const [e, n] = op.value as [unknown, unknown];
      const res = op.type === "fail" && !op.error ? "fail (compare did not match)" : outcome;
      return `${who} cas${key} ${showValue(e)}→${showValue(n)} → ${res}`;
    }
  }
}

/**
 * registerModel is a read / write / cas / delete register per key (partitioned by key). An append is illegal in it;
 * use kvModel for histories with appends. A read with several siblings is illegal: a linearizable register has one
 * value at a time.
 */
export const registerModel: Model<RegisterState> = makeModel("register", false);

/** kvModel is registerModel plus `append` (append to absent = the string itself), partitioned by key. */
export const kvModel: Model<RegisterState> = makeModel("kv", true);

/** builtinModel looks a built-in model up by name ("register" or "kv"). */
export function builtinModel(name: string): Model<RegisterState> | undefined {
  return name === "register" ? registerModel : name === "kv" ? kvModel : undefined;
}
