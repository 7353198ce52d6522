import { type ClientReply, type ClientRequest, MemoryCore, type NodeId } from "@consistency-lab/kv";
import type { Logger } from "./logger.js";
import { type TransportOptions, WsTransport } from "./ws-transport.js";

/** The peer token MemoryNodes use unless given one (tests only: a real cluster generates its own). */
export const MEMORY_NODE_PEER_TOKEN = "memory-node-peer-token";

/** MemoryNodeOptions configure a MemoryNode. */
export interface MemoryNodeOptions
  extends Partial<Omit<TransportOptions, "id" | "token" | "adminToken" | "peerToken">> {
  id: NodeId;
  token: string;
  adminToken: string;
  /** The peer token; every MemoryNode of a test shares the default unless one says otherwise. */
  peerToken?: string;
  /**
   * intercept may answer a request instead of the store: a reply is sent as is, "drop" sends nothing now (a node
   * that hangs; the interceptor may keep `reply` and answer later), undefined lets the store serve it.
   */
  intercept?: (req: ClientRequest, reply: (r: ClientReply) => void) => ClientReply | "drop" | undefined;
  logger?: Logger;
}

/**
 * MemoryNode is the smallest real server: a MemoryCore (the reference engine) behind a WsTransport. It serves
 * clients on a real socket and records the peer messages it receives. For tests, examples and the fuzz run; real
 * clusters use @consistency-lab/node.
 */
export class MemoryNode {
  /** Peer messages received, in arrival order. */
  readonly peerMessages: { from: NodeId; message: unknown }[] = [];
  /** Called for every peer message (after it was recorded). */
  onPeerMessage: ((from: NodeId, message: unknown) => void) | undefined;
  private constructor(
    readonly transport: WsTransport,
    readonly core: MemoryCore,
    readonly port: number,
  ) {}

  /** start listens (on an ephemeral port unless `listen` says otherwise) and dials the peers. */
  static async start(o: MemoryNodeOptions): Promise<MemoryNode> {
    const core = new MemoryCore({ id: o.id, records: new Map() });
    let node: MemoryNode | undefined;
    const early: { from: NodeId; message: unknown }[] = [];
    const transport = new WsTransport(
      {
        ...o,
        id: o.id,
        listen: o.listen ?? { host: "127.0.0.1", port: 0 },
        peers: o.peers ?? {},
        token: o.token,
        adminToken: o.adminToken,
        peerToken: o.peerToken ?? MEMORY_NODE_PEER_TOKEN,
      },
      {
        onPeerMessage(from, message) {
          if (!node) {
            early.push({ from, message });
            return;
          }
          node.peerMessages.push({ from, message });
          node.onPeerMessage?.(from, message);
        },
        onClientRequest(req, reply) {
          const r = o.intercept?.(req, reply);
          if (r === "drop") return;
          if (r !== undefined) {
            reply({ ...r, id: req.id });
            return;
          }
          core.request(req);
          for (const rep of core.ready().replies) reply(rep);
        },
        onAdmin(cmd, reply) {
          reply({
            id: cmd.id,
            ok: false,
            error: { code: "KV_NOT_SUPPORTED", message: `no admin command ${cmd.command}` },
          });
        },
        onStatus: () => core.status(),
      },
      o.logger,
    );
    const { port } = await transport.start();
    node = new MemoryNode(transport, core, port);
    node.peerMessages.push(...early);
    return node;
  }

  /** url is the endpoint clients use. */
  get url(): string {
    return this.transport.members()[this.core.id]!;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
