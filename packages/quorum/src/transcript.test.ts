import { fileURLToPath } from "node:url";
import { transcriptTests } from "@consistency-lab/sim/testing";
import { describe, expect, it } from "vitest";
import type { QuorumMessage } from "./core/messages.js";
import { liveValues } from "./core/versioned.js";
import { quorumEngine } from "./engines.js";

/** describe renders a quorum message for transcripts: the key and its live values, not the whole clock. */
function describeMessage(m: QuorumMessage): string {
  switch (m.type) {
    case "store":
      return `store ${m.key}=${liveValues(m.state).join("|") || "-"}${m.hintFor ? ` hint-for=${m.hintFor}` : ""}${m.op ? ` op=${m.op}` : ""}`;
    case "store-ack":
      return `store-ack ${m.key} op=${m.op}`;
    case "fetch":
      return `fetch ${m.key} op=${m.op}${m.hinted ? " hinted" : ""}`;
    case "fetch-reply":
      return `fetch-reply ${m.key}=${m.state ? liveValues(m.state).join("|") || "-" : "absent"} op=${m.op}`;
    case "forward":
      return `forward ${m.req.op} ${m.req.key} fwd=${m.fwd}`;
    case "forward-reply":
      return `forward-reply fwd=${m.fwd} ${m.reply.ok ? "ok" : m.reply.error?.code}`;
    case "handoff":
      return `handoff ${m.key}=${liveValues(m.state).join("|") || "-"}`;
    case "handoff-ack":
      return `handoff-ack ${m.key}`;
    default:
      return m.type;
  }
}

// Heartbeats and the periodic anti-entropy rounds would drown the interesting lines (`tick MS verbose` shows them).
const quiet = (line: string) => / (ping|ae-tree|ae-keys|ae-want|ae-states)/.test(line);

transcriptTests({ describe, it, expect }, fileURLToPath(new URL("../testdata", import.meta.url)), {
  engine: quorumEngine,
  describe: describeMessage,
  quiet,
  status: (id, s) => `${id}: ${s.role} live=${s.live} hints=${s.hints} keys=${s.keys} pending=${s.pending}`,
});
