export { type AdminClient, connectAdmin } from "./admin-client.js";
export { type ClientOptions, KvClient } from "./kv-client.js";
export { type ConnectOptions, WireConnection } from "./wire-connection.js";
