import { fileURLToPath } from "node:url";
import { transcriptTests } from "@consistency-lab/sim/testing";
import { describe, expect, it } from "vitest";
import type { LogEntry, SingleLeaderMessage } from "./core/messages.js";
import { singleLeaderEngine } from "./engines.js";

const entry = (e: LogEntry) =>
  e.key === undefined ? `e${e.epoch}:noop` : `e${e.epoch}:${e.key}=${e.value ?? "-"}`;

/** describe renders a single-leader message in one line: epoch, log positions and entries. */
function describeMessage(m: SingleLeaderMessage): string {
  switch (m.type) {
    case "append":
      return `append e${m.epoch} prev=${m.prevIndex}/e${m.prevEpoch} commit=${m.commit} entries=[${m.entries.map(entry).join(", ")}]`;
    case "append-response":
      return `append-response e${m.epoch} ${m.ok ? "ok" : "reject"} match=${m.match}${m.fenced ? " fenced" : ""}`;
    case "vote-request":
      return `vote-request e${m.epoch} last=${m.lastIndex}/e${m.lastEpoch}${m.forced ? " forced" : ""}`;
    case "vote-response":
      return `vote-response e${m.epoch} ${m.granted ? "granted" : "rejected"}`;
  }
}

transcriptTests({ describe, it, expect }, fileURLToPath(new URL("../testdata", import.meta.url)), {
  engine: singleLeaderEngine,
  describe: describeMessage,
  // Heartbeats (empty appends and their answers) every 50 ms would drown the interesting lines.
  quiet: (line) =>
    / append e\d+ prev=\S+ commit=\d+ entries=\[\]$/.test(line) || / append-response e\d+ ok /.test(line),
  status: (id, s) =>
    `${id}: ${s.role} epoch=${s.term} leader=${s.leader ?? "-"} commit=${s.commitIndex} last=${s.lastIndex}`,
});
