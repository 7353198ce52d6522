import { fileURLToPath } from "node:url";
import { transcriptTests } from "@consistency-lab/sim/testing";
import { describe, expect, it } from "vitest";
import type { MultiLeaderMessage } from "./core/messages.js";
import { multiLeaderEngine } from "./engines.js";

const vector = (v: Record<string, number>) =>
  Object.keys(v)
    .sort()
    .map((k) => `${k}:${v[k]}`)
    .join(",");

/** describe renders a multi-leader message: each update as origin:seq key=value, an ack as its vector. */
function describeMessage(m: MultiLeaderMessage): string {
  if (m.type === "ack") return `ack {${vector(m.applied)}}`;
  return `updates [${m.updates.map((u) => `${u.origin}:${u.seq} ${u.key}=${u.value ?? "-"}`).join(", ")}]`;
}

transcriptTests({ describe, it, expect }, fileURLToPath(new URL("../testdata", import.meta.url)), {
  engine: multiLeaderEngine,
  describe: describeMessage,
  // Periodic syncs and acks every syncMs would drown the interesting lines.
  quiet: (line) => / ack \{/.test(line) || / updates \[\]$/.test(line),
});
