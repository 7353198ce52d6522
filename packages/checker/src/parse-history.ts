import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { HistoryEvent, HistoryF } from "@consistency-lab/kv";
import { HistoryError } from "./history-error.js";
import type { Op } from "./op.js";

const TYPES = new Set(["invoke", "ok", "fail", "info"]);
const FS = new Set<HistoryF>(["read", "write", "cas", "delete", "append"]);

/**
 * HistoryParser turns history events into ops, one event at a time, so that a file can be streamed line by line
 * (ARCHITECTURE §4). It keeps only the ops themselves and one in-flight op per process.
 */
export class HistoryParser {
  private readonly ops: Op[] = [];
  private readonly inFlight = new Map<number | string, Op>();
  private position = 0;

  /** line parses one JSON line; blank lines are skipped. */
  line(text: string, line: number): void {
    const t = text.trim();
    if (t === "") return;
    let e: unknown;
    try {
      e = JSON.parse(t);
    } catch (err) {
      throw new HistoryError(line, `bad JSON: ${(err as Error).message}`);
    }
    this.event(e, line);
  }

  /** event adds one decoded event; `line` names it in errors. */
  event(raw: unknown, line: number): void {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new HistoryError(line, "an event must be a JSON object");
    }
    const e = raw as HistoryEvent & { final?: unknown };
    if (typeof e.process !== "number" && typeof e.process !== "string") {
      throw new HistoryError(line, `"process" must be a number or a string`);
    }
    if (!TYPES.has(e.type)) throw new HistoryError(line, `unknown type ${JSON.stringify(e.type)}`);
    if (!FS.has(e.f)) throw new HistoryError(line, `unknown f ${JSON.stringify(e.f)}`);
    if (e.key !== undefined && e.key !== null && typeof e.key !== "string") {
      throw new HistoryError(line, `"key" must be a string`);
    }
    if (e.time !== undefined && (typeof e.time !== "number" || !Number.isFinite(e.time))) {
      throw new HistoryError(line, `"time" must be a number`);
    }
    if (e.values !== undefined && !Array.isArray(e.values))
      throw new HistoryError(line, `"values" must be an array`);
    const key = e.key ?? "";
    const pos = this.position++;
    const final = e.final === true || e.meta?.final === true;
    if (e.type === "invoke") {
      const prev = this.inFlight.get(e.process);
      if (prev) {
        throw new HistoryError(
          line,
          `process ${JSON.stringify(e.process)} invokes a ${e.f} while its ${prev.f} from line ${prev.invokeLine} is still in flight`,
        );
      }
      const value = e.value === undefined ? null : e.value;
      if (e.f === "cas" && !(Array.isArray(value) && value.length === 2)) {
        throw new HistoryError(
          line,
          `a cas value must be a pair [expected, new], got ${JSON.stringify(e.value)}`,
        );
      }
      if (e.f === "append" && typeof value !== "string") {
        throw new HistoryError(line, `an append value must be a string, got ${JSON.stringify(e.value)}`);
      }
      const op: Op = {
        index: this.ops.length,
        process: e.process,
        f: e.f,
        key,
        value: e.f === "read" || e.f === "delete" ? null : value,
        type: "info",
        call: pos,
        ret: Number.POSITIVE_INFINITY,
        invokeLine: line,
      };
      if (e.time !== undefined) op.callNs = e.time;
      if (e.node !== undefined) op.node = e.node;
      if (e.session !== undefined) op.session = e.session;
      if (e.meta !== undefined) op.meta = e.meta;
      if (final) op.final = true;
      this.ops.push(op);
      this.inFlight.set(e.process, op);
      return;
    }
    const op = this.inFlight.get(e.process);
    if (!op) {
      throw new HistoryError(
        line,
        `${e.type} ${e.f} for process ${JSON.stringify(e.process)} with no op in flight`,
      );
    }
    if (op.f !== e.f) {
      throw new HistoryError(
        line,
        `completion f ${JSON.stringify(e.f)} does not match the invoke's ${JSON.stringify(op.f)} (line ${op.invokeLine})`,
      );
    }
    if ((e.key ?? "") !== op.key) {
      throw new HistoryError(
        line,
        `completion key ${JSON.stringify(e.key)} does not match the invoke's (line ${op.invokeLine})`,
      );
    }
    this.inFlight.delete(e.process);
    op.type = e.type;
    op.completeLine = line;
    if (e.type !== "info") {
      op.ret = pos;
      if (e.time !== undefined) op.retNs = e.time;
    }
    if (e.error !== undefined) op.error = String(e.error);
    if (e.node !== undefined) op.node = e.node;
    if (e.session !== undefined && op.session === undefined) op.session = e.session;
    if (e.meta !== undefined) op.meta = { ...op.meta, ...e.meta };
    if (final) op.final = true;
    if (op.f === "read" && e.type === "ok") {
      if (e.values !== undefined) {
        if (e.values.length <= 1) op.value = e.values[0] ?? null;
        else op.values = e.values.map((v) => v ?? null);
      } else {
        op.value = e.value === undefined ? null : e.value;
      }
    }
  }

  /** finish returns the ops; invokes that never completed stay `info` (they may take effect at any time). */
  finish(): Op[] {
    this.inFlight.clear();
    return this.ops;
  }
}

/**
 * parseHistory parses a whole history — JSON Lines text, or an iterable of events — into ops in invoke order.
 * Throws HistoryError naming the 1-based line of the first malformed event.
 */
export function parseHistory(text: string | Iterable<HistoryEvent>): Op[] {
  const p = new HistoryParser();
  if (typeof text === "string") {
    let line = 0;
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      line++;
      p.line(text.slice(start, end), line);
      start = end + 1;
    }
  } else {
    let line = 0;
    for (const e of text) p.event(e, ++line);
  }
  return p.finish();
}

/** readHistoryFile streams a JSON Lines history file line by line into ops. Throws HistoryError on bad input. */
export async function readHistoryFile(path: string): Promise<Op[]> {
  const p = new HistoryParser();
  const rl = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const text of rl) p.line(text, ++line);
  return p.finish();
}
