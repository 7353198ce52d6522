import { readFileSync } from "node:fs";
import {
  type AdminCommand,
  type ClientReply,
  KvError,
  type NodeId,
  type NodeStatus,
} from "@consistency-lab/kv";
import type { Codec, FaultCommand } from "@consistency-lab/transport-ws";
import { WireConnection } from "./wire-connection.js";

/** AdminClient is an authenticated admin connection to one node (for `clab fault` and `clab admin`). */
export interface AdminClient {
  /** The node's id. */
  readonly nodeId: NodeId;
  /** Every member's endpoint, as the node knows them. */
  readonly members: Record<NodeId, string>;
  admin(cmd: AdminCommand): Promise<ClientReply>;
  /** fault applies one fault command to the node's outgoing links; rejects with a KvError. */
  fault(cmd: FaultCommand): Promise<void>;
  status(): Promise<NodeStatus>;
  close(): Promise<void>;
}

/**
 * connectAdmin opens an admin connection to `endpoint` with the admin token; rejects with KV_UNAUTHORIZED when the
 * token is wrong, KV_UNAVAILABLE when the node cannot be reached.
 */
export async function connectAdmin(
  endpoint: string,
  adminToken: string,
  options: { timeoutMs?: number; tls?: { ca?: string }; codec?: Codec } = {},
): Promise<AdminClient> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const conn = await WireConnection.open(endpoint, {
    role: "admin",
    token: adminToken,
    timeoutMs,
    ...(options.codec ? { codec: options.codec } : {}),
    ...(options.tls?.ca ? { ca: readFileSync(options.tls.ca) } : {}),
  });
  let n = 0;
  return {
    nodeId: conn.nodeId,
    members: conn.members,
    async admin(cmd) {
      return WireConnection.reply(await conn.call({ t: "admin", cmd }, cmd.id, timeoutMs));
    },
    async fault(cmd) {
      const id = `fault.${++n}`;
      const rep = WireConnection.reply(await conn.call({ t: "fault", id, cmd }, id, timeoutMs));
      if (rep.error) throw KvError.from(rep.error);
    },
    async status() {
      const id = `status.${++n}`;
      return WireConnection.status(await conn.call({ t: "status", id }, id, timeoutMs));
    },
    async close() {
      conn.close();
    },
  };
}
