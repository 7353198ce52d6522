export { freeBasePort, type Launcher } from "./cluster.js";
export { writeComparison } from "./docs.js";
export * from "./nemesis/index.js";
export { PROFILES, type Profile, type Variant } from "./profiles.js";
export { type BenchResults, readResults } from "./results.js";
export { type BenchOptions, runBench, summaryTable } from "./run.js";
