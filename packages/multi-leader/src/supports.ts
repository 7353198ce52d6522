import { type EngineOptions, NOTHING, type Supports } from "@consistency-lab/kv";
import { resolveConfig } from "./core/options.js";

/**
 * multiLeaderSupports is the multi-leader engine's manifest for given (defaulted) options: every node takes writes
 * (availability "all"), replicas converge once partitions heal, and a session that passes back its token has its
 * writes applied in order everywhere. It never coordinates, so nothing linearizable, no atomic cas, and LWW loses
 * concurrent writes by design.
 */
export function multiLeaderSupports(options: EngineOptions): Supports {
  const cfg = resolveConfig(options);
  const s: Supports = {
    ...NOTHING,
    convergence: true,
    availability: "all",
    conflicts: cfg.conflicts === "siblings" ? "siblings" : "lww",
  };
  const notes = [
    "a write is acknowledged once durable on the node that took it; it reaches the others by retransmission until acknowledged",
    "session guarantees rely on the client passing back the reply `token` (the version vector of what it wrote and read); a node that has not applied them waits, then refuses with KV_UNAVAILABLE",
  ];
  if (cfg.conflicts === "siblings") {
    // A version is dropped only when a write whose context covers it replaces it, and a session's request waits
    // until the node holds the causal past of what the session wrote and read (its token): nothing acknowledged
    // is lost and the four session guarantees hold, whatever the clocks say.
    s.noLostWrites = true;
    s.readYourWrites = true;
    s.monotonicReads = true;
    s.monotonicWrites = true;
    s.writesFollowReads = true;
  } else {
    // With LWW a concurrent write with a larger timestamp hides a session's own later write. Under clock skew (or
    // with Lamport clocks, under any replication delay) that write can have completed before the session's write
    // began, which breaks read-your-writes and monotonic writes as real-time checkers see them: not declared.
    notes.push(
      "read-your-writes and monotonic writes per session are not declared: the session token orders a session's own writes, but a skewed clock lets another client's earlier write win over them",
    );
    notes.push(
      `last-writer-wins by ${cfg.conflicts === "lww-hlc" ? "hybrid logical clock" : "(Lamport counter, node id)"}: of two concurrent writes one is discarded (see the conflict log); with clock skew the discarded one can be the later in real time`,
    );
  }
  if (cfg.topology !== "all-to-all") {
    notes.push(
      `${cfg.topology} topology: a crashed ${cfg.topology === "ring" ? "node cuts the ring" : "hub cuts every leaf off"} until it restarts`,
    );
  }
  s.notes = notes;
  return s;
}
