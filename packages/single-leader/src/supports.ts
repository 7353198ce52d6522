import { type EngineOptions, NOTHING, type Supports } from "@consistency-lab/kv";
import { resolveConfig } from "./core/options.js";

/**
 * singleLeaderSupports is the single-leader engine's manifest for given (defaulted) options. It declares only what
 * holds under the faults the simulator injects (crash, restart, pause, partition, loss, duplication, reordering,
 * delay, skew); the simulator never issues an operator's `promote`, so with manual failover no leadership ever
 * changes there, and the conditions are stated in `notes`.
 */
export function singleLeaderSupports(options: EngineOptions): Supports {
  const cfg = resolveConfig(options);
  // Writes reach a majority before they are acknowledged, so any elected leader (majority vote, up-to-date log)
  // holds them: Raft §5.4's argument for entries acknowledged in the leader's own epoch.
  const majorityDurable = cfg.w === "majority" || cfg.followers === "sync";
  const notes: string[] = [];
  const s: Supports = { ...NOTHING, conflicts: "none", convergence: true };
  if (cfg.failover === "manual") {
    s.availability = "leader";
    s.noLostWrites = true;
    s.casAtomic = true;
    notes.push(
      "manual failover: guarantees hold while no failover happens (crashes, pauses and partitions only make the leader unavailable); an operator's `promote` starts an epoch like automatic failover and then only the auto guarantees hold",
    );
    if (cfg.readFrom === "leader") {
      s.linearizable = true;
      s.sequential = true;
      s.readYourWrites = true;
      s.monotonicReads = true;
      s.monotonicWrites = true;
      s.writesFollowReads = true;
    } else {
      // Every follower holds a prefix of the one log and the session token (a log position) makes a follower wait
      // until it holds the client's last write or read, so each session reads prefixes that only grow and include
      // its own writes: the log order is one total order every session agrees with (sequential consistency).
      s.sequential = true;
      s.readYourWrites = true;
      s.monotonicReads = true;
      s.monotonicWrites = true;
      s.writesFollowReads = true;
      notes.push(
        "follower reads: session guarantees rely on the client passing back the reply `token` (a log position)",
      );
    }
  } else {
    s.availability = "majority";
    s.noLostWrites = majorityDurable;
    s.casAtomic = majorityDurable;
    s.monotonicWrites = majorityDurable;
    notes.push(
      "automatic failover: a majority vote with an up-to-date-log check gives one leader per epoch, but a deposed leader that has not yet seen the newer epoch still serves stale reads (no leases), so reads are not linearizable",
    );
    if (!majorityDurable) {
      notes.push(
        "w below a majority: a failover loses acknowledged writes that only the old leader held; they are rolled back when it rejoins (status().rolledBack)",
      );
    }
  }
  if (!majorityDurable)
    notes.push("per-request `w` below the default weakens durability across failover for that write");
  s.notes = notes;
  return s;
}
