import type { ClientRequest, NodeId } from "@consistency-lab/kv";
import { type KeyState, mergeStates, stateDigest } from "./versioned.js";

/** Target is one replica a request goes to: a primary, or a fallback standing in for `hintFor`. */
export interface Target {
  node: NodeId;
  hintFor?: NodeId;
}

/** Origin says where a reply goes: straight to the client, or back to the node that forwarded the request. */
export type Origin = { kind: "client" } | { kind: "forward"; from: NodeId; fwd: string };

/**
 * ReadOp collects R replies for a get, or for the read phase of a cas (Dynamo §4.5). It stays open after the
 * reply until every target answered or the deadline passed, so late replies still get read-repaired.
 */
export interface ReadOp {
  kind: "read";
  id: string;
  req: ClientRequest;
  origin: Origin;
  targets: Target[];
  r: number;
  deadline: number;
  responses: Record<NodeId, KeyState | null>;
  /** The join of the replies when the read completed. */
  merged?: KeyState | undefined;
  replied: boolean;
  /** Blocking read repair: replicas known to hold `merged`, and how many must before replying. */
  holders?: NodeId[];
  holdersNeeded?: number;
}

/** WriteOp collects W acks for a put, a delete or the write phase of a cas. */
export interface WriteOp {
  kind: "write";
  id: string;
  req: ClientRequest;
  origin: Origin;
  targets: Target[];
  w: number;
  deadline: number;
  acks: NodeId[];
  /** The context returned to the client: the causal context of the state written. */
  context: string;
  replied: boolean;
}

/** ForwardOp waits for the node a write was forwarded to. */
export interface ForwardOp {
  kind: "forward";
  id: string;
  req: ClientRequest;
  to: NodeId;
  deadline: number;
}

export type PendingOp = ReadOp | WriteOp | ForwardOp;

/** addResponse records a replica's reply to a read once; duplicates (the network may duplicate) are ignored. */
export function addResponse(op: ReadOp, from: NodeId, state: KeyState | null): boolean {
  if (!op.targets.some((t) => t.node === from) || Object.hasOwn(op.responses, from)) return false;
  op.responses[from] = state;
  return true;
}

/** readReady is true once R distinct targets answered. */
export function readReady(op: ReadOp): boolean {
  return Object.keys(op.responses).length >= op.r;
}

/** mergeResponses joins every reply received so far. */
export function mergeResponses(op: ReadOp): KeyState | undefined {
  let out: KeyState | undefined;
  for (const node of Object.keys(op.responses).sort())
    out = mergeStates(out, op.responses[node] ?? undefined);
  return out;
}

/** staleResponders lists the targets whose reply differs from `merged`: the ones read repair must update. */
export function staleResponders(op: ReadOp, merged: KeyState | undefined): Target[] {
  const want = stateDigest(merged);
  return op.targets.filter(
    (t) => Object.hasOwn(op.responses, t.node) && stateDigest(op.responses[t.node] ?? undefined) !== want,
  );
}

/** addAck records a write ack once per target. */
export function addAck(op: WriteOp, from: NodeId): boolean {
  if (!op.targets.some((t) => t.node === from) || op.acks.includes(from)) return false;
  op.acks.push(from);
  return true;
}

/** writeReady is true once W distinct targets acknowledged. */
export function writeReady(op: WriteOp): boolean {
  return op.acks.length >= op.w;
}
