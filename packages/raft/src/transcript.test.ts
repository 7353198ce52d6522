import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Entry } from "./core/messages.js";
import type { RaftOptions } from "./core/options.js";
import { Network } from "./testing/network.js";

/*
 * Transcript tests (etcd-io/raft `testdata/*.txt` style): each block is a command, a `----` line and the trace
 * it must produce (messages sent, replies, status). Run with RAFT_REWRITE=1 to regenerate the expected traces;
 * read every diff before committing it.
 *
 * Commands:
 *   net N [opt=value…]          a fresh network of N nodes (options as in RaftOptions)
 *   disk ID TERM VOTE I/T,…     start ID from hand-made records: hard state and entries index/term (no-ops)
 *   campaign ID                 ID's election timer fires now
 *   tick MS [verbose]           advance every clock by MS in 10 ms steps (heartbeats hidden unless verbose)
 *   put|get|delete ID KEY [VALUE|read-mode]
 *   cas ID KEY EXPECTED|- NEW
 *   admin ID COMMAND NODE
 *   isolate ID | heal | crash ID | restart ID
 *   status ID…
 */

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "testdata");
const rewrite = process.env.RAFT_REWRITE === "1";

interface Block {
  /** Comment lines just above the command (kept on rewrite). */
  comments: string[];
  cmd: string;
  expected: string;
}

function parse(text: string): Block[] {
  const blocks: Block[] = [];
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
    const cmd = line;
    if (lines[i + 1] !== "----") throw new Error(`transcript: expected ---- after "${cmd}" (line ${i + 2})`);
    i += 2;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== "") out.push(lines[i++]!);
    blocks.push({ comments, cmd, expected: out.join("\n") });
    comments = [];
  }
  return blocks;
}

function parseOptions(args: string[]): Partial<RaftOptions> {
  const o: Record<string, unknown> = {};
  for (const a of args) {
    const [k, v] = a.split("=") as [string, string];
    o[k] = v === "true" ? true : v === "false" ? false : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return o as Partial<RaftOptions>;
}

function run(blocks: Block[]): string[] {
  let net: Network | null = null;
  const outputs: string[] = [];
  let hideHeartbeats = true;
  const seen = () => {
    const n = net!;
    const lines = n.trace.splice(0);
    return hideHeartbeats ? lines.filter((l) => !/ heartbeat(-response)? /.test(l)) : lines;
  };
  for (const b of blocks) {
    const [c, ...args] = b.cmd.split(/\s+/) as [string, ...string[]];
    const out: string[] = [];
    hideHeartbeats = false;
    if (c === "net") {
      net = new Network(Number(args[0]), parseOptions(args.slice(1)));
      net.recordTrace = true;
      outputs.push("ok");
      continue;
    }
    if (net === null) throw new Error("transcript: the first command must be net");
    const n = net;
    switch (c) {
      case "disk": {
        const [id, term, vote, list] = args as [string, string, string, string | undefined];
        const rec: Record<string, unknown> = { hs: { term: Number(term), vote: vote === "-" ? null : vote } };
        for (const it of (list ?? "").split(",").filter(Boolean)) {
          const [i, t] = it.split("/").map(Number) as [number, number];
          const e: Entry = { index: i, term: t, cmd: { kind: "noop" } };
          rec[`e/${i.toString().padStart(12, "0")}`] = e;
        }
        n.setDisk(id, rec);
        break;
      }
      case "campaign": {
        const core = n.core(args[0]!);
        if (core.opts.preVote) core.becomePreCandidate();
        else core.becomeCandidate(false);
        n.flush(core.id);
        n.settle();
        break;
      }
      case "tick":
        // Heartbeat rounds every 50 ms would drown the interesting lines.
        hideHeartbeats = args[1] !== "verbose";
        n.runFor(Number(args[0]));
        break;
      case "put":
        n.request(args[0]!, { op: "put", key: args[1]!, value: args[2]! });
        n.settle();
        break;
      case "delete":
        n.request(args[0]!, { op: "delete", key: args[1]! });
        n.settle();
        break;
      case "get":
        n.request(
          args[0]!,
          args[2]
            ? { op: "get", key: args[1]!, options: { read: args[2] as "stale" } }
            : { op: "get", key: args[1]! },
        );
        n.settle();
        break;
      case "cas":
        n.request(args[0]!, {
          op: "cas",
          key: args[1]!,
          expected: args[2] === "-" ? null : args[2]!,
          value: args[3]!,
        });
        n.settle();
        break;
      case "admin":
        n.admin(args[0]!, args[1]!, { node: args[2] });
        n.settle();
        break;
      case "isolate":
        n.isolate(args[0]!);
        break;
      case "heal":
        n.heal();
        break;
      case "crash":
        n.crash(args[0]!);
        break;
      case "restart":
        n.restart(args[0]!);
        break;
      case "status":
        for (const id of args) {
          const s = n.core(id).status();
          out.push(
            `${id}: ${s.role} term=${s.term} leader=${s.leader ?? "-"} commit=${s.commitIndex} last=${s.lastIndex} applied=${s.applied} voters=${(s.voters as string[]).join(",")}`,
          );
        }
        break;
      default:
        throw new Error(`transcript: unknown command ${c}`);
    }
    outputs.push([...seen(), ...out].join("\n") || "ok");
  }
  return outputs;
}

describe("transcripts (testdata/*.txt)", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt"))) {
    it(file, () => {
      const path = join(dir, file);
      const text = readFileSync(path, "utf8");
      const blocks = parse(text);
      const got = run(blocks);
      if (rewrite) {
        const body = blocks.map((b, i) => [...b.comments, b.cmd, "----", got[i]].join("\n")).join("\n\n");
        writeFileSync(path, `${body}\n`);
        return;
      }
      for (const [i, b] of blocks.entries()) expect(got[i], `${file}: ${b.cmd}`).toBe(b.expected);
    });
  }
});
