export { parseEndpoint, parseEndpoints, parseHostPort, parsePeers, readSecret } from "./config.js";
export { DEFAULT_MAX_PENDING, Driver, type DriverCounters, type DriverIo } from "./driver.js";
export { type LocalCluster, type LocalClusterOptions, startLocalCluster } from "./local-cluster.js";
export { createLogger } from "./logger.js";
export {
  DEFAULT_TICK_MS,
  Node,
  type NodeConfig,
  type NodeStatusReport,
  sortIds,
  type TlsFiles,
  wsTransport,
} from "./node.js";
export type {
  LoggerLike,
  NodeTransport,
  TransportFactory,
  TransportHandlersLike,
  TransportSettings,
} from "./node-transport.js";
export { freePorts } from "./ports.js";
