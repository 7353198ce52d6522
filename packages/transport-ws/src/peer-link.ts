import type { NodeId } from "@consistency-lab/kv";
import { WebSocket } from "ws";
import { newNonce, peerProof } from "./auth.js";
import { decodeFrame, encodeFrame } from "./codec.js";
import type { Logger } from "./logger.js";
import { type Codec, DEFAULTS, type HelloFrame, WIRE_VERSION } from "./wire.js";

/** PeerLinkOptions configure one outgoing link. */
export interface PeerLinkOptions {
  self: NodeId;
  peer: NodeId;
  url: string;
  /** The peer token: never sent, it keys the proof in each hello. */
  peerToken: string;
  codec: Codec;
  maxPayload: number;
  queueLimit: number;
  ca?: Buffer;
  backoffBaseMs: number;
  backoffMaxMs: number;
  handshakeTimeoutMs: number;
  heartbeatMs: number;
  logger: Logger;
  /** Called when a message is dropped (queue overflow, socket not writable). */
  onDrop(): void;
  /** Called when a frame was handed to the socket. */
  onSent(): void;
  /** Called when the link's handshake completes or the link goes down. */
  onState(up: boolean): void;
}

/**
 * PeerLink is this node's one outgoing connection to a peer, used only for sending (the peer's own outgoing
 * connection carries the other direction, so there is no dial race to break). It reconnects with exponential
 * backoff and jitter, and while it is down it keeps a bounded queue that drops the oldest message on overflow:
 * engines retransmit, so losing old messages is safe and keeps memory bounded while a peer is away.
 */
export class PeerLink {
  private ws: WebSocket | undefined;
  private up = false;
  private closed = false;
  private attempt = 0;
  private queue: (string | Buffer)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly o: PeerLinkOptions) {}

  /** isUp tells whether the handshake completed and frames go straight to the socket. */
  get isUp(): boolean {
    return this.up;
  }

  start(): void {
    this.connect();
  }

  /** send hands an encoded `{t:"msg"}` frame to the socket, or queues it while the link is down. */
  send(frame: string | Buffer): void {
    if (this.closed) return;
    if (this.up && this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.write(frame);
      return;
    }
    this.queue.push(frame);
    if (this.queue.length > this.o.queueLimit) {
      this.queue.shift();
      this.o.onDrop();
    }
  }

  private write(frame: string | Buffer): void {
    const ws = this.ws!;
    if (ws.bufferedAmount > DEFAULTS.maxBufferedBytes) {
      // The peer is not reading; buffering more would only grow memory. Engines retransmit.
      this.o.onDrop();
      return;
    }
    try {
      ws.send(frame, (err) => {
        if (err) this.o.onDrop();
      });
      this.o.onSent();
    } catch {
      this.o.onDrop();
    }
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.o.url, {
      maxPayload: this.o.maxPayload,
      perMessageDeflate: false,
      handshakeTimeout: this.o.handshakeTimeoutMs,
      ...(this.o.ca ? { ca: this.o.ca } : {}),
    });
    this.ws = ws;
    ws.on("open", () => {
      const ts = Date.now();
      const nonce = newNonce();
      const hello: HelloFrame = {
        t: "hello",
        v: WIRE_VERSION,
        role: "peer",
        id: this.o.self,
        token: "",
        codec: this.o.codec,
        ts,
        nonce,
        proof: peerProof(this.o.peerToken, this.o.self, this.o.peer, ts, nonce),
      };
      ws.send(encodeFrame(hello, this.o.codec));
      this.handshakeTimer = setTimeout(() => ws.terminate(), this.o.handshakeTimeoutMs);
    });
    ws.on("message", (data, isBinary) => {
      let frame: unknown;
      try {
        frame = decodeFrame(data as Buffer, isBinary);
      } catch (e) {
        this.o.logger.warn({ peer: this.o.peer, err: (e as Error).message }, "undecodable frame from peer");
        ws.terminate();
        return;
      }
      const f = frame as { t?: unknown; code?: unknown; message?: unknown };
      if (f?.t === "welcome" && !this.up) {
        clearTimeout(this.handshakeTimer);
        this.up = true;
        this.attempt = 0;
        this.startHeartbeat(ws);
        this.o.onState(true);
        this.o.logger.info({ peer: this.o.peer }, "peer link up");
        const q = this.queue;
        this.queue = [];
        for (const frame of q) this.write(frame);
      } else if (f?.t === "error") {
        this.o.logger.error({ peer: this.o.peer, code: f.code, message: f.message }, "peer refused the link");
      }
      // Anything else on an outgoing link is ignored: replies never travel on it.
    });
    ws.on("error", (err) => {
      // Always handled: an unhandled 'error' event would crash the process. 'close' follows.
      this.o.logger.warn({ peer: this.o.peer, err: err.message }, "peer link error");
    });
    ws.on("close", () => {
      clearTimeout(this.handshakeTimer);
      clearInterval(this.heartbeat);
      if (this.ws === ws) this.ws = undefined;
      if (this.up) {
        this.up = false;
        this.o.onState(false);
        this.o.logger.info({ peer: this.o.peer }, "peer link down");
      }
      this.scheduleReconnect();
    });
  }

  private startHeartbeat(ws: WebSocket): void {
    let alive = true;
    ws.on("pong", () => {
      alive = true;
    });
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (!alive) {
        this.o.logger.warn({ peer: this.o.peer }, "peer link missed a heartbeat; reconnecting");
        ws.terminate();
        return;
      }
      alive = false;
      try {
        ws.ping();
      } catch {
        // Closing: 'close' follows.
      }
    }, this.o.heartbeatMs);
    this.heartbeat.unref();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const cap = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** this.attempt);
    // Equal jitter (half fixed, half random) spreads reconnects of many nodes without ever retrying instantly.
    const delay = cap / 2 + (Math.random() * cap) / 2;
    this.attempt = Math.min(this.attempt + 1, 30);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  /**
   * peerIsBack says the peer just connected to us, so it is up again: a link waiting out its reconnect backoff
   * (up to backoffMaxMs after a peer was down for a while) dials now, so a restarted node is caught up at once.
   */
  peerIsBack(): void {
    if (this.closed || this.up || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.attempt = 0;
    this.connect();
  }

  /** close stops the link for good: no reconnect, queued messages dropped. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    clearTimeout(this.handshakeTimer);
    this.queue = [];
    if (this.ws) {
      try {
        this.ws.terminate();
      } catch {
        // Already closed.
      }
    }
    if (this.up) {
      this.up = false;
      this.o.onState(false);
    }
  }
}
