import { randomBytes } from "node:crypto";
import {
  type EngineDefinition,
  type NodeId,
  type NodeStatus,
  type OptionValue,
  Rng,
  resolveOptions,
} from "@consistency-lab/kv";
import { LevelStorage, MemoryStorage, type Storage } from "@consistency-lab/storage";
import { WsTransport } from "@consistency-lab/transport-ws";
import type { pino } from "pino";
import { Driver, type DriverCounters, errorInfo } from "./driver.js";
import { createLogger } from "./logger.js";
import type { LoggerLike, NodeTransport, TransportFactory } from "./node-transport.js";

/** TlsFiles are the PEM file paths for wss (as in @consistency-lab/transport-ws). */
export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
}

/** NodeConfig is everything one node needs to run. */
export interface NodeConfig {
  engine: EngineDefinition<any>;
  /** Raw engine options (`--option k=v`), defaulted and checked by the engine's option specs. */
  options?: Record<string, OptionValue>;
  id: NodeId;
  listen: { host: string; port: number };
  /** Peer id → "ws://host:port", self excluded. */
  peers: Record<NodeId, string>;
  /** LevelDB directory; null keeps records in memory (lost on exit). */
  dataDir: string | null;
  token: string;
  adminToken: string;
  /** The peer token (`--peer-token-file`): must differ from the client and admin tokens. */
  peerToken: string;
  tls?: TlsFiles;
  /** Wall-clock tick period in ms (default 10). */
  tickMs?: number;
  logger?: pino.Logger | LoggerLike;
  /** Overrides `dataDir` with a ready Storage (in-process restarts in tests). */
  storage?: Storage;
  /** Overrides the WebSocket transport (in-process tests). */
  transport?: TransportFactory;
  /** Seed for the core's Rng; default: 32 random bits from node:crypto. */
  seed?: number;
}

/** NodeStatusReport is a node's status: the core's, plus what the runtime served. */
export interface NodeStatusReport extends NodeStatus {
  engine: string;
  /** Client requests answered (ok + failed). */
  opsServed: number;
  ops: DriverCounters;
  transport: object;
  uptimeMs: number;
}

/** DEFAULT_TICK_MS is the wall-clock tick period. */
export const DEFAULT_TICK_MS = 10;

/**
 * Node runs one engine core as a real process member: storage loaded at start, the core created from its
 * records, wall-clock ticks, peer messages and client requests from the transport, and every Ready released
 * in the order of ARCHITECTURE §2 (see Driver). `stop()` is graceful: it finishes the batch in flight, then
 * closes the transport and the storage.
 */
export class Node {
  /** closed resolves when the node stopped: null after `stop()`, the error after a fatal failure. */
  readonly closed: Promise<Error | null>;
  private resolveClosed!: (e: Error | null) => void;
  private timer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly startedAt = Date.now();
  private transport!: NodeTransport;
  private driver!: Driver;
  private boundPort = 0;

  private constructor(
    readonly id: NodeId,
    readonly engine: EngineDefinition<any>,
    private readonly storage: Storage,
    private readonly log: LoggerLike,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** port is the port the node listens on (useful when started with port 0). */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Node.start opens the storage, creates the core and starts serving. Rejects with KV_STORAGE when the data
   * directory is corrupt, locked or newer; with TypeError for bad engine options.
   */
  static async start(cfg: NodeConfig): Promise<Node> {
    const log: LoggerLike = cfg.logger ?? createLogger({ node: cfg.id });
    const options = resolveOptions(cfg.engine.options, cfg.options ?? {});
    const storage =
      cfg.storage ?? (cfg.dataDir === null ? new MemoryStorage() : new LevelStorage(cfg.dataDir));
    const records = await storage.open();
    const node = new Node(cfg.id, cfg.engine, storage, log);
    try {
      const peers = sortIds([cfg.id, ...Object.keys(cfg.peers).filter((p) => p !== cfg.id)]);
      const seed = cfg.seed ?? randomBytes(4).readUInt32LE(0);
      const now = Date.now();
      const core = cfg.engine.create({ id: cfg.id, peers, rng: new Rng(seed), options, now, records });
      const factory = cfg.transport ?? wsTransport;
      node.driver = new Driver(
        core,
        { persist: (ops) => storage.apply(ops), send: (to, m) => node.transport.send(to, m) },
        log,
        (err) => void node.shutdown(err),
        undefined,
        now,
      );
      node.transport = factory(
        {
          id: cfg.id,
          listen: cfg.listen,
          peers: withoutSelf(cfg.peers, cfg.id),
          token: cfg.token,
          adminToken: cfg.adminToken,
          peerToken: cfg.peerToken,
          ...(cfg.tls ? { tls: cfg.tls } : {}),
          writeRetry: cfg.engine.writeRetry?.(options) ?? "anywhere",
        },
        {
          onPeerMessage: (from, m) => node.driver.peerMessage(from, m),
          onClientRequest: (req, reply) => node.driver.clientRequest(req, reply),
          onAdmin: (cmd, reply) => node.driver.adminCommand(cmd, reply),
          onStatus: () => node.status(),
        },
        log,
      );
      node.boundPort = (await node.transport.start()).port;
      const tickMs = cfg.tickMs ?? DEFAULT_TICK_MS;
      node.driver.tickEveryMs = tickMs;
      node.timer = setInterval(() => node.driver.tick(), tickMs);
      log.info(
        {
          engine: cfg.engine.name,
          options,
          peers,
          port: node.boundPort,
          records: records.size,
          seed,
          tickMs,
        },
        "node started",
      );
      return node;
    } catch (e) {
      await storage.close().catch(() => {});
      throw e;
    }
  }

  /** status is the core's status plus ops served and transport statistics. */
  status(): NodeStatusReport {
    const core = this.driver.core.status();
    const c = this.driver.counters;
    return {
      ...core,
      id: this.id,
      engine: this.engine.name,
      opsServed: c.opsOk + c.opsFailed,
      ops: { ...c },
      transport: this.transport.stats(),
      uptimeMs: Date.now() - this.startedAt,
    };
  }

  /** stop finishes the Ready in flight, then closes the transport and the storage. Idempotent. */
  stop(): Promise<void> {
    return this.shutdown(null);
  }

  private shutdown(err: Error | null): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      if (err === null) await this.driver.stop();
      await this.transport
        .close()
        .catch((e) => this.log.warn({ err: errorInfo(e) }, "transport close failed"));
      await this.storage.close().catch((e) => this.log.warn({ err: errorInfo(e) }, "storage close failed"));
      this.log.info({ error: err?.message }, err ? "node stopped after a failure" : "node stopped");
      this.resolveClosed(err);
    })();
    return this.stopping;
  }
}

/** sortIds orders node ids naturally (n2 before n10) so every member computes the same peer list. */
export function sortIds(ids: NodeId[]): NodeId[] {
  return [...new Set(ids)].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

function withoutSelf(peers: Record<NodeId, string>, id: NodeId): Record<NodeId, string> {
  const out: Record<NodeId, string> = {};
  for (const [k, v] of Object.entries(peers)) if (k !== id) out[k] = v;
  return out;
}

/** wsTransport builds the real WebSocket transport (@consistency-lab/transport-ws). */
export const wsTransport: TransportFactory = (settings, handlers, logger) =>
  new WsTransport(settings, handlers, logger);
