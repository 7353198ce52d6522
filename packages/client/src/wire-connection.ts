import {
  type ClientReply,
  isKvErrorCode,
  KvError,
  type NodeId,
  type NodeStatus,
  type WriteRetry,
} from "@consistency-lab/kv";
import {
  type Codec,
  DEFAULTS,
  decodeFrame,
  encodeFrame,
  type HelloFrame,
  type Role,
  WebSocket,
  WIRE_VERSION,
} from "@consistency-lab/transport-ws";

/** ConnectOptions say how to open one connection to a node. */
export interface ConnectOptions {
  role: Exclude<Role, "peer">;
  token: string;
  codec?: Codec;
  /** PEM bytes of the CA that signed the nodes' certificates (wss with a private CA). */
  ca?: Buffer;
  maxPayload?: number;
  /** Give up connecting after this long (KV_UNAVAILABLE). */
  timeoutMs: number;
}

interface Pending {
  resolve(frame: Record<string, unknown>): void;
  reject(err: KvError): void;
  timer: NodeJS.Timeout;
}

/**
 * WireConnection is one client-side WebSocket to a node, past its handshake: it correlates replies with
 * requests by id. A connection that closes fails its in-flight calls with KV_ABORTED (the request may or may
 * not have taken effect); a call whose time runs out fails with KV_TIMEOUT and a late reply is ignored.
 */
export class WireConnection {
  private readonly pending = new Map<string, Pending>();
  private closedFlag = false;
  /** The code of the connection-level error the node sent before closing, if any. */
  refusal: KvError | undefined;

  private constructor(
    private readonly ws: WebSocket,
    private readonly codec: Codec,
    /** The node's id, from its welcome. */
    readonly nodeId: NodeId,
    /** Every member's endpoint, from the welcome. */
    readonly members: Record<NodeId, string>,
    /** Where the engine lets a maybe-applied write be retried, from the welcome (default anywhere). */
    readonly writeRetry: WriteRetry = "anywhere",
  ) {
    ws.on("message", (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on("close", () => this.onClose());
  }

  /** open connects, says hello and resolves after the welcome; rejects with the node's code when refused. */
  static open(url: string, o: ConnectOptions): Promise<WireConnection> {
    const codec = o.codec ?? DEFAULTS.codec;
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, {
          maxPayload: o.maxPayload ?? DEFAULTS.maxPayload,
          perMessageDeflate: false,
          handshakeTimeout: Math.max(1, Math.ceil(o.timeoutMs)),
          ...(o.ca ? { ca: o.ca } : {}),
        });
      } catch (e) {
        reject(new KvError("KV_INVALID_ARGUMENT", `bad endpoint ${url}: ${(e as Error).message}`));
        return;
      }
      let settled = false;
      const fail = (err: KvError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners("message");
        try {
          ws.terminate();
        } catch {
          // Not open yet.
        }
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new KvError("KV_UNAVAILABLE", `no welcome from ${url} in time`)),
        o.timeoutMs,
      );
      ws.on("error", (err) => fail(new KvError("KV_UNAVAILABLE", `cannot reach ${url}: ${err.message}`)));
      ws.on("close", (code) => fail(new KvError("KV_UNAVAILABLE", `${url} closed the connection (${code})`)));
      ws.once("open", () => {
        const hello: HelloFrame = { t: "hello", v: WIRE_VERSION, role: o.role, token: o.token, codec };
        ws.send(encodeFrame(hello, codec));
      });
      ws.once("message", (data, isBinary) => {
        let f: Record<string, unknown>;
        try {
          f = decodeFrame(data as Buffer, isBinary) as Record<string, unknown>;
        } catch {
          fail(new KvError("KV_PROTOCOL", `undecodable handshake reply from ${url}`));
          return;
        }
        if (f?.t === "error" && isKvErrorCode(f.code)) {
          fail(new KvError(f.code, `${url} refused: ${String(f.message)}`));
          return;
        }
        if (
          f?.t !== "welcome" ||
          typeof f.id !== "string" ||
          typeof f.members !== "object" ||
          f.members === null
        ) {
          fail(new KvError("KV_PROTOCOL", `unexpected handshake reply from ${url}`));
          return;
        }
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners("close");
        ws.removeAllListeners("error");
        ws.on("error", () => {
          // 'close' follows and fails what is in flight.
        });
        const members: Record<NodeId, string> = {};
        for (const [k, v] of Object.entries(f.members as Record<string, unknown>)) {
          if (typeof v === "string") members[k] = v;
        }
        const retry: WriteRetry = f.retry === "same-node" ? "same-node" : "anywhere";
        resolve(new WireConnection(ws, codec, f.id, members, retry));
      });
    });
  }

  /** isOpen tells whether calls can still be made. */
  get isOpen(): boolean {
    return !this.closedFlag && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * call sends `frame` and resolves with the reply frame whose id is `id` (a `rep` or `status-rep`). Rejects with
   * KV_TIMEOUT after `timeoutMs`, KV_ABORTED if the connection drops first, KV_CLOSED if it was already closed.
   */
  call(frame: object, id: string, timeoutMs: number): Promise<Record<string, unknown>> {
    if (!this.isOpen) return Promise.reject(new KvError("KV_CLOSED", "connection is closed"));
    if (this.pending.has(id)) throw new TypeError(`call id ${id} already in flight`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(new KvError("KV_TIMEOUT", "no reply before the deadline; the outcome is unknown"));
        },
        Math.max(0, timeoutMs),
      );
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.ws.send(encodeFrame(frame, this.codec));
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new KvError("KV_CLOSED", `send failed: ${(e as Error).message}`));
      }
    });
  }

  /** reply extracts the ClientReply of a `rep` frame, or throws KV_PROTOCOL. */
  static reply(frame: Record<string, unknown>): ClientReply {
    const rep = frame.rep as ClientReply | undefined;
    if (frame.t !== "rep" || typeof rep !== "object" || rep === null || typeof rep.ok !== "boolean") {
      throw new KvError("KV_PROTOCOL", "malformed reply frame");
    }
    if (rep.error !== undefined && !isKvErrorCode(rep.error?.code)) {
      throw new KvError("KV_PROTOCOL", "reply carries an unknown error code");
    }
    return rep;
  }

  /** status extracts the NodeStatus of a `status-rep` frame. */
  static status(frame: Record<string, unknown>): NodeStatus {
    const s = frame.status as NodeStatus | undefined;
    if (frame.t !== "status-rep" || typeof s !== "object" || s === null) {
      throw new KvError("KV_PROTOCOL", "malformed status frame");
    }
    return s;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    let f: Record<string, unknown>;
    try {
      f = decodeFrame(data, isBinary) as Record<string, unknown>;
    } catch {
      this.ws.terminate();
      return;
    }
    if (typeof f !== "object" || f === null) return;
    if (f.t === "error") {
      const code = isKvErrorCode(f.code) ? f.code : "KV_PROTOCOL";
      this.refusal = new KvError(code, String(f.message ?? code));
      return;
    }
    const id = f.t === "rep" ? (f.rep as { id?: unknown } | undefined)?.id : f.id;
    if (typeof id !== "string") return;
    const p = this.pending.get(id);
    if (!p) return; // Late reply after its deadline: ignored, as KV_TIMEOUT promised.
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(f);
  }

  private onClose(): void {
    this.closedFlag = true;
    const refusal = this.refusal;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      // A refusal names what the node objected to (e.g. KV_UNAUTHORIZED for a fault frame on a client
      // connection). Otherwise the request may have reached the node before the connection dropped: unknown.
      p.reject(refusal ?? new KvError("KV_ABORTED", "connection closed with the request in flight"));
    }
  }

  /** close closes the socket; in-flight calls fail with KV_ABORTED. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    try {
      this.ws.close(1000);
    } catch {
      // Already closed.
    }
    this.ws.terminate();
    this.onClose();
  }
}
