import { GUARANTEES } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { checkGuarantees } from "./guarantees.js";
import { parseHistory } from "./parse-history.js";
import { generateHistory } from "./testing/generate.js";

// A linearizable history satisfies every other guarantee the checker judges (convergence only when no write is
// left indeterminate: a late `info` write can legitimately leave final reads apart). No check may call a
// linearizable history a violation; some may say unknown (see below).
describe("guarantees implied by linearizability", () => {
  const seeds = process.env.CLAB_SOAK ? 200 : 12;
  for (const infoRate of [0, 0.05]) {
    it(`no violation on generated linearizable histories (info ${infoRate * 100}%, ${seeds} seeds)`, () => {
      for (let seed = 1; seed <= seeds; seed++) {
        const ops = parseHistory(generateHistory({ ops: 300, keys: 2, processes: 4, infoRate, seed }));
        for (const r of checkGuarantees(ops, GUARANTEES, { timeLimitMs: 20_000 })) {
          if (r.guarantee === "convergence" && infoRate > 0) continue;
          // Unknown is allowed where the check can lack data: causal (ambiguous reads of absent), convergence and
          // lost writes (no closing reads in a short history).
          const mayBeUnknown = ["causal", "causalConvergence", "convergence", "noLostWrites"].includes(
            r.guarantee,
          );
          const allowed = mayBeUnknown ? ["ok", "unknown"] : ["ok"];
          expect(allowed, `seed ${seed} ${r.guarantee}: ${r.examples[0] ?? r.reason ?? ""}`).toContain(
            r.verdict,
          );
        }
      }
    });
  }
});
