import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * DelayProxy forwards TCP connections from a listen port to a target port, holding every chunk for `delayMs` in each
 * direction. It is the one delay mechanism both etcd and our Raft sit behind in the etcd comparison, so their delay
 * rows are like for like. A constant delay keeps each direction's byte order (Node runs equal-delay timers FIFO).
 */
export class DelayProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly listenPort: number,
    readonly targetPort: number,
    public delayMs: number,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((inbound) => {
      const outbound = createConnection({ host: "127.0.0.1", port: this.targetPort });
      // No Nagle on either side: with it, a small delayed write can wait for the peer's delayed ACK (40 ms on
      // Linux), which would add latency the injected delay does not account for.
      inbound.setNoDelay(true);
      outbound.setNoDelay(true);
      this.sockets.add(inbound);
      this.sockets.add(outbound);
      const pipe = (from: Socket, to: Socket) => {
        from.on("data", (chunk) => {
          if (this.delayMs <= 0) {
            if (!to.destroyed) to.write(chunk);
            return;
          }
          setTimeout(() => {
            if (!to.destroyed) to.write(chunk);
          }, this.delayMs);
        });
        from.on("close", () => setTimeout(() => to.destroy(), this.delayMs));
        from.on("error", () => to.destroy());
      };
      pipe(inbound, outbound);
      pipe(outbound, inbound);
      inbound.on("close", () => this.sockets.delete(inbound));
      outbound.on("close", () => this.sockets.delete(outbound));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.listenPort, "127.0.0.1", () => resolve());
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
