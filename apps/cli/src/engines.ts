import { causalEngines } from "@consistency-lab/causal";
import { memoryBrokenLaggingReplica } from "@consistency-lab/conformance";
import { type EngineDefinition, memoryEngine } from "@consistency-lab/kv";
import { multiLeaderEngines } from "@consistency-lab/multi-leader";
import { quorumEngines } from "@consistency-lab/quorum";
import { raftEngines } from "@consistency-lab/raft";
import { singleLeaderEngines } from "@consistency-lab/single-leader";

/** Each engine package's list: its engine first, then its broken variants (declared in its src/engines.ts). */
const PACKAGES: readonly (readonly EngineDefinition<any>[])[] = [
  raftEngines,
  quorumEngines,
  causalEngines,
  singleLeaderEngines,
  multiLeaderEngines,
  [memoryEngine, memoryBrokenLaggingReplica],
];

/**
 * The engine registry: every engine and deliberately broken variant the CLI, the node runtime and the bench can
 * run, engines first, then the variants. Engine packages declare their definitions; this is the one place that
 * lists them.
 */
const ENGINES: EngineDefinition<any>[] = [
  ...PACKAGES.flat().filter((e) => e.broken === undefined),
  ...PACKAGES.flat().filter((e) => e.broken !== undefined),
];

export function listEngines(): EngineDefinition<any>[] {
  return [...ENGINES];
}

export function findEngine(name: string): EngineDefinition<any> | undefined {
  return ENGINES.find((e) => e.name === name);
}

/** engineNames lists the registered names, for error messages. */
export function engineNames(): string {
  return ENGINES.map((e) => e.name).join(", ");
}
