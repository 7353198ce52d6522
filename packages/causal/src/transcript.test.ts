import { fileURLToPath } from "node:url";
import { transcriptTests } from "@consistency-lab/sim/testing";
import { describe, expect, it } from "vitest";
import type { CausalMessage } from "./core/messages.js";
import { causalEngine } from "./engines.js";

const vector = (v: Record<string, number>) =>
  Object.keys(v)
    .sort()
    .map((k) => `${k}:${v[k]}`)
    .join(",");

/** describe renders a causal message: each replicated write as origin:seq key with its dependencies. */
function describeMessage(m: CausalMessage): string {
  if (m.type === "ack") return `ack ${m.upTo}`;
  return `writes [${m.writes.map((w) => `${w.origin}:${w.seq} ${w.key} deps={${vector(w.deps)}}`).join(", ")}]`;
}

transcriptTests({ describe, it, expect }, fileURLToPath(new URL("../testdata", import.meta.url)), {
  engine: causalEngine,
  describe: describeMessage,
  status: (id, s) =>
    `${id}: ${s.role} keys=${s.keys} buffered=${s.buffered} waiting=${s.waiting} unacked=${s.unacked}`,
});
