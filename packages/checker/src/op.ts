import type { HistoryF } from "@consistency-lab/kv";

/**
 * Op is one operation of a history: an invoke paired with its completion (ARCHITECTURE §4).
 *
 * `call` and `ret` are positions on one timeline (the event order of the history, which is real-time order), so
 * `a.ret < b.call` means a completed before b was invoked. `ret` is `Infinity` for an `info` op or one that never
 * completed: such an op may take effect at any moment after its invoke, or never.
 */
export interface Op {
  /** Position of the op in the parsed history (0-based, in invoke order). */
  index: number;
  process: number | string;
  f: HistoryF;
  /** "" when the history has no key (one single register). */
  key: string;
  /**
   * The op's argument (from its invoke) — write: the value; cas: `[expected, new]`; append: the string; delete:
   * null — or, for an `ok` read, the value read (null when absent).
   */
  value: unknown;
  /** An `ok` read that returned several siblings. */
  values?: unknown[];
  /** `info` also stands for an invoke that never completed. */
  type: "ok" | "fail" | "info";
  /** Invoke position on the history timeline. */
  call: number;
  /** Completion position; Infinity when the op is indeterminate. */
  ret: number;
  /** Invoke time in nanoseconds, when the history records `time`. */
  callNs?: number;
  /** Completion time in nanoseconds (absent for indeterminate ops or when the history has no `time`). */
  retNs?: number;
  /** KvError code of a refused op: a `fail` with an error constrains nothing. */
  error?: string;
  /** The node that served the op, when recorded. */
  node?: string;
  session?: string;
  /** A final (quiescent) read, from `meta.final` (or a top-level `final`). */
  final?: boolean;
  /** 1-based line of the invoke. */
  invokeLine: number;
  /** 1-based line of the completion, when there is one. */
  completeLine?: number;
  meta?: Record<string, unknown>;
}

/** isIndeterminate says whether an op's outcome is unknown (an `info`, or an invoke that never completed). */
export function isIndeterminate(op: Op): boolean {
  return op.type === "info";
}

/** readValues lists the values an `ok` read returned: its siblings, or its one value (null = absent). */
export function readValues(op: Op): unknown[] {
  return op.values ?? [op.value];
}
