import type { AdminCommand, ClientReply, ClientRequest, NodeId, NodeStatus } from "@consistency-lab/kv";
import type { NodeTransport, TransportFactory, TransportHandlersLike } from "./node-transport.js";

/**
 * FakeNetwork is an in-process stand-in for the WebSocket transport, for driver tests: peer messages are
 * delivered asynchronously (next event-loop turn, like a socket), links can be cut, and tests talk to a node
 * as a client would. Not exported from the package index.
 */
export class FakeNetwork {
  private readonly handlers = new Map<NodeId, TransportHandlersLike>();
  private readonly cut = new Set<string>();
  sent = 0;
  private nextReq = 0;

  readonly factory: TransportFactory = (settings, handlers) => {
    const net = this;
    const t: NodeTransport = {
      async start() {
        net.handlers.set(settings.id, handlers);
        return { port: 0 };
      },
      send(to, message) {
        net.sent++;
        if (net.cut.has(`${settings.id}>${to}`)) return;
        const copy = JSON.parse(JSON.stringify(message)) as unknown;
        setImmediate(() => net.handlers.get(to)?.onPeerMessage(settings.id, copy));
      },
      stats: () => ({
        fake: true,
        peersConnected: [...net.handlers.keys()].filter((k) => k !== settings.id),
      }),
      async close() {
        net.handlers.delete(settings.id);
      },
    };
    return t;
  };

  /** request sends a client request to `node` and resolves with its reply. */
  request(node: NodeId, req: Omit<ClientRequest, "id"> & { id?: string }): Promise<ClientReply> {
    const h = this.handlers.get(node);
    if (!h) return Promise.reject(new Error(`no node ${node}`));
    const id = req.id ?? `c${++this.nextReq}`;
    return new Promise((resolve) => h.onClientRequest({ ...req, id } as ClientRequest, resolve));
  }

  admin(node: NodeId, cmd: AdminCommand): Promise<ClientReply> {
    return new Promise((resolve) => this.handlers.get(node)!.onAdmin(cmd, resolve));
  }

  status(node: NodeId): NodeStatus {
    return this.handlers.get(node)!.onStatus();
  }

  deliver(from: NodeId, to: NodeId, message: unknown): void {
    this.handlers.get(to)?.onPeerMessage(from, message);
  }

  /** partition cuts both directions between a and b. */
  partition(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  heal(): void {
    this.cut.clear();
  }
}
