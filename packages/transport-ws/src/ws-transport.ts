import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import {
  type AdminCommand,
  type ClientReply,
  type ClientRequest,
  errorReply,
  KvError,
  type NodeId,
  type NodeStatus,
  type WriteRetry,
} from "@consistency-lab/kv";
import { type WebSocket, WebSocketServer } from "ws";
import { NonceCache, PEER_PROOF_WINDOW_MS, peerProof, proofEquals, tokenEquals } from "./auth.js";
import { codecOf, DecodeError, decodeFrame, encodeFrame } from "./codec.js";
import {
  applyFault,
  type FaultCommand,
  type FaultState,
  isHealthy,
  type LinkFaults,
  NO_FAULTS,
  parseFaultCommand,
  sampleDelay,
} from "./faults.js";
import { isFrameId, ProtocolError, parseAdminCommand, parseHello, parseRequest } from "./frame-validation.js";
import { type Logger, SILENT } from "./logger.js";
import { PeerLink } from "./peer-link.js";
import {
  CLOSE_CODES,
  type Codec,
  closeCodeFor,
  DEFAULTS,
  type ErrorFrame,
  type HelloFrame,
  type Role,
  WIRE_VERSION,
} from "./wire.js";

/** TlsFiles are paths to PEM files; with them the node serves wss:// and trusts `ca` when dialing peers. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
}

/** TransportOptions configure one node's WebSocket endpoint and its links to its peers. */
export interface TransportOptions {
  id: NodeId;
  /** Where to listen: host defaults to 127.0.0.1, port 0 picks a free one. */
  listen: { host?: string; port: number };
  /** Peer id -> "ws://host:port" (or wss://), self excluded. */
  peers: Record<NodeId, string>;
  /** Client token: required from clients. */
  token: string;
  /**
   * Peer token: what members prove they hold (an HMAC over their id, never the token itself); clients do not have
   * it. Must differ from `token` and `adminToken`.
   */
  peerToken: string;
  /** Separate token for admin and fault frames. */
  adminToken: string;
  tls?: TlsFiles;
  /** Largest frame accepted, in bytes (default 8 MiB); larger ones are refused by ws before buffering (1009). */
  maxPayload?: number;
  /** Largest peer message sent (default 2 MiB, kv MAX_MESSAGE_BYTES, at most maxPayload); larger ones are dropped. */
  maxPeerMessage?: number;
  /** Codec this node sends with on its peer links (default msgpack, the faster in bench/src/micro/codec.ts). */
  codec?: Codec;
  /** Messages queued per peer while its link is down; overflow drops the oldest (default 4096). */
  sendQueueLimit?: number;
  /** The URL clients should use for this node (default ws(s)://listen-host:port). */
  advertise?: string;
  handshakeTimeoutMs?: number;
  maxInFlight?: number;
  maxConnections?: number;
  /** Connections still before their hello (default 64); more are refused with KV_OVERLOADED. */
  maxUnauthenticated?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Ping period for every connection (default 10 s); one missed pong terminates it. */
  heartbeatMs?: number;
  /** The engine's write-retry policy, told to clients in the welcome (kv `WriteRetry`; default anywhere). */
  writeRetry?: WriteRetry;
}

/** TransportHandlers are how the transport hands validated input to the node. */
export interface TransportHandlers {
  onPeerMessage(from: NodeId, message: unknown): void;
  /** `req` is shape-validated; bad requests were already answered with their code. Its id is transport-unique. */
  onClientRequest(req: ClientRequest, reply: (r: ClientReply) => void): void;
  /** Authenticated with the admin token; fault commands are handled inside the transport and never get here. */
  onAdmin(cmd: AdminCommand, reply: (r: ClientReply) => void): void;
  onStatus(): NodeStatus;
}

/** TransportStats are counters for status pages and tests. */
export interface TransportStats {
  /** Peer frames handed to a socket. */
  sent: number;
  /** Peer frames received. */
  received: number;
  /** Peer messages dropped: injected loss or partition, queue overflow, unwritable socket, oversize. */
  dropped: number;
  /** Open client and admin connections past their handshake. */
  clients: number;
  /** Peers whose outgoing link is up. */
  peersConnected: NodeId[];
  /** Connections closed for a protocol, auth or version error, or a frame ws itself refused (oversize, bad UTF-8). */
  refused: number;
  /** Frames received on accepted connections (peers, clients and admin), good or bad. */
  framesIn: number;
}

interface Conn {
  no: number;
  ws: WebSocket;
  phase: "hello" | "ready" | "closing";
  role: Role;
  peer: NodeId | undefined;
  codec: Codec;
  inFlight: number;
  timer: NodeJS.Timeout | undefined;
  alive: boolean;
}

interface Delayed {
  at: number;
  frame: string | Buffer;
}

/**
 * WsTransport is one node's WebSocket endpoint: a single port for peers, clients and admin tools. Every frame is
 * decoded defensively and validated; connection-level errors are answered `{t:"error", code}` and closed, bad
 * requests get a coded reply on the open connection. Outgoing peer links apply the injected faults.
 *
 * Link direction: every node dials every peer and sends only on its own outgoing link; it receives on the
 * connections its peers dialed. So each direction of a pair is one TCP connection, and a one-way partition is a
 * local decision of the sender.
 */
export class WsTransport {
  private readonly o: Required<Omit<TransportOptions, "tls" | "advertise" | "writeRetry">> &
    Pick<TransportOptions, "tls" | "advertise" | "writeRetry">;
  private readonly log: Logger;
  private peerIds: NodeId[];
  private ca: Buffer | undefined;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly nonces = new NonceCache();
  private readonly conns = new Set<Conn>();
  private readonly fifo = new Map<
    NodeId,
    { q: Delayed[]; timer: NodeJS.Timeout | undefined; last: number }
  >();
  private readonly jitterTimers = new Set<NodeJS.Timeout>();
  private fault: FaultState;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private port = 0;
  private connNo = 0;
  private closing = false;
  private counters = { sent: 0, received: 0, dropped: 0, refused: 0, framesIn: 0 };
  private readonly up = new Set<NodeId>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    options: TransportOptions,
    private readonly handlers: TransportHandlers,
    logger?: Logger,
  ) {
    if (typeof options.id !== "string" || options.id.length === 0)
      throw new TypeError("options.id is required");
    if (!options.token || !options.adminToken || !options.peerToken)
      throw new TypeError("token, adminToken and peerToken are required");
    if (new Set([options.token, options.adminToken, options.peerToken]).size !== 3)
      throw new TypeError(
        "token, adminToken and peerToken must all differ (clients must not hold a peer's credential)",
      );
    this.o = {
      id: options.id,
      listen: { host: options.listen.host ?? DEFAULTS.host, port: options.listen.port },
      peers: { ...options.peers },
      token: options.token,
      adminToken: options.adminToken,
      peerToken: options.peerToken,
      tls: options.tls,
      advertise: options.advertise,
      writeRetry: options.writeRetry,
      maxPayload: options.maxPayload ?? DEFAULTS.maxPayload,
      maxPeerMessage: Math.min(
        options.maxPeerMessage ?? DEFAULTS.maxPeerMessage,
        options.maxPayload ?? DEFAULTS.maxPayload,
      ),
      codec: options.codec ?? DEFAULTS.codec,
      sendQueueLimit: options.sendQueueLimit ?? DEFAULTS.sendQueueLimit,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
      maxInFlight: options.maxInFlight ?? DEFAULTS.maxInFlight,
      maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
      maxUnauthenticated: options.maxUnauthenticated ?? DEFAULTS.maxUnauthenticated,
      backoffBaseMs: options.backoffBaseMs ?? DEFAULTS.backoffBaseMs,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULTS.backoffMaxMs,
      heartbeatMs: options.heartbeatMs ?? DEFAULTS.heartbeatMs,
    };
    delete this.o.peers[this.o.id];
    this.peerIds = Object.keys(this.o.peers).sort();
    this.fault = { links: Object.fromEntries(this.peerIds.map((p) => [p, { ...NO_FAULTS }])) };
    this.log = logger ?? SILENT;
  }

  /** start listens and begins dialing the peers; resolves with the bound port once listening. */
  async start(): Promise<{ port: number }> {
    if (this.server) throw new TypeError("WsTransport already started");
    const tls = this.o.tls;
    const onHttp = (_req: IncomingMessage, res: import("node:http").ServerResponse) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required\n");
    };
    const server = tls
      ? createHttpsServer(
          {
            cert: readFileSync(tls.cert),
            key: readFileSync(tls.key),
            ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
          },
          onHttp,
        )
      : createHttpServer(onHttp);
    this.server = server;
    const wss = new WebSocketServer({
      server,
      maxPayload: this.o.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss = wss;
    wss.on("error", (err) => this.log.error({ err: err.message }, "websocket server error"));
    wss.on("connection", (ws) => this.accept(ws));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new KvError("KV_UNAVAILABLE", `cannot listen: ${err.message}`));
      server.once("error", onError);
      server.listen(this.o.listen.port, this.o.listen.host, () => {
        server.off("error", onError);
        server.on("error", (err) => this.log.error({ err: err.message }, "server error"));
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    const ca = tls?.ca ? readFileSync(tls.ca) : undefined;
    this.ca = ca;
    for (const peer of this.peerIds) this.dial(peer);
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs);
    this.heartbeat.unref();
    this.log.info({ id: this.o.id, port: this.port, tls: !!tls }, "transport listening");
    return { port: this.port };
  }

  private dial(peer: NodeId): void {
    const link = new PeerLink({
      self: this.o.id,
      peer,
      url: this.o.peers[peer]!,
      peerToken: this.o.peerToken,
      codec: this.o.codec,
      maxPayload: this.o.maxPayload,
      queueLimit: this.o.sendQueueLimit,
      ...(this.ca ? { ca: this.ca } : {}),
      backoffBaseMs: this.o.backoffBaseMs,
      backoffMaxMs: this.o.backoffMaxMs,
      handshakeTimeoutMs: this.o.handshakeTimeoutMs,
      heartbeatMs: this.o.heartbeatMs,
      logger: this.log,
      onDrop: () => this.counters.dropped++,
      onSent: () => this.counters.sent++,
      onState: (isUp) => (isUp ? this.up.add(peer) : this.up.delete(peer)),
    });
    this.links.set(peer, link);
    link.start();
  }

  /**
   * addPeer starts a link to a new member (membership change, Raft §6) or moves an existing one to a new URL.
   * Its faults start healthy. Before `start()` the peer is simply added to the configuration.
   */
  addPeer(id: NodeId, url: string): void {
    if (typeof id !== "string" || id.length === 0 || id === this.o.id)
      throw new TypeError(`cannot add peer ${id}`);
    if (typeof url !== "string" || !/^wss?:\/\//.test(url))
      throw new TypeError(`peer url must be ws:// or wss://`);
    if (this.closing) return;
    this.links.get(id)?.close();
    this.links.delete(id);
    this.up.delete(id);
    this.o.peers[id] = url;
    this.peerIds = Object.keys(this.o.peers).sort();
    this.fault.links[id] ??= { ...NO_FAULTS };
    if (this.server) this.dial(id);
  }

  /** removePeer stops the link to a member that left; messages to it are dropped from then on. */
  removePeer(id: NodeId): void {
    this.links.get(id)?.close();
    this.links.delete(id);
    this.up.delete(id);
    clearTimeout(this.fifo.get(id)?.timer);
    this.fifo.delete(id);
    delete this.o.peers[id];
    delete this.fault.links[id];
    this.peerIds = Object.keys(this.o.peers).sort();
  }

  /** members maps every member id to the URL a client can reach it at (sent in the welcome). */
  members(): Record<NodeId, string> {
    const host = ["0.0.0.0", "::", ""].includes(this.o.listen.host ?? "") ? "127.0.0.1" : this.o.listen.host;
    const self = this.o.advertise ?? `${this.o.tls ? "wss" : "ws"}://${host}:${this.port}`;
    return { [this.o.id]: self, ...this.o.peers };
  }

  /**
   * send is fire-and-forget to a peer. It applies the injected faults of the outgoing link: a cut link or a lost
   * message is dropped (counted), a delayed one is released later — in FIFO order unless jitter is set (jitter
   * reorders, as a real network with variable delay does). Never throws.
   */
  send(to: NodeId, message: unknown): void {
    const link = this.links.get(to);
    if (!link || this.closing) {
      this.counters.dropped++;
      return;
    }
    const f = this.fault.links[to] ?? NO_FAULTS;
    if (f.partitioned || (f.loss > 0 && Math.random() < f.loss)) {
      this.counters.dropped++;
      return;
    }
    let frame: string | Buffer;
    try {
      frame = encodeFrame({ t: "msg", m: message }, this.o.codec);
    } catch (e) {
      this.counters.dropped++;
      this.log.error({ to, err: (e as Error).message }, "cannot encode peer message");
      return;
    }
    if (frame.length > this.o.maxPeerMessage) {
      // Over the peer message limit (what the simulator drops too); dropping here keeps the link up.
      this.counters.dropped++;
      this.log.error({ to, bytes: frame.length }, "peer message larger than maxPeerMessage dropped");
      return;
    }
    const pending = this.fifo.get(to);
    // With messages still held back by an earlier delay, a new one waits behind them: lowering the delay must
    // not reorder the link.
    if (f.delayMs === 0 && f.jitterMs === 0 && !(pending && pending.q.length > 0)) {
      link.send(frame);
      return;
    }
    const delay = sampleDelay(f);
    if (f.jitterMs > 0) {
      const timer = setTimeout(() => {
        this.jitterTimers.delete(timer);
        this.release(to, frame);
      }, delay);
      this.jitterTimers.add(timer);
      return;
    }
    // Constant delay: one queue per link, released in order, so per-link FIFO holds even when the delay changes.
    let line = this.fifo.get(to);
    if (!line) {
      line = { q: [], timer: undefined, last: 0 };
      this.fifo.set(to, line);
    }
    const at = Math.max(performance.now() + delay, line.last);
    line.last = at;
    line.q.push({ at, frame });
    if (!line.timer) this.pump(to);
  }

  private pump(to: NodeId): void {
    const line = this.fifo.get(to);
    if (!line) return;
    line.timer = undefined;
    const now = performance.now();
    while (line.q.length > 0 && line.q[0]!.at <= now) this.release(to, line.q.shift()!.frame);
    if (line.q.length > 0) line.timer = setTimeout(() => this.pump(to), Math.max(0, line.q[0]!.at - now));
  }

  private release(to: NodeId, frame: string | Buffer): void {
    // A cut made while a message was in flight drops it too: the link is down from then on.
    if (this.closing || this.fault.links[to]?.partitioned) {
      this.counters.dropped++;
      return;
    }
    this.links.get(to)?.send(frame);
  }

  /** faults returns a copy of the injected faults of every outgoing link. */
  faults(): FaultState {
    return { links: Object.fromEntries(Object.entries(this.fault.links).map(([p, f]) => [p, { ...f }])) };
  }

  /** setFaults applies one fault command; throws KV_INVALID_ARGUMENT for an invalid one. */
  setFaults(cmd: FaultCommand): void {
    const clean = parseFaultCommand(cmd, this.o.id, this.peerIds);
    this.fault = applyFault(this.fault, clean, this.o.id, this.peerIds);
    const active = Object.entries(this.fault.links).filter(([, f]) => !isHealthy(f));
    this.log.info({ cmd: clean, faulty: active.map(([p]) => p) }, "faults changed");
  }

  stats(): TransportStats {
    let clients = 0;
    for (const c of this.conns) if (c.phase === "ready" && c.role !== "peer") clients++;
    return { ...this.counters, clients, peersConnected: [...this.up].sort() };
  }

  /** close stops dialing, closes every connection and the listener. Queued and delayed messages are dropped. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeat);
    for (const link of this.links.values()) link.close();
    for (const line of this.fifo.values()) clearTimeout(line.timer);
    this.fifo.clear();
    for (const t of this.jitterTimers) clearTimeout(t);
    this.jitterTimers.clear();
    for (const c of this.conns) {
      clearTimeout(c.timer);
      c.ws.terminate();
    }
    this.conns.clear();
    const wss = this.wss;
    const server = this.server;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  // --- server side -------------------------------------------------------------------------------------------

  /** beat pings every connection past its handshake and cuts those that did not answer the previous ping. */
  private beat(): void {
    for (const c of this.conns) {
      if (c.phase !== "ready") continue;
      if (!c.alive) {
        this.log.warn({ conn: c.no, role: c.role, peer: c.peer }, "connection missed a heartbeat");
        c.phase = "closing";
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        // Closing: 'close' follows.
      }
    }
  }

  private accept(ws: WebSocket): void {
    // Past the cap of connections still before their hello, the oldest of them makes room: a flood of idle sockets
    // then churns itself rather than locking out clients, which say hello within milliseconds.
    const waiting = [...this.conns].filter((c) => c.phase === "hello");
    if (waiting.length >= this.o.maxUnauthenticated)
      this.refuse(
        waiting[0]!,
        "KV_OVERLOADED",
        `too many connections before hello (${this.o.maxUnauthenticated})`,
      );
    const full =
      this.conns.size >= this.o.maxConnections
        ? `too many connections (${this.o.maxConnections})`
        : undefined;
    if (this.closing || full) {
      ws.on("error", () => {});
      this.counters.refused++;
      const message = this.closing ? "node is shutting down" : full!;
      // A coded refusal the client can read (JSON: nothing is negotiated yet), then the close.
      try {
        ws.send(encodeFrame({ t: "error", code: "KV_OVERLOADED", message } satisfies ErrorFrame, "json"));
      } catch {
        // Closing anyway.
      }
      ws.close(CLOSE_CODES.KV_OVERLOADED, "KV_OVERLOADED");
      setTimeout(() => ws.terminate(), 2000).unref();
      return;
    }
    const conn: Conn = {
      no: ++this.connNo,
      ws,
      phase: "hello",
      role: "client",
      peer: undefined,
      codec: "json",
      inFlight: 0,
      timer: undefined,
      alive: true,
    };
    this.conns.add(conn);
    ws.on("error", (err) => {
      // ws reports bad frames (oversize 1009, invalid UTF-8 1007, bad opcodes) here and closes the socket itself.
      if (conn.phase !== "closing") this.counters.refused++;
      conn.phase = "closing";
      this.log.warn({ conn: conn.no, err: err.message }, "connection error");
    });
    conn.timer = setTimeout(
      () => this.refuse(conn, "KV_PROTOCOL", "no hello before the handshake timeout"),
      this.o.handshakeTimeoutMs,
    );
    ws.on("pong", () => {
      conn.alive = true;
    });
    ws.on("close", () => {
      clearTimeout(conn.timer);
      conn.phase = "closing";
      this.conns.delete(conn);
    });
    ws.on("message", (data, isBinary) => {
      this.counters.framesIn++;
      try {
        this.onFrame(conn, data as Buffer, isBinary);
      } catch (e) {
        // Last line of defence: a handler bug must not kill the node, and this connection's state is unknown.
        this.log.error({ err: (e as Error).stack }, "frame handling failed");
        this.refuse(conn, "KV_PROTOCOL", "internal error handling the frame");
      }
    });
  }

  private onFrame(conn: Conn, data: Buffer, isBinary: boolean): void {
    if (conn.phase === "closing") return;
    let frame: unknown;
    try {
      frame = decodeFrame(data, isBinary);
    } catch (e) {
      this.refuse(conn, "KV_PROTOCOL", e instanceof DecodeError ? e.message : "undecodable frame");
      return;
    }
    if (conn.phase === "hello") {
      this.onHello(conn, frame, isBinary);
      return;
    }
    const f = frame as Record<string, unknown> | null;
    if (typeof f !== "object" || f === null || Array.isArray(f) || typeof f.t !== "string") {
      this.refuse(conn, "KV_PROTOCOL", "frame has no type");
      return;
    }
    switch (f.t) {
      case "msg":
        if (conn.role !== "peer") {
          this.refuse(conn, "KV_PROTOCOL", "peer message on a non-peer connection");
          return;
        }
        this.counters.received++;
        try {
          this.handlers.onPeerMessage(conn.peer!, f.m);
        } catch (e) {
          // An engine that throws on a message must not take the transport down; the message is lost.
          this.log.error({ from: conn.peer, err: (e as Error).stack }, "onPeerMessage threw");
        }
        return;
      case "req":
        this.onRequest(conn, f.req);
        return;
      case "status":
        this.onStatus(conn, f.id);
        return;
      case "admin":
        if (conn.role !== "admin") {
          this.refuse(conn, "KV_UNAUTHORIZED", "admin frames need the admin token");
          return;
        }
        this.onAdmin(conn, f.cmd);
        return;
      case "fault":
        if (conn.role !== "admin") {
          this.refuse(conn, "KV_UNAUTHORIZED", "fault frames need the admin token");
          return;
        }
        this.onFault(conn, f.id, f.cmd);
        return;
      default:
        this.refuse(conn, "KV_PROTOCOL", `unknown frame type ${JSON.stringify(f.t).slice(0, 64)}`);
    }
  }

  private onHello(conn: Conn, frame: unknown, isBinary: boolean): void {
    let hello: ReturnType<typeof parseHello>;
    try {
      hello = parseHello(frame, codecOf(isBinary));
    } catch (e) {
      const code = e instanceof ProtocolError ? e.code : "KV_PROTOCOL";
      conn.codec = codecOf(isBinary);
      this.refuse(conn, code, (e as Error).message);
      return;
    }
    conn.codec = hello.codec;
    if (hello.role === "peer" && hello.id === this.o.id) {
      // Two nodes configured with one id would corrupt each other's protocol state; refuse loudly.
      this.refuse(conn, "KV_PROTOCOL", `a peer claims this node's own id ${this.o.id}`);
      return;
    }
    if (hello.role === "peer") {
      const why = this.peerHelloProblem(hello);
      if (why) {
        this.refuse(conn, "KV_UNAUTHORIZED", why);
        return;
      }
    } else if (!tokenEquals(hello.token, hello.role === "admin" ? this.o.adminToken : this.o.token)) {
      this.refuse(conn, "KV_UNAUTHORIZED", "missing or wrong token");
      return;
    }
    clearTimeout(conn.timer);
    conn.timer = undefined;
    conn.phase = "ready";
    conn.role = hello.role;
    conn.peer = hello.role === "peer" ? hello.id : undefined;
    if (conn.peer !== undefined) this.links.get(conn.peer)?.peerIsBack();
    this.write(conn, {
      t: "welcome",
      v: WIRE_VERSION,
      id: this.o.id,
      members: this.members(),
      codec: conn.codec,
      ...(hello.role === "client" && this.o.writeRetry === "same-node" ? { retry: "same-node" } : {}),
    });
  }

  /**
   * peerHelloProblem says why a peer hello is refused, or undefined: the claimed id must be a member, and the proof
   * must be made with the peer token for this id and this node, recent, and not seen before (auth.ts peerProof).
   */
  private peerHelloProblem(hello: HelloFrame): string | undefined {
    const id = hello.id!;
    if (!this.peerIds.includes(id)) return `peer ${JSON.stringify(id).slice(0, 80)} is not a member`;
    if (hello.ts === undefined || hello.nonce === undefined || hello.proof === undefined)
      return "a peer must prove it holds the peer token (the client token does not open a peer connection)";
    const now = Date.now();
    if (Math.abs(now - hello.ts) > PEER_PROOF_WINDOW_MS) return "peer hello too old or too far ahead";
    if (!proofEquals(hello.proof, peerProof(this.o.peerToken, id, this.o.id, hello.ts, hello.nonce)))
      return "wrong peer proof";
    if (!this.nonces.add(hello.nonce, now)) return "replayed peer hello";
    return undefined;
  }

  private onRequest(conn: Conn, raw: unknown): void {
    let req: ClientRequest;
    try {
      req = parseRequest(raw);
    } catch (e) {
      if (e instanceof KvError) {
        this.write(conn, { t: "rep", rep: errorReply((raw as { id: string }).id, e, { node: this.o.id }) });
      } else {
        this.refuse(conn, e instanceof ProtocolError ? e.code : "KV_PROTOCOL", (e as Error).message);
      }
      return;
    }
    if (conn.inFlight >= this.o.maxInFlight) {
      const err = new KvError("KV_OVERLOADED", `more than ${this.o.maxInFlight} requests in flight`);
      this.write(conn, { t: "rep", rep: errorReply(req.id, err, { node: this.o.id }) });
      return;
    }
    conn.inFlight++;
    const clientId = req.id;
    // Request ids only have to be unique per connection; the node sees ids unique per transport.
    const internal = `${conn.no}/${clientId}`;
    let answered = false;
    const reply = (r: ClientReply) => {
      if (answered) return;
      answered = true;
      conn.inFlight--;
      this.write(conn, { t: "rep", rep: { ...r, id: clientId } });
    };
    this.handlers.onClientRequest({ ...req, id: internal }, reply);
  }

  private onStatus(conn: Conn, id: unknown): void {
    if (!isFrameId(id)) {
      this.refuse(conn, "KV_PROTOCOL", "status frame needs an id");
      return;
    }
    let status: NodeStatus;
    try {
      status = this.handlers.onStatus();
    } catch (e) {
      this.log.error({ err: (e as Error).stack }, "onStatus threw");
      status = { id: this.o.id, role: "unknown" };
    }
    this.write(conn, {
      t: "status-rep",
      id,
      status: { ...status, transport: this.stats(), faults: this.faults() },
    });
  }

  private onAdmin(conn: Conn, raw: unknown): void {
    let cmd: AdminCommand;
    try {
      cmd = parseAdminCommand(raw);
    } catch (e) {
      if (e instanceof KvError) {
        this.write(conn, { t: "rep", rep: errorReply((raw as { id: string }).id, e, { node: this.o.id }) });
      } else this.refuse(conn, "KV_PROTOCOL", (e as Error).message);
      return;
    }
    const clientId = cmd.id;
    let answered = false;
    this.handlers.onAdmin({ ...cmd, id: `${conn.no}/${clientId}` }, (r) => {
      if (answered) return;
      answered = true;
      this.write(conn, { t: "rep", rep: { ...r, id: clientId } });
    });
  }

  private onFault(conn: Conn, id: unknown, raw: unknown): void {
    const repId = isFrameId(id) ? id : "fault";
    try {
      this.setFaults(raw as FaultCommand);
    } catch (e) {
      const err = e instanceof KvError ? e : new KvError("KV_INVALID_ARGUMENT", (e as Error).message);
      this.write(conn, { t: "rep", rep: errorReply(repId, err, { node: this.o.id }) });
      return;
    }
    this.write(conn, { t: "rep", rep: { id: repId, ok: true, meta: { node: this.o.id } } });
  }

  /** write encodes and sends one frame on a server connection; a closed or gone socket is ignored. */
  private write(conn: Conn, frame: object): void {
    if (conn.phase === "closing" && (frame as { t?: string }).t !== "error") return;
    let data: string | Buffer;
    try {
      data = encodeFrame(frame, conn.codec);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "cannot encode reply");
      return;
    }
    if (conn.ws.bufferedAmount > DEFAULTS.maxBufferedBytes && conn.phase !== "closing") {
      // The other side is not reading its replies; buffering more would grow memory without bound.
      this.log.warn({ conn: conn.no, buffered: conn.ws.bufferedAmount }, "connection not reading; closed");
      this.counters.refused++;
      conn.phase = "closing";
      conn.ws.terminate();
      return;
    }
    try {
      conn.ws.send(data, () => {});
    } catch {
      // Closed under us: the peer went away, nothing to tell it.
    }
  }

  /** refuse answers a connection-level error with a coded frame and closes the connection. */
  private refuse(conn: Conn, code: ErrorFrame["code"], message: string): void {
    if (conn.phase === "closing") return;
    this.counters.refused++;
    this.log.warn({ conn: conn.no, role: conn.role, code, message }, "connection refused");
    this.write(conn, { t: "error", code, message } satisfies ErrorFrame);
    conn.phase = "closing";
    clearTimeout(conn.timer);
    try {
      conn.ws.close(closeCodeFor(code), code);
    } catch {
      // Already closing.
    }
    // A peer that never completes the closing handshake is cut off rather than held open.
    conn.timer = setTimeout(() => conn.ws.terminate(), 2000);
    conn.timer.unref();
  }
}

export type { LinkFaults };
export { CLOSE_CODES };
