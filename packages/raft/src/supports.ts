import { type EngineOptions, NOTHING, type RequestOptions, type Supports } from "@consistency-lab/kv";
import { parseRaftOptions } from "./core/options.js";

/**
 * raftSupports is what the Raft engine promises under `options`. Writes (put, delete, cas) always go through the
 * log, so they are linearizable and cas is atomic; what reads promise depends on the read mode.
 */
export function raftSupports(options: EngineOptions): Supports {
  const o = parseRaftOptions(options);
  const base: Supports = {
    ...NOTHING,
    convergence: true,
    noLostWrites: true,
    casAtomic: true,
    conflicts: "none",
    availability: "majority",
  };
  if (o.read === "stale") {
    return {
      ...base,
      notes: [
        "read=stale: reads are served from the local replica's applied state with no recency check, so they may " +
          "return old values (not linearizable, not read-your-writes); writes and cas stay linearizable through the log.",
      ],
    };
  }
  const lin: Supports = {
    ...base,
    linearizable: true,
    sequential: true,
    readYourWrites: true,
    monotonicReads: true,
    monotonicWrites: true,
    writesFollowReads: true,
  };
  if (o.read === "lease") {
    // Not declared linearizable: the bound below is an assumption about clocks the simulator deliberately breaks
    // (skew faults jump clocks by up to a second; a paused leader handles queued reads before its next tick).
    return {
      ...base,
      notes: [
        `read=lease: a leader answers reads without a round trip while its lease lasts, ${o.electionTimeoutMs - o.clockDriftMs} ms ` +
          `(electionTimeoutMs ${o.electionTimeoutMs} minus clockDriftMs ${o.clockDriftMs}) from the send time of a heartbeat a ` +
          "quorum acknowledged (followers refuse votes for electionTimeoutMs after hearing from it: check-quorum); a lease " +
          "read is judged at the leader's next tick. Reads are linearizable only while clocks drift less than clockDriftMs " +
          "per election timeout. The simulator's skew faults break that bound on purpose, so linearizability is not " +
          "declared and clab sim reports how often it broke. Writes and cas stay linearizable.",
      ],
    };
  }
  return {
    ...lin,
    notes: [
      "read=linearizable: ReadIndex (thesis §6.4), batched; followers serve reads at the leader's read index.",
    ],
  };
}

/** raftRequestOptions makes the simulated workload use the engine's read mode. */
export function raftRequestOptions(options: EngineOptions): RequestOptions {
  const o = parseRaftOptions(options);
  return o.read === "linearizable" ? {} : { read: o.read };
}
