import { type EngineOptions, type OptionSpec, sessionWaitMs, sessionWaitOption } from "@consistency-lab/kv";
import type { Resolve } from "./key-clock.js";

/** CAUSAL_OPTIONS are the causal engine's options (`--option k=v`). */
export const CAUSAL_OPTIONS: readonly OptionSpec[] = [
  {
    name: "resolve",
    type: "string",
    default: "siblings",
    choices: ["siblings", "lww"],
    description:
      "how reads present concurrent writes: every sibling (nothing is lost; causal, not CCv), or the one with the highest Lamport time and node id (causal convergence; concurrent losers are hidden)",
  },
  {
    name: "session",
    type: "string",
    default: "wait",
    choices: ["wait", "refuse"],
    description:
      "what a node does with a request whose session token is ahead of it: wait (up to sessionWaitMs) for the missing writes, or refuse at once with KV_UNAVAILABLE",
  },
  sessionWaitOption(
    500,
    "how long a node holds a request waiting to catch up with its session token before KV_UNAVAILABLE",
  ),
  {
    name: "resendMs",
    type: "number",
    default: 100,
    description: "interval at which unacknowledged writes are retransmitted to a peer",
  },
  {
    name: "maxBatch",
    type: "number",
    default: 64,
    description: "most writes sent to one peer in one retransmission message",
  },
  {
    name: "maxBuffered",
    type: "number",
    default: 4096,
    description:
      "most writes held per origin while their dependencies are missing; more are dropped and come back by retransmission",
  },
];

/** CausalConfig is the options a core runs with, typed. */
export interface CausalConfig {
  resolve: Resolve;
  session: "wait" | "refuse";
  sessionWaitMs: number;
  resendMs: number;
  maxBatch: number;
  maxBuffered: number;
}

/** causalConfig types resolved engine options, falling back to the defaults for anything missing. */
export function causalConfig(o: EngineOptions): CausalConfig {
  const num = (name: string, min: number): number => {
    const v = o[name];
    const d = CAUSAL_OPTIONS.find((s) => s.name === name)!.default as number;
    return typeof v === "number" && Number.isFinite(v) && v >= min ? v : d;
  };
  return {
    resolve: o.resolve === "lww" ? "lww" : "siblings",
    session: o.session === "refuse" ? "refuse" : "wait",
    sessionWaitMs: sessionWaitMs(o, 500),
    resendMs: num("resendMs", 1),
    maxBatch: Math.floor(num("maxBatch", 1)),
    maxBuffered: Math.floor(num("maxBuffered", 1)),
  };
}
