import { memoryBrokenLaggingReplica } from "@consistency-lab/conformance";
import { type EngineDefinition, memoryEngine } from "@consistency-lab/kv";

/**
 * The engine registry: every engine and deliberately broken variant the CLI, the node runtime and the bench can
 * run. Engine packages export their definitions; this is the one place that lists them.
 */
const ENGINES: EngineDefinition<any>[] = [memoryEngine, memoryBrokenLaggingReplica];

export function listEngines(): EngineDefinition<any>[] {
  return [...ENGINES];
}

export function findEngine(name: string): EngineDefinition<any> | undefined {
  return ENGINES.find((e) => e.name === name);
}

/** requireEngine finds an engine or throws a message listing the known names (the caller maps it to exit 2). */
export function engineNames(): string {
  return ENGINES.map((e) => e.name).join(", ");
}
