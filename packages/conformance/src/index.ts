export { memoryBrokenLaggingReplica } from "./broken/memory-broken.js";
export * from "./clone-check.js";
export * from "./harness.js";
export { SimClient } from "./sim-client.js";
export * from "./suite.js";
