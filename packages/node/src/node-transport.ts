import type { AdminCommand, ClientReply, ClientRequest, NodeId, NodeStatus } from "@consistency-lab/kv";

/**
 * NodeTransport is the slice of `WsTransport` (@consistency-lab/transport-ws) the node runtime uses. It is an
 * interface so the driver can be tested over an in-process network, and so a future transport slots in.
 */
export interface NodeTransport {
  start(): Promise<{ port: number }>;
  /** Fire-and-forget to a peer; the transport applies injected faults on this outgoing link. */
  send(to: NodeId, message: unknown): void;
  stats(): object;
  close(): Promise<void>;
}

/** TransportHandlersLike mirrors the transport's TransportHandlers: how inputs reach the node. */
export interface TransportHandlersLike {
  onPeerMessage(from: NodeId, message: unknown): void;
  onClientRequest(req: ClientRequest, reply: (r: ClientReply) => void): void;
  onAdmin(cmd: AdminCommand, reply: (r: ClientReply) => void): void;
  onStatus(): NodeStatus;
}

/** TransportSettings mirrors the transport's TransportOptions. */
export interface TransportSettings {
  id: NodeId;
  listen: { host: string; port: number };
  peers: Record<NodeId, string>;
  token: string;
  adminToken: string;
  /** The peer token members prove they hold; clients never have it. */
  peerToken: string;
  tls?: { cert: string; key: string; ca?: string };
  /** The engine's write-retry policy for the welcome (kv `WriteRetry`). */
  writeRetry?: "anywhere" | "same-node";
}

/** LoggerLike is what transports and the driver log through (a pino logger fits). */
export interface LoggerLike {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
  debug?(o: object, msg?: string): void;
}

/** TransportFactory builds the transport for one node. */
export type TransportFactory = (
  settings: TransportSettings,
  handlers: TransportHandlersLike,
  logger: LoggerLike,
) => NodeTransport;
