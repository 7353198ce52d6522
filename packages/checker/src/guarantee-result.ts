import type { Guarantee } from "@consistency-lab/kv";

/** GuaranteeResult is one guarantee's verdict on a history. */
export interface GuaranteeResult {
  guarantee: Guarantee;
  verdict: "ok" | "violation" | "unknown";
  /** Violations found (0 unless verdict is violation). */
  count: number;
  /** Prose, at most a few. */
  examples: string[];
  /** Why the verdict is unknown, or a note on an ok (e.g. what was assumed). */
  reason?: string;
}

/** MAX_EXAMPLES caps the prose examples a check keeps. */
export const MAX_EXAMPLES = 3;

/** Findings collects violations of one guarantee: a count and the first few explained. */
export class Findings {
  count = 0;
  readonly examples: string[] = [];

  add(example: string | (() => string)): void {
    this.count++;
    if (this.examples.length < MAX_EXAMPLES)
      this.examples.push(typeof example === "string" ? example : example());
  }

  result(guarantee: Guarantee): GuaranteeResult {
    return {
      guarantee,
      verdict: this.count > 0 ? "violation" : "ok",
      count: this.count,
      examples: this.examples,
    };
  }
}

/** unknownResult is a verdict `unknown` with its reason. */
export function unknownResult(guarantee: Guarantee, reason: string): GuaranteeResult {
  return { guarantee, verdict: "unknown", count: 0, examples: [], reason };
}
