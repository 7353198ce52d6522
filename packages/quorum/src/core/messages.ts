import type { ClientReply, ClientRequest, NodeId } from "@consistency-lab/kv";
import type { MerkleTree } from "./merkle.js";
import type { KeyState } from "./versioned.js";

/**
 * QuorumMessage is everything quorum nodes say to each other. Names are noun-action. Every message that carries
 * replica state carries whole key states, never deltas: a DVV set is only meaningful as a whole (its counters
 * claim the coordinator's earlier dots), and a join of whole states is safe in any order and any number of times,
 * so loss, duplication and reordering need no extra machinery.
 */
export type QuorumMessage =
  /** Failure-detector heartbeat; any message counts as a sign of life. */
  | { type: "ping" }
  /**
   * Store a key state: a coordinator's write, a read repair or a blocking repair. `hintFor` marks a sloppy-quorum
   * copy kept for a down primary (Dynamo §4.6). `op` names the coordinator's pending request ("" = no ack wanted).
   * `overwrite` is only ever set by the broken read-repair variant.
   */
  | { type: "store"; op: string; key: string; state: KeyState; hintFor?: NodeId; overwrite?: boolean }
  | { type: "store-ack"; op: string; key: string }
  /** Read a key's state for a coordinator; a fallback answers from the hints it holds. */
  | { type: "fetch"; op: string; key: string; hinted: boolean }
  | { type: "fetch-reply"; op: string; key: string; state: KeyState | null }
  /** A write that reached a node outside the key's replicas, passed to one that can mint its dot. */
  | { type: "forward"; fwd: string; req: ClientRequest; timeoutMs: number }
  | { type: "forward-reply"; fwd: string; reply: ClientReply }
  /** Hinted handoff: a fallback gives a hinted copy back to its owner. */
  | { type: "handoff"; key: string; state: KeyState; digest: string }
  | { type: "handoff-ack"; key: string; digest: string }
  /** Anti-entropy: a replica's Merkle tree of one range, then the states in the buckets that differ, both ways. */
  | { type: "ae-tree"; group: string; tree: MerkleTree }
  | { type: "ae-diff"; group: string; buckets: number[]; states: [string, KeyState][] }
  | { type: "ae-states"; group: string; states: [string, KeyState][] };
