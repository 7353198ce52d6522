import type { Guarantee } from "@consistency-lab/kv";
import { checkCasAtomic } from "./cas-atomic.js";
import { checkCausal } from "./causal.js";
import { checkConvergence } from "./convergence.js";
import type { GuaranteeResult } from "./guarantee-result.js";
import { checkLinearizableSync, type LinearizabilityResult } from "./linearizable.js";
import { checkNoLostWrites } from "./lost-writes.js";
import type { Model } from "./model.js";
import type { Op } from "./op.js";
import { checkSequentialSync } from "./sequential.js";
import { checkSession } from "./session.js";

/**
 * checkGuarantees checks each named guarantee on a history and returns one verdict per guarantee, in the order
 * asked. Synchronous (linearizability in-thread). `timeLimitMs` bounds linearizable and sequential each.
 */
export function checkGuarantees(
  ops: Op[],
  guarantees: readonly Guarantee[],
  opts: { timeLimitMs?: number; model?: Model; memoryLimitMb?: number } = {},
): GuaranteeResult[] {
  let lin: LinearizabilityResult | undefined;
  const linearizable = (): LinearizabilityResult =>
    (lin ??= checkLinearizableSync(ops, {
      ...(opts.model ? { model: opts.model } : {}),
      ...(opts.timeLimitMs !== undefined ? { timeLimitMs: opts.timeLimitMs } : {}),
      ...(opts.memoryLimitMb !== undefined ? { memoryLimitMb: opts.memoryLimitMb } : {}),
    }));
  return guarantees.map((g): GuaranteeResult => {
    switch (g) {
      case "linearizable": {
        const r = linearizable();
        return {
          guarantee: g,
          verdict: r.verdict,
          count: r.perKey?.filter((k) => k.verdict === "violation").length ?? 0,
          examples: r.verdict === "ok" || !r.explanation ? [] : [r.explanation],
          ...(r.verdict === "unknown" && r.explanation ? { reason: r.explanation } : {}),
        };
      }
      case "sequential": {
        const r = checkSequentialSync(ops, {
          linearizable: linearizable(),
          ...(opts.model ? { model: opts.model } : {}),
          ...(opts.timeLimitMs !== undefined ? { timeLimitMs: opts.timeLimitMs } : {}),
        });
        return {
          guarantee: g,
          verdict: r.verdict,
          count: r.verdict === "violation" ? 1 : 0,
          examples: r.verdict === "violation" && r.explanation ? [r.explanation] : [],
          ...(r.verdict === "unknown" && r.explanation ? { reason: r.explanation } : {}),
        };
      }
      case "causal":
      case "causalConvergence":
        return causalOrLinearizable(checkCausal(ops, g === "causalConvergence"), linearizable);
      case "readYourWrites":
      case "monotonicReads":
      case "monotonicWrites":
      case "writesFollowReads":
        return checkSession(ops, g);
      case "convergence":
        return checkConvergence(ops);
      case "noLostWrites":
        return checkNoLostWrites(ops);
      case "casAtomic":
        return checkCasAtomic(ops);
      default:
        throw new TypeError(`unknown guarantee ${JSON.stringify(g)}`);
    }
  });
}

/**
 * causalOrLinearizable settles a causal verdict left `unknown` (reads of absent that could not be attributed,
 * repeated values) with linearizability when that is cheap to have: a linearizable history is causally consistent
 * and causally convergent (linearizability ⇒ sequential consistency ⇒ CCv ⇒ CC, Bouajjani et al. POPL'17 §2).
 */
export function causalOrLinearizable(
  r: GuaranteeResult,
  linearizable: () => LinearizabilityResult,
): GuaranteeResult {
  if (r.verdict !== "unknown") return r;
  if (linearizable().verdict !== "ok") return r;
  return {
    ...r,
    verdict: "ok",
    reason: `the history is linearizable, hence causal (the bad-pattern check alone: ${r.reason})`,
  };
}
