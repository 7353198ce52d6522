// The wire layer, re-exported so tools that depend only on the client (the bench, the CLI) share it: frame
// codec, the wire version, fault commands, the raw WebSocket class and a one-node server for tests and examples.
export {
  type Codec,
  DEFAULTS,
  decodeFrame,
  encodeFrame,
  type FaultCommand,
  MemoryNode,
  type MemoryNodeOptions,
  WebSocket,
  WIRE_VERSION,
} from "@consistency-lab/transport-ws";
export { type AdminClient, connectAdmin } from "./admin-client.js";
export { type ClientOptions, KvClient } from "./kv-client.js";
export { type ConnectOptions, WireConnection } from "./wire-connection.js";
