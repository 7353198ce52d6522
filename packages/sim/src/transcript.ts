import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type {
  ClientRequest,
  EngineCore,
  EngineDefinition,
  NodeStatus,
  OptionValue,
  RequestOptions,
} from "@consistency-lab/kv";
import { HandNetwork, type HandNetworkOptions } from "./hand-network.js";

/*
 * Transcripts (etcd-io/raft `testdata/*.txt`, cockroachdb/datadriven style): a file is blocks of a command, a `----`
 * line and the trace the command must produce; `#` lines above a command are comments kept on rewrite. Run with
 * CLAB_REWRITE=1 to regenerate the expected traces, and read every diff before committing it.
 *
 * Commands every engine has (an engine adds its own through `commands`):
 *   net N|ID,ID… [opt=value…]   a fresh hand network (engine options as for `--option`)
 *   tick MS [verbose]           advance every clock by MS in 10 ms steps; lines `quiet` matches are hidden unless
 *                               verbose
 *   put ID KEY VALUE [k=v…]     a request at node ID; k=v are request options (w=1, r=2, read=stale,
 *   get ID KEY [MODE] [k=v…]    readFrom=follower, context=CTX|@rN) or its session (client=ID seq=N
 *                               token=T|@rN; @rN: from reply rN); MODE is a read mode
 *   delete ID KEY [k=v…]
 *   cas ID KEY EXPECTED|- NEW [k=v…]
 *   admin ID COMMAND [NODE] [k=v…]
 *   isolate ID | cut A B | cut A>B | partition A,B|C | heal | crash ID | restart ID
 *   hold | release              stop or resume delivering after each command (hold lets writes race)
 *   deliver [N]                 deliver N messages in flight (all by default)
 *   status ID…                  each node's status (engine's own format, or role and the other fields)
 *   dump ID…                    each node's keys and values (the core's dump())
 */

export interface TranscriptBlock {
  /** Comment lines just above the command (kept on rewrite). */
  comments: string[];
  cmd: string;
  expected: string;
}

/** TranscriptCommand is an engine's own transcript command: it acts on the network and may add output lines. */
export type TranscriptCommand<M, C extends EngineCore<M>> = (
  net: HandNetwork<M, C>,
  args: string[],
  out: string[],
) => void;

export interface TranscriptConfig<M, C extends EngineCore<M> = EngineCore<M>> {
  engine: EngineDefinition<M>;
  /** Renders a message (default: its type and other fields as JSON). */
  describe?: (message: M) => string;
  /** Trace lines hidden during `tick` unless `verbose` (e.g. heartbeats). */
  quiet?: (line: string) => boolean;
  /** Renders one node's status line (default: `id: role k=v…`). */
  status?: (id: string, status: NodeStatus, core: C) => string;
  /** Engine-specific commands. */
  commands?: Record<string, TranscriptCommand<M, C>>;
  /** Builds the network (an engine may use a HandNetwork subclass with its own helpers). */
  network?: (o: HandNetworkOptions<M>) => HandNetwork<M, C>;
}

export function parseTranscript(text: string): TranscriptBlock[] {
  const blocks: TranscriptBlock[] = [];
  const lines = text.split("\n");
  let i = 0;
  let comments: string[] = [];
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith("#")) comments.push(line);
    if (line.trim() === "" || line.startsWith("#")) {
      i++;
      continue;
    }
    if (lines[i + 1] !== "----") throw new Error(`transcript: expected ---- after "${line}" (line ${i + 2})`);
    i += 2;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== "") out.push(lines[i++]!);
    blocks.push({ comments, cmd: line, expected: out.join("\n") });
    comments = [];
  }
  return blocks;
}

/** renderTranscript writes blocks back with new outputs (for CLAB_REWRITE). */
export function renderTranscript(blocks: TranscriptBlock[], outputs: string[]): string {
  return `${blocks.map((b, i) => [...b.comments, b.cmd, "----", outputs[i]].join("\n")).join("\n\n")}\n`;
}

function parseValue(v: string): OptionValue {
  if (v === "true") return true;
  if (v === "false") return false;
  return v !== "" && !Number.isNaN(Number(v)) ? Number(v) : v;
}

/** splitPairs separates positional arguments from trailing `k=v` pairs. */
function splitPairs(args: string[]): { pos: string[]; pairs: Record<string, OptionValue> } {
  const pos: string[] = [];
  const pairs: Record<string, OptionValue> = {};
  for (const a of args) {
    const i = a.indexOf("=");
    if (i > 0) pairs[a.slice(0, i)] = parseValue(a.slice(i + 1));
    else pos.push(a);
  }
  return { pos, pairs };
}

/**
 * requestOf builds a request from a command's arguments. Pairs `client=ID seq=N token=T` make its session;
 * `token=@rN` and `context=@rN` take the token or causal context of the earlier reply rN.
 */
function requestOf<M, C extends EngineCore<M>>(
  net: HandNetwork<M, C>,
  op: string,
  pos: string[],
  pairs: Record<string, OptionValue>,
): Omit<ClientRequest, "id"> {
  const from = (v: OptionValue, field: "token" | "context"): string | undefined => {
    const s = String(v);
    if (!s.startsWith("@")) return s;
    const r = net.reply(s.slice(1));
    if (r === undefined) throw new Error(`transcript: no reply ${s.slice(1)} yet`);
    return r[field];
  };
  const { client, seq, token, ...rest } = pairs;
  const options = { ...rest } as RequestOptions;
  if (rest.context !== undefined) {
    const ctx = from(rest.context, "context");
    if (ctx === undefined) delete options.context;
    else options.context = ctx;
  }
  const key = pos[1]!;
  let req: Omit<ClientRequest, "id">;
  if (op === "put") req = { op, key, value: pos[2]! };
  else if (op === "delete") req = { op, key };
  else if (op === "cas") req = { op, key, expected: pos[2] === "-" ? null : pos[2]!, value: pos[3]! };
  else {
    if (pos[2] !== undefined) options.read = pos[2] as RequestOptions["read"];
    req = { op: "get", key };
  }
  if (Object.keys(options).length > 0) req.options = options;
  if (client !== undefined) {
    req.session = { clientId: String(client), seq: Number(seq ?? 1) };
    const t = token === undefined ? undefined : from(token, "token");
    if (t !== undefined) req.session.token = t;
  }
  return req;
}

function defaultStatus(id: string, s: NodeStatus): string {
  const fields = Object.keys(s)
    .filter((k) => k !== "id" && k !== "role" && s[k] !== undefined)
    .sort()
    .map((k) => `${k}=${typeof s[k] === "object" && s[k] !== null ? JSON.stringify(s[k]) : String(s[k])}`);
  return [`${id}: ${s.role}`, ...fields].join(" ");
}

/** runTranscript runs every block and returns each one's output. */
export function runTranscript<M, C extends EngineCore<M> = EngineCore<M>>(
  blocks: TranscriptBlock[],
  config: TranscriptConfig<M, C>,
): string[] {
  let net: HandNetwork<M, C> | null = null;
  let hold = false;
  const outputs: string[] = [];
  for (const b of blocks) {
    const [c, ...args] = b.cmd.split(/\s+/) as [string, ...string[]];
    const out: string[] = [];
    let quietNow = false;
    if (c === "net") {
      const { pos, pairs } = splitPairs(args);
      const nodes = pos[0]!.includes(",") ? pos[0]!.split(",") : Number(pos[0]);
      const o: HandNetworkOptions<M> = { engine: config.engine, nodes, options: pairs };
      if (config.describe) o.describe = config.describe;
      net = config.network ? config.network(o) : (new HandNetwork<M>(o) as unknown as HandNetwork<M, C>);
      net.recordTrace = true;
      hold = false;
      outputs.push("ok");
      continue;
    }
    if (net === null) throw new Error("transcript: the first command must be net");
    const n = net;
    const settle = () => {
      if (!hold) n.settle();
    };
    const own = config.commands?.[c];
    if (own !== undefined) {
      own(n, args, out);
    } else {
      const { pos, pairs } = splitPairs(args);
      switch (c) {
        case "tick":
          quietNow = config.quiet !== undefined && pos[1] !== "verbose";
          if (hold) n.advance(Number(pos[0]));
          else n.runFor(Number(pos[0]));
          break;
        case "put":
        case "get":
        case "delete":
        case "cas":
          n.request(pos[0]!, requestOf(n, c, pos, pairs));
          settle();
          break;
        case "admin":
          n.admin(pos[0]!, pos[1]!, pos[2] !== undefined ? { node: pos[2], ...pairs } : pairs);
          settle();
          break;
        case "isolate":
          n.isolate(pos[0]!);
          break;
        case "cut": {
          if (pos[0]!.includes(">")) {
            const [from, to] = pos[0]!.split(">") as [string, string];
            n.cutOneWay(from, to);
          } else n.cutLink(pos[0]!, pos[1]!);
          break;
        }
        case "partition":
          n.partition(pos[0]!.split("|").map((g) => g.split(",")));
          break;
        case "heal":
          n.heal();
          break;
        case "crash":
          n.crash(pos[0]!);
          break;
        case "restart":
          n.restart(pos[0]!);
          break;
        case "hold":
          hold = true;
          break;
        case "release":
          hold = false;
          n.settle();
          break;
        case "deliver": {
          const count = pos[0] === undefined ? Number.POSITIVE_INFINITY : Number(pos[0]);
          for (let i = 0; i < count && n.deliverOne(); i++);
          break;
        }
        case "status":
          for (const id of pos) {
            const s = n.core(id).status();
            out.push(config.status ? config.status(id, s, n.core(id)) : defaultStatus(id, s));
          }
          break;
        case "dump":
          for (const id of pos) {
            const d = n.core(id).dump?.() ?? new Map<string, string[]>();
            const keys = [...d.keys()].sort();
            out.push(`${id}: ${keys.map((k) => `${k}=${d.get(k)!.join("|")}`).join(" ") || "(empty)"}`);
          }
          break;
        default:
          throw new Error(`transcript: unknown command ${c}`);
      }
    }
    const lines = n.trace.splice(0);
    const shown = quietNow ? lines.filter((l) => !config.quiet!(l)) : lines;
    outputs.push([...shown, ...out].join("\n") || "ok");
  }
  return outputs;
}

/** The test-runner functions transcriptTests needs (vitest's, or a compatible runner's). */
export interface TranscriptTestApi {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => void) => void;
  expect: (value: unknown, message?: string) => { toBe(expected: unknown): void };
}

/**
 * transcriptTests registers one test per `*.txt` file in `dir`; each block's output must equal its expected trace.
 * With CLAB_REWRITE=1 the files are rewritten with what the engine produced instead.
 */
export function transcriptTests<M, C extends EngineCore<M> = EngineCore<M>>(
  t: TranscriptTestApi,
  dir: string,
  config: TranscriptConfig<M, C>,
): void {
  const rewrite = process.env.CLAB_REWRITE === "1";
  t.describe(`${config.engine.name} transcripts (testdata/*.txt)`, () => {
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt"))) {
      t.it(file, () => {
        const path = join(dir, file);
        const blocks = parseTranscript(readFileSync(path, "utf8"));
        const got = runTranscript(blocks, config);
        if (rewrite) {
          writeFileSync(path, renderTranscript(blocks, got));
          return;
        }
        for (const [i, b] of blocks.entries()) t.expect(got[i], `${file}: ${b.cmd}`).toBe(b.expected);
      });
    }
  });
}
