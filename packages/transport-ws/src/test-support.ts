import { createServer } from "node:net";
import { WebSocket } from "ws";
import { decodeFrame, encodeFrame } from "./codec.js";
import type { Codec } from "./wire.js";

// Helpers for this package's tests and the bench's fuzz run (real sockets, no mocks). Not part of the API.

/** freePort asks the OS for a free TCP port on 127.0.0.1 (for peers that must know each other's URL up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** waitFor polls `pred` until it holds; rejects after `maxMs` (a bound on the test, not a timing assertion). */
export async function waitFor(pred: () => boolean, maxMs = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + maxMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** RawSocket is a WebSocket that sends whatever it is told and records every frame and the close. */
export class RawSocket {
  readonly frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  error: Error | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      try {
        this.frames.push(decodeFrame(data as Buffer, isBinary) as Record<string, unknown>);
      } catch {
        this.frames.push({ t: "undecodable" });
      }
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    ws.on("error", (e) => {
      this.error = e;
    });
  }

  static open(
    url: string,
    options: { maxPayload?: number; ca?: Buffer; autoPong?: boolean } = {},
  ): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
      const raw = new RawSocket(ws);
      ws.once("open", () => resolve(raw));
      ws.once("error", reject);
    });
  }

  /** send encodes a frame with `codec`. */
  frame(frame: unknown, codec: Codec = "json"): void {
    this.ws.send(encodeFrame(frame, codec));
  }

  /** bytes sends raw bytes as a binary (default) or text frame. */
  bytes(data: Buffer | string, binary = true): void {
    this.ws.send(data, { binary });
  }

  async next(
    pred: (f: Record<string, unknown>) => boolean = () => true,
    maxMs = 5000,
  ): Promise<Record<string, unknown>> {
    await waitFor(() => this.frames.some(pred), maxMs, "frame");
    return this.frames.find(pred)!;
  }

  async waitClosed(maxMs = 5000): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.closed !== undefined, maxMs, "close");
    return this.closed!;
  }

  close(): void {
    this.ws.terminate();
  }
}
