export { type BenchOptions, runBench, summaryTable } from "./run.js";
export { writeComparison } from "./docs.js";
export { readResults, type BenchResults } from "./results.js";
export { PROFILES, type Profile, type Variant } from "./profiles.js";
export type { Launcher } from "./cluster.js";
