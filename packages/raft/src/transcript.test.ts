import { fileURLToPath } from "node:url";
import { transcriptTests } from "@consistency-lab/sim/testing";
import { describe, expect, it } from "vitest";
import { describeRaftMessage, type Entry, type RaftMessage } from "./core/messages.js";
import type { RaftCore } from "./core/raft-core.js";
import { raftEngine } from "./engines.js";

/*
 * Raft's transcripts (etcd-io/raft `testdata/*.txt` style) run on sim's transcript runner, which has the commands
 * every engine shares (net, tick, put/get/delete/cas, admin, isolate, heal, crash, restart, status…; see
 * packages/sim/src/transcript.ts). Raft adds:
 *   disk ID TERM VOTE I/T,…     start ID from hand-made records: hard state and entries index/term (no-ops)
 *   campaign ID                 ID's election timer fires now
 * Run with CLAB_REWRITE=1 to regenerate the expected traces; read every diff before committing it.
 */

transcriptTests<RaftMessage, RaftCore>(
  { describe, it, expect },
  fileURLToPath(new URL("../testdata", import.meta.url)),
  {
    engine: raftEngine,
    describe: describeRaftMessage,
    // Heartbeat rounds every 50 ms would drown the interesting lines.
    quiet: (line) => / heartbeat(-response)? /.test(line),
    status: (id, s) =>
      `${id}: ${s.role} term=${s.term} leader=${s.leader ?? "-"} commit=${s.commitIndex} last=${s.lastIndex} applied=${s.applied} voters=${(s.voters as string[]).join(",")}`,
    commands: {
      disk: (n, args) => {
        const [id, term, vote, list] = args as [string, string, string, string | undefined];
        const rec: Record<string, unknown> = { hs: { term: Number(term), vote: vote === "-" ? null : vote } };
        for (const it of (list ?? "").split(",").filter(Boolean)) {
          const [i, t] = it.split("/").map(Number) as [number, number];
          const e: Entry = { index: i, term: t, cmd: { kind: "noop" } };
          rec[`e/${i.toString().padStart(12, "0")}`] = e;
        }
        n.setDisk(id, rec);
      },
      campaign: (n, args) => {
        const core = n.core(args[0]!);
        if (core.opts.preVote) core.becomePreCandidate();
        else core.becomeCandidate(false);
        n.flush(core.id);
        n.settle();
      },
    },
  },
);
