import { causalBrokenNoDeps, causalBrokenRetryAnywhere, causalEngine } from "@consistency-lab/causal";
import { memoryBrokenLaggingReplica } from "@consistency-lab/conformance";
import { type EngineDefinition, memoryEngine } from "@consistency-lab/kv";
import {
  multiLeaderBrokenOutOfOrder,
  multiLeaderBrokenRingLoop,
  multiLeaderEngine,
} from "@consistency-lab/multi-leader";
import { quorumBrokenDropHints, quorumBrokenReadRepair, quorumEngine } from "@consistency-lab/quorum";
import { raftBrokenEngines, raftEngine } from "@consistency-lab/raft";
import {
  singleLeaderBrokenNoFencing,
  singleLeaderBrokenRetryTwice,
  singleLeaderEngine,
} from "@consistency-lab/single-leader";

/**
 * The engine registry: every engine and deliberately broken variant the CLI, the node runtime and the bench can
 * run. Engine packages export their definitions; this is the one place that lists them.
 */
const ENGINES: EngineDefinition<any>[] = [
  raftEngine,
  quorumEngine,
  causalEngine,
  singleLeaderEngine,
  multiLeaderEngine,
  memoryEngine,
  ...raftBrokenEngines,
  quorumBrokenReadRepair,
  quorumBrokenDropHints,
  causalBrokenNoDeps,
  causalBrokenRetryAnywhere,
  singleLeaderBrokenNoFencing,
  singleLeaderBrokenRetryTwice,
  multiLeaderBrokenRingLoop,
  multiLeaderBrokenOutOfOrder,
  memoryBrokenLaggingReplica,
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
