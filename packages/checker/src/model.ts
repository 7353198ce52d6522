import type { Op } from "./op.js";

/**
 * Model is a sequential specification, a plain object of functions (Porcupine's shape): the checker searches for
 * an order of the ops that the model accepts. `step` returns every legal next state (several for a
 * nondeterministic model, none when the op is illegal in `state`) and must not mutate `state`.
 *
 * `step` is called for determinate ops (`ok`, and a cas `fail` without error, which observed a mismatch) and for
 * indeterminate ones (`info`): for those the model must accept any outcome and return the states the op may leave.
 */
export interface Model<S = unknown> {
  name: string;
  init(): S;
  step(state: S, op: Op): S[];
  /** A hash consistent with `equal`; defaults to hashing a string/number state or its JSON. */
  hash?(s: S): string | number;
  /** Defaults to `===` for primitives, JSON equality otherwise. */
  equal?(a: S, b: S): boolean;
  /** Splits a history into independent parts (P-compositionality): a history is linearizable iff each part is. */
  partition?(ops: Op[]): Op[][];
  /**
   * Says that a determinate op never changes the state (its legal steps, if any, return the state unchanged), e.g. a
   * read. The search then linearizes it as soon as it is legal without branching, which removes the blow-up from
   * many concurrent reads. Must not be true for an op that changes the state in some state.
   */
  readOnly?(op: Op): boolean;
  /**
   * Derived real-time constraints that prune the search (optional, must be sound). For each op i of `ops`:
   * `before[i]` is a time such that op i can only be linearized after every `counted` op that completed before
   * that time, except `exempt[i]` of them (ops that cannot precede i, which the model guarantees are not linearized
   * before i either). For a register with unique values: a write whose value is read at time t follows every write
   * and every read of another value that completed before t. -Infinity means no constraint.
   */
  precedence?(ops: readonly Op[]): Precedence | undefined;
  /**
   * Drops ops whose taking effect can never be needed to explain the rest (optional, must be sound): only
   * indeterminate ops, which may always be treated as never having happened. The register models drop an `info`
   * write or cas whose value nobody observed, when no failed cas on the key could have relied on it.
   */
  prune?(ops: readonly Op[]): Op[];
  describeOp?(op: Op): string;
  describeState?(s: S): string;
}

/** Precedence is what Model.precedence returns (see there). */
export interface Precedence {
  before: Float64Array;
  counted: Uint8Array;
  exempt: Int32Array;
}

/** partitionByKey groups ops by key, keys in order of first appearance (P-compositionality, Horn & Kroening 2015). */
export function partitionByKey(ops: Op[]): Op[][] {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
  }
  return [...byKey.values()];
}
