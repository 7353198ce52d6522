import { type EngineOptions, NOTHING, type Supports } from "@consistency-lab/kv";

/**
 * causalSupports is what the causal engine promises under its options. The session mode does not change it: a
 * refused request (KV_UNAVAILABLE) did not happen, so it cannot break a guarantee; it only costs that session
 * availability. The read view does:
 * - `resolve=siblings` (default): reads return every concurrent write, so nothing a session wrote or saw is ever
 *   hidden by a concurrent write: causal consistency, the four session guarantees, convergence, no lost writes.
 *   Not CCv, which needs one arbitration order in which each read returns the last write (a read of two siblings
 *   orders each before the other).
 * - `resolve=lww`: reads return the sibling with the highest Lamport time: causal convergence (CCv). But the
 *   arbitration knows nothing of real time, so a write concurrent with yours that completed before yours began can
 *   still hide yours: the session guarantees as the checker defines them (against real-time order) and
 *   noLostWrites are not declared.
 */
export function causalSupports(options: EngineOptions): Supports {
  const lww = options.resolve === "lww";
  const wait =
    options.session === "refuse"
      ? "refuses at once"
      : `waits up to ${options.sessionWaitMs ?? 500} ms, then refuses`;
  return {
    ...NOTHING,
    causal: true,
    causalConvergence: lww,
    readYourWrites: !lww,
    monotonicReads: !lww,
    monotonicWrites: !lww,
    writesFollowReads: !lww,
    convergence: true,
    noLostWrites: !lww,
    casAtomic: false,
    conflicts: lww ? "lww" : "siblings",
    availability: "all",
    notes: [
      "every node serves reads and writes on its own, so every side of a partition stays available",
      lww
        ? "sessions still never read a state older than what they saw (token), but a concurrent write with a higher Lamport time can hide the session's own newer write"
        : "session guarantees hold across nodes for clients that send back the session token of their last reply",
      `a node behind a session token ${wait} with KV_UNAVAILABLE`,
      "concurrent writes to a key (accepted by different nodes before either saw the other) are kept as siblings; a write supersedes what its context covers and everything the serving node holds for the key",
      lww
        ? "reads return the sibling with the highest Lamport time (node id breaks ties): causal convergence"
        : "reads return every sibling: causal and convergent, not causal convergence (no single arbitration order)",
      "cas compares against the serving node's value and is not atomic across nodes",
      "a write whose reply was lost is retried only at the node that may have taken it (it answers the retry from its session table); if that node stays down past the client's deadline the write's outcome is unknown (info) and it may surface later as a sibling of the session's newer writes",
    ],
  };
}
