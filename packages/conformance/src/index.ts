export * from "./harness.js";
export * from "./suite.js";
export { SimClient } from "./sim-client.js";
export { memoryBrokenLaggingReplica } from "./broken/memory-broken.js";
