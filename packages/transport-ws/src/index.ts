/** WebSocket is ws's client class, re-exported so the client package and tools share one ws version. */
export { WebSocket } from "ws";
export { tokenEquals } from "./auth.js";
export { codecOf, DecodeError, decodeFrame, encodeFrame, MAX_DEPTH } from "./codec.js";
export {
  applyFault,
  type FaultCommand,
  type FaultState,
  type LinkFaults,
  NO_FAULTS,
  parseFaultCommand,
  sampleDelay,
} from "./faults.js";
export { isFrameId, ProtocolError, parseAdminCommand, parseHello, parseRequest } from "./frame-validation.js";
export { type Logger, SILENT } from "./logger.js";
export { MemoryNode, type MemoryNodeOptions } from "./memory-node.js";
export * from "./wire.js";
export {
  type TlsFiles,
  type TransportHandlers,
  type TransportOptions,
  type TransportStats,
  WsTransport,
} from "./ws-transport.js";
