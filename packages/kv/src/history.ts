/**
 * The history format (ARCHITECTURE §4): JSON Lines, one event per line, Jepsen-shaped.
 * Written by the simulator, the client recorder and the bench; read by the checker.
 */
export type HistoryType = "invoke" | "ok" | "fail" | "info";
export type HistoryF = "read" | "write" | "cas" | "delete" | "append";

export interface HistoryEvent {
  process: number | string;
  type: HistoryType;
  f: HistoryF;
  /** Absent means one single register. */
  key?: string;
  /** write: value; read ok: value read (null if absent); cas: [expected, new]; append: string; delete: null. */
  value?: unknown;
  /** A read that returned several siblings. */
  values?: unknown[];
  /** Monotonic nanoseconds. */
  time?: number;
  /** KvError code of a refused op. */
  error?: string;
  node?: string;
  session?: string;
  meta?: Record<string, unknown>;
}

/** Maps a KV op to the history's `f`. */
export const OP_TO_F = { get: "read", put: "write", delete: "delete", cas: "cas" } as const;

/** formatEvent renders one event as a JSON line (without the newline), fields in a stable order. */
export function formatEvent(e: HistoryEvent): string {
  const o: Record<string, unknown> = { process: e.process, type: e.type, f: e.f };
  if (e.key !== undefined) o.key = e.key;
  if (e.values !== undefined) o.values = e.values;
  else if (e.value !== undefined) o.value = e.value;
  if (e.time !== undefined) o.time = e.time;
  if (e.error !== undefined) o.error = e.error;
  if (e.node !== undefined) o.node = e.node;
  if (e.session !== undefined) o.session = e.session;
  if (e.meta !== undefined) o.meta = e.meta;
  return JSON.stringify(o);
}
