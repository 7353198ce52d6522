import type {
  AdminCommand,
  ClientReply,
  ClientRequest,
  KvErrorCode,
  NodeId,
  NodeStatus,
} from "@consistency-lab/kv";
import { MAX_MESSAGE_BYTES } from "@consistency-lab/kv";
import type { FaultCommand } from "./faults.js";

/** WIRE_VERSION is the wire-protocol version carried in every handshake; a mismatch is refused. */
export const WIRE_VERSION = 1;

/** Codec names a frame encoding. Text frames are always JSON, binary frames always msgpack. */
export type Codec = "json" | "msgpack";

/** Role is what the connecting side says it is in its hello. */
export type Role = "peer" | "client" | "admin";

/** HelloFrame is the first frame the connecting side sends. */
export interface HelloFrame {
  t: "hello";
  v: number;
  role: Role;
  /** The sender's node id (peers only). */
  id?: NodeId;
  /** Client token for the client role, admin token for the admin role; peers send a proof instead (auth.ts). */
  token: string;
  codec: Codec;
  /** Peers: when the hello was made (ms since the epoch) and a fresh nonce, both covered by `proof`. */
  ts?: number;
  nonce?: string;
  /** Peers: `peerProof(peerToken, id, receiver id, ts, nonce)`. */
  proof?: string;
}

/** WelcomeFrame accepts a hello: who answered and where every member can be reached. */
export interface WelcomeFrame {
  t: "welcome";
  v: number;
  id: NodeId;
  members: Record<NodeId, string>;
  codec: Codec;
  /**
   * Where a client may retry a write whose earlier attempt may have taken effect (kv `WriteRetry`); absent means
   * anywhere. Sent to clients so that they retry as the engine needs without being told which engine it is.
   */
  retry?: "same-node";
}

/** ErrorFrame is a connection-level error; the sender closes the connection right after it. */
export interface ErrorFrame {
  t: "error";
  code: KvErrorCode;
  message: string;
}

export interface RequestFrame {
  t: "req";
  req: ClientRequest;
}
export interface ReplyFrame {
  t: "rep";
  rep: ClientReply;
}
export interface PeerFrame {
  t: "msg";
  m: unknown;
}
export interface StatusFrame {
  t: "status";
  id: string;
}
export interface StatusReplyFrame {
  t: "status-rep";
  id: string;
  status: NodeStatus;
}
export interface AdminFrame {
  t: "admin";
  cmd: AdminCommand;
}
/** FaultFrame carries a fault command; `id` correlates the `rep` that acknowledges it. */
export interface FaultFrame {
  t: "fault";
  id?: string;
  cmd: FaultCommand;
}

/** Frame is every frame of wire version 1. */
export type Frame =
  | HelloFrame
  | WelcomeFrame
  | ErrorFrame
  | RequestFrame
  | ReplyFrame
  | PeerFrame
  | StatusFrame
  | StatusReplyFrame
  | AdminFrame
  | FaultFrame;

/**
 * CLOSE_CODES are the WebSocket close codes the transport sends with each connection-level error
 * (4000–4999 is the range RFC 6455 §7.4.2 leaves to applications). ws itself closes with 1009 for an oversized
 * frame and 1007 for invalid UTF-8 in a text frame.
 */
export const CLOSE_CODES = {
  KV_UNAUTHORIZED: 4001,
  KV_VERSION_MISMATCH: 4002,
  KV_PROTOCOL: 4003,
  KV_OVERLOADED: 4004,
  /** The server is shutting down (RFC 6455 "going away"). */
  GOING_AWAY: 1001,
  /** Message too big (RFC 6455), sent by ws when maxPayload is exceeded. */
  TOO_BIG: 1009,
} as const;

/** closeCodeFor maps a connection-level error code to its close code. */
export function closeCodeFor(code: KvErrorCode): number {
  switch (code) {
    case "KV_UNAUTHORIZED":
      return CLOSE_CODES.KV_UNAUTHORIZED;
    case "KV_VERSION_MISMATCH":
      return CLOSE_CODES.KV_VERSION_MISMATCH;
    case "KV_OVERLOADED":
      return CLOSE_CODES.KV_OVERLOADED;
    default:
      return CLOSE_CODES.KV_PROTOCOL;
  }
}

/** DEFAULTS are the transport's limits and timings; every one is overridable in TransportOptions. */
export const DEFAULTS = {
  host: "127.0.0.1",
  /**
   * Largest frame a node accepts on any connection: 8 MiB, so that a request with a value over the 1 MiB limit
   * (LIMITS.maxValueBytes) still arrives and is answered KV_TOO_LARGE on its open connection; past it ws closes
   * the connection (1009) before buffering.
   */
  maxPayload: 8 * 1024 * 1024,
  /**
   * Largest peer message a node sends (kv MAX_MESSAGE_BYTES, 2 MiB): over it a message is dropped at the sender
   * and counted, as the simulator drops it. Engines bound their batches below it (kv takeBatch).
   */
  maxPeerMessage: MAX_MESSAGE_BYTES,
  codec: "msgpack" as Codec,
  sendQueueLimit: 4096,
  /** A connection that has not said hello within this time is closed (connection floods). */
  handshakeTimeoutMs: 5000,
  /** Requests in flight per client connection; more are answered KV_OVERLOADED. */
  maxInFlight: 1024,
  /** Open connections per node; more are refused with a KV_OVERLOADED error frame and close code 4004. */
  maxConnections: 1024,
  /**
   * Connections that have not completed their hello (each may hold a frame of up to maxPayload); past it the oldest
   * is closed with KV_OVERLOADED to make room, so a flood of idle sockets cannot crowd out clients that say hello.
   */
  maxUnauthenticated: 64,
  /** Reconnect backoff: min(max, base * 2^attempt), times a uniform factor in [0.5, 1) (equal jitter). */
  backoffBaseMs: 50,
  backoffMaxMs: 2000,
  /**
   * Bytes buffered in a socket beyond which the other side counts as not reading: peer links drop further
   * messages, client connections are closed (replies would otherwise pile up without bound).
   */
  maxBufferedBytes: 16 * 1024 * 1024,
  /**
   * Ping period. A connection that has not answered the previous ping when the next one is due is terminated
   * (half-open TCP after a host dies or a cable is pulled); a peer link then reconnects.
   */
  heartbeatMs: 10_000,
} as const;
