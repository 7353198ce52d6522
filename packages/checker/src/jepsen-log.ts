import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { HistoryEvent, HistoryF, HistoryType } from "@consistency-lab/kv";
import { HistoryError } from "./history-error.js";
import type { Op } from "./op.js";
import { HistoryParser } from "./parse-history.js";

/*
 * A Jepsen register test logs every client op through `jepsen.util/log-op`, one line per event:
 *
 *   INFO  jepsen.util - 3	:invoke	:cas	[1 4]
 *   INFO  jepsen.util - 3	:ok	:cas	[1 4]
 *   INFO  jepsen.util - 7	:info	:write	:timed-out
 *   INFO  jepsen.util - :nemesis	:info	:start	nil
 *
 * (the etcd logs Porcupine and Knossos test against; other runs put a timestamp or thread name before the
 * logger). The fields after `jepsen.util - ` are process, type, f and value, tab separated, the value printed as
 * EDN. Only the line shape is taken from there; the meaning is ARCHITECTURE §4's, which is Jepsen's own:
 * - a client that crashes or times out (`:info`) is retired and its thread comes back with a NEW process id
 *   (process + concurrency in these logs), so a process id never has two ops in flight and an `info` op may
 *   still take effect later, exactly §4's `info`;
 * - a `:fail` with a keyword value (`:fail :read :timed-out`) carries no result: it becomes a `fail` with that
 *   keyword as its `error`, which constrains nothing; a cas `:fail` with its `[expected new]` pair is the
 *   compare that did not match;
 * - `nil` is absent (`null`); the register starts absent, as in the etcd tests (Porcupine's etcd model starts
 *   from a sentinel standing for nil, and a cas on it fails).
 */

const OP_LINE = /jepsen\.util\s+-\s+(\S+)\s+(:\S+)\s+(:\S+)(?:\s+(.*?))?\s*$/;
const TYPES = new Set<HistoryType>(["invoke", "ok", "fail", "info"]);
const FS = new Set<HistoryF>(["read", "write", "cas"]);

/** EdnKeyword is an EDN keyword such as `:timed-out`, kept apart from strings so it can become an error code. */
interface EdnKeyword {
  keyword: string;
}

function isKeyword(v: unknown): v is EdnKeyword {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "keyword" in v;
}

/**
 * jepsenLineEvent turns one line of a Jepsen log into a history event (ARCHITECTURE §4), or `undefined` when the
 * line is not a client op (other log output, the nemesis's lines, blank lines). Throws HistoryError naming `line`
 * when it is a client op line that cannot be read: an unknown type or f, a value that is not EDN, a cas whose
 * value is not a pair.
 */
export function jepsenLineEvent(text: string, line: number): HistoryEvent | undefined {
  const m = OP_LINE.exec(text);
  if (!m) return undefined;
  const [, proc, rawType, rawF, rawValue = ""] = m;
  // The nemesis logs its faults through the same logger (`:nemesis :info :start nil`); they are not client ops.
  if (proc === ":nemesis" || proc === "nemesis") return undefined;
  if (!/^\d+$/.test(proc)) throw new HistoryError(line, `process ${JSON.stringify(proc)} is not a number`);
  const type = rawType.slice(1) as HistoryType;
  if (!TYPES.has(type)) throw new HistoryError(line, `unknown type ${rawType}`);
  const f = rawF.slice(1) as HistoryF;
  if (!FS.has(f))
    throw new HistoryError(line, `unknown f ${rawF} (a register log has :read, :write and :cas)`);
  let value: unknown;
  try {
    value = readEdn(rawValue);
  } catch (e) {
    throw new HistoryError(
      line,
      `cannot read the value ${JSON.stringify(rawValue)}: ${(e as Error).message}`,
    );
  }
  const event: HistoryEvent = { process: Number(proc), type, f };
  if (isKeyword(value)) {
    // A keyword stands where a result would be: the reason there is none (Jepsen's `:timed-out`).
    if (type === "invoke")
      throw new HistoryError(line, `an invoke's value cannot be the keyword ${rawValue}`);
    if (type === "ok") throw new HistoryError(line, `an ok ${f} must carry its value, not ${rawValue}`);
    event.error = value.keyword;
    return event;
  }
  if (Array.isArray(value) && value.some(isKeyword)) {
    throw new HistoryError(line, `unexpected keyword inside ${rawValue}`);
  }
  if (f === "cas" && !(Array.isArray(value) && value.length === 2)) {
    throw new HistoryError(line, `a cas value must be a pair [expected new], got ${rawValue || "nothing"}`);
  }
  if (f === "write" && type === "invoke" && value === null) {
    throw new HistoryError(line, `a write must carry the value written, got ${rawValue || "nothing"}`);
  }
  event.value = value;
  return event;
}

/**
 * readEdn reads the small part of EDN that Jepsen register logs print as op values: `nil`, `true`/`false`,
 * integers and decimals, `"strings"`, `:keywords` and `[vectors]` of those. Throws on anything else.
 */
function readEdn(src: string): unknown {
  let i = 0;
  const skip = (): void => {
    while (i < src.length && (src[i] === " " || src[i] === "," || src[i] === "\t")) i++;
  };
  const value = (): unknown => {
    skip();
    if (i >= src.length) throw new Error("value missing");
    const c = src[i];
    if (c === "[") {
      i++;
      const items: unknown[] = [];
      for (;;) {
        skip();
        if (i >= src.length) throw new Error("unclosed [");
        if (src[i] === "]") {
          i++;
          return items;
        }
        items.push(value());
      }
    }
    if (c === '"') {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(src.slice(i));
      if (!end) throw new Error("unclosed string");
      i += end[0].length;
      return JSON.parse(end[0]);
    }
    const token = /^[^\s,[\]"]+/.exec(src.slice(i))?.[0];
    if (!token) throw new Error(`unexpected ${JSON.stringify(c)}`);
    i += token.length;
    if (token === "nil") return null;
    if (token === "true") return true;
    if (token === "false") return false;
    if (/^:[^:]/.test(token)) return { keyword: token.slice(1) } satisfies EdnKeyword;
    // EDN marks big integers with N and exact decimals with M; the register values here are small.
    if (/^[-+]?\d+N?$/.test(token)) return Number(token.replace(/N$/, ""));
    if (/^[-+]?\d+\.\d*(?:[eE][-+]?\d+)?M?$/.test(token)) return Number(token.replace(/M$/, ""));
    throw new Error(`unexpected ${JSON.stringify(token)}`);
  };
  skip();
  if (i >= src.length) return null;
  const v = value();
  skip();
  if (i < src.length) throw new Error(`trailing ${JSON.stringify(src.slice(i))}`);
  return v;
}

/**
 * JepsenLogParser turns a Jepsen register log into ops, one line at a time, so that a file can be streamed. It
 * feeds the events to a HistoryParser, so the checks on pairing (one op in flight per process, a completion
 * matching its invoke) are the ones JSON Lines histories get, with the log's own line numbers.
 */
export class JepsenLogParser {
  private readonly history = new HistoryParser();

  /** line parses one log line (1-based `line`); lines that are not client ops are skipped. */
  line(text: string, line: number): void {
    const e = jepsenLineEvent(text, line);
    if (e) this.history.event(e, line);
  }

  /** finish returns the ops; an op whose completion is missing stays `info`. */
  finish(): Op[] {
    return this.history.finish();
  }
}

/**
 * parseJepsenLog parses the text of a Jepsen register log (Porcupine's and Knossos's etcd test data) into ops
 * on one register (key ""). Throws HistoryError naming the 1-based line of the first malformed op line.
 */
export function parseJepsenLog(text: string): Op[] {
  const p = new JepsenLogParser();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) p.line(lines[i], i + 1);
  return p.finish();
}

/** readJepsenLogFile streams a Jepsen register log file line by line into ops. Throws HistoryError on bad input. */
export async function readJepsenLogFile(path: string): Promise<Op[]> {
  const p = new JepsenLogParser();
  const rl = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const text of rl) p.line(text, ++line);
  return p.finish();
}
