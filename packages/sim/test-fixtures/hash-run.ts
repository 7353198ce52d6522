// Prints the trace hash of an echo-engine simulation: `node --import tsx hash-run.ts SEED OPS`.
// Used by trace-hash.test.ts to check that the hash does not depend on the process.
import { runSimulation } from "../src/run-simulation.js";
import { echoEngine } from "../src/testing.js";

const seed = Number(process.argv[2] ?? 1);
const ops = Number(process.argv[3] ?? 60);
process.stdout.write(
  `${runSimulation({ engine: echoEngine, seed, faults: "all", workload: { ops } }).traceHash}\n`,
);
