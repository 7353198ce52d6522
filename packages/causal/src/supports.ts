import { type EngineOptions, NOTHING, type Supports } from "@consistency-lab/kv";

/**
 * causalSupports is what the causal engine promises. The same for both session modes: a refused request
 * (KV_UNAVAILABLE) did not happen, so it cannot break a guarantee; it only costs availability for that session.
 */
export function causalSupports(options: EngineOptions): Supports {
  return {
    ...NOTHING,
    causal: true,
    causalConvergence: true,
    readYourWrites: true,
    monotonicReads: true,
    monotonicWrites: true,
    writesFollowReads: true,
    convergence: true,
    noLostWrites: true,
    casAtomic: false,
    linearizable: false,
    sequential: false,
    conflicts: "siblings",
    availability: "all",
    notes: [
      "every node serves reads and writes on its own, so every side of a partition stays available",
      "session guarantees hold across nodes for clients that send back the session token of their last reply",
      `a node behind a session token ${options.session === "refuse" ? "refuses at once" : `waits up to ${options.sessionWaitMs} ms, then refuses`} with KV_UNAVAILABLE`,
      "concurrent writes to a key are kept as siblings; a write with a context supersedes what the context covers, a write without one supersedes what the serving node holds",
      "cas compares against the serving node's value and is not atomic across nodes",
    ],
  };
}
