import type { NodeId, VersionVector } from "@consistency-lab/kv";
import { isKeyClock, type KeyClock } from "./key-clock.js";

/**
 * ReplicatedWrite is one write as it travels from its origin to every peer, and as the origin keeps it until every
 * peer has applied it. `(origin, seq)` is its dot in the node-level stream: origin's seq-th write, over all keys.
 */
export interface ReplicatedWrite {
  origin: NodeId;
  seq: number;
  /**
   * Writes of other nodes the origin had applied when it accepted this write (its applied vector, without its own
   * entry: `seq` already orders the origin's own writes). COPS calls these the write's dependencies; a replica
   * applies the write only after it has applied all of them (Lloyd et al. SOSP'11 §3, `dep_check`).
   */
  deps: VersionVector;
  key: string;
  /**
   * The key's whole DVV set at the origin right after the write (null values are delete tombstones). A replica
   * applies the write by `dvvSync`, which is idempotent and commutative, so a duplicate is harmless.
   */
  clock: KeyClock;
}

/** WritesMessage carries writes of the sender (their origin), in seq order: new ones and retransmissions. */
export interface WritesMessage {
  type: "writes";
  writes: ReplicatedWrite[];
}

/** AckMessage tells a write's origin how many of its writes the sender has applied (cumulative). */
export interface AckMessage {
  type: "ack";
  upTo: number;
}

/** CausalMessage is every message causal nodes exchange. */
export type CausalMessage = WritesMessage | AckMessage;

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

function isVector(x: unknown): x is VersionVector {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  return Object.entries(x).every(([k, v]) => k !== "__proto__" && isCount(v));
}

/** isReplicatedWrite checks a write from the wire or from disk. */
export function isReplicatedWrite(w: unknown): w is ReplicatedWrite {
  if (typeof w !== "object" || w === null) return false;
  const x = w as ReplicatedWrite;
  return (
    typeof x.origin === "string" &&
    isCount(x.seq) &&
    x.seq > 0 &&
    isVector(x.deps) &&
    typeof x.key === "string" &&
    isKeyClock(x.clock)
  );
}

/**
 * isCausalMessage checks a peer message. A malformed one is dropped by the core (bad input from the wire never
 * crashes a node, STYLE "Errors").
 */
export function isCausalMessage(m: unknown): m is CausalMessage {
  if (typeof m !== "object" || m === null) return false;
  const x = m as CausalMessage;
  if (x.type === "ack") return isCount(x.upTo);
  if (x.type === "writes") return Array.isArray(x.writes) && x.writes.every(isReplicatedWrite);
  return false;
}
