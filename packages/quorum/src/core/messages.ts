import type { ClientReply, ClientRequest, NodeId } from "@consistency-lab/kv";
import type { MerkleTree } from "./merkle.js";
import type { KeyState } from "./versioned.js";

/**
 * StoreMessage stores a key state: a coordinator's write, a read repair or a blocking repair. `hintFor` marks a
 * sloppy-quorum copy kept for a down primary (Dynamo §4.6). `op` names the coordinator's pending request ("" = no
 * ack wanted). `overwrite` is only ever set, and only honoured, by the broken read-repair variant (`engines.ts`).
 */
export interface StoreMessage {
  type: "store";
  op: string;
  key: string;
  state: KeyState;
  hintFor?: NodeId;
  overwrite?: boolean;
}

/**
 * QuorumMessage is everything quorum nodes say to each other. Names are noun-action. Every message that carries
 * replica state carries whole key states, never deltas: a DVV set is only meaningful as a whole (its counters
 * claim the coordinator's earlier dots), and a join of whole states is safe in any order and any number of times,
 * so loss, duplication and reordering need no extra machinery.
 */
export type QuorumMessage =
  /** Failure-detector heartbeat; any message counts as a sign of life. */
  | { type: "ping" }
  | StoreMessage
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
  /**
   * Anti-entropy of one range, three steps: A sends its Merkle tree; B answers with the digest of every key it
   * holds in the buckets that differ (`more`: not all fitted); A sends the states B lacks or holds differently and
   * asks for B's differing ones, which B sends. `more` on states says the sender had more to give than fitted: the
   * receiver starts the next exchange at once, so a long catch-up runs at one round trip per batch (ack-clocked),
   * not one batch per anti-entropy period.
   */
  | { type: "ae-tree"; group: string; tree: MerkleTree }
  | { type: "ae-keys"; group: string; buckets: number[]; digests: [string, string][]; more: boolean }
  | { type: "ae-want"; group: string; keys: string[] }
  | { type: "ae-states"; group: string; states: [string, KeyState][]; more: boolean };
