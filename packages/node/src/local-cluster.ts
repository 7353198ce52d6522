import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { EngineDefinition, NodeId, OptionValue } from "@consistency-lab/kv";
import { MemoryStorage } from "@consistency-lab/storage";
import type { pino } from "pino";
import { Node, type NodeConfig, type TlsFiles } from "./node.js";
import type { LoggerLike, TransportFactory } from "./node-transport.js";
import { freePorts } from "./ports.js";

/** LocalClusterOptions configures startLocalCluster. */
export interface LocalClusterOptions {
  engine: EngineDefinition<any>;
  options?: Record<string, OptionValue>;
  nodes: number;
  /** First port; nodes listen on basePort..basePort+nodes-1. Default: free ports from the OS. */
  basePort?: number;
  host?: string;
  /** Parent directory for each node's LevelDB (`<dataDir>/<id>`); null or absent keeps records in memory. */
  dataDir?: string | null;
  token?: string;
  adminToken?: string;
  tickMs?: number;
  logger?: pino.Logger | LoggerLike;
  transport?: TransportFactory;
  /** Serve wss:// with these PEM files (the nodes trust `ca` when dialing each other). */
  tls?: TlsFiles;
}

/** LocalCluster is a running in-process cluster. */
export interface LocalCluster {
  ids: NodeId[];
  endpoints: string[];
  token: string;
  adminToken: string;
  /** The running node of each id, in id order; a stopped node keeps its last instance here until restarted. */
  nodes: Node[];
  /** node returns the current instance of a node by id. */
  node(id: NodeId): Node;
  /** stopNode stops one node gracefully (its data stays). */
  stopNode(id: NodeId): Promise<void>;
  /** startNode starts a stopped node again on the same port and data (LevelDB dir, or the same in-memory records). */
  startNode(id: NodeId): Promise<Node>;
  stop(): Promise<void>;
}

/**
 * startLocalCluster runs `nodes` nodes (n1..nN) in this process, talking over real loopback WebSockets — the
 * quick start and the runtime tests. For isolation from crashes use `clab cluster up`, which runs one process
 * per node.
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1)
    throw new TypeError("startLocalCluster: nodes must be >= 1");
  const host = opts.host ?? "127.0.0.1";
  const ids = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
  const ports =
    opts.basePort === undefined ? await freePorts(opts.nodes, host) : ids.map((_, i) => opts.basePort! + i);
  const endpoints = ports.map((p) => `${opts.tls ? "wss" : "ws"}://${host}:${p}`);
  const members = Object.fromEntries(ids.map((id, i) => [id, endpoints[i]!]));
  const token = opts.token ?? randomBytes(24).toString("hex");
  const adminToken = opts.adminToken ?? randomBytes(24).toString("hex");
  // The nodes' own credential: generated here and never handed to clients.
  const peerToken = randomBytes(24).toString("hex");
  const indexOf = (id: NodeId): number => {
    const i = ids.indexOf(id);
    if (i < 0) throw new TypeError(`no node ${id}`);
    return i;
  };
  const nodes: Node[] = [];
  // In-memory records survive a stopNode/startNode like a disk would, so restarts can be tested without LevelDB.
  const backings = ids.map(() => new Map<string, string>());
  const config = (i: number): NodeConfig => {
    const id = ids[i]!;
    return {
      engine: opts.engine,
      ...(opts.options ? { options: opts.options } : {}),
      id,
      listen: { host, port: ports[i]! },
      peers: members,
      dataDir: opts.dataDir ? join(opts.dataDir, id) : null,
      token,
      adminToken,
      peerToken,
      ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.transport ? { transport: opts.transport } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.dataDir ? {} : { storage: new MemoryStorage(backings[i]) }),
    };
  };
  try {
    for (const i of ids.keys()) nodes.push(await Node.start(config(i)));
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
  return {
    ids,
    endpoints,
    token,
    adminToken,
    nodes,
    node: (id) => nodes[indexOf(id)]!,
    stopNode: (id) => nodes[indexOf(id)]!.stop(),
    startNode: async (id) => {
      const i = indexOf(id);
      await nodes[i]!.stop();
      nodes[i] = await Node.start(config(i));
      return nodes[i]!;
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
