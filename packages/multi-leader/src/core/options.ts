import { type EngineOptions, type OptionSpec, sessionWaitMs, sessionWaitOption } from "@consistency-lab/kv";

/** Topology is how updates flow between leaders (DDIA ch. 5 "Multi-Leader Replication Topologies"). */
export type Topology = "all-to-all" | "ring" | "star";

/** ConflictRule is how concurrent writes of one key are resolved. */
export type ConflictRule = "lww-hlc" | "lww-lamport" | "siblings";

/** MultiLeaderConfig is the resolved engine options a core works with. */
export interface MultiLeaderConfig {
  topology: Topology;
  conflicts: ConflictRule;
  syncMs: number;
  sessionWaitMs: number;
}

/** MULTI_LEADER_OPTIONS documents the engine options for `--option k=v` and `clab sim --list`. */
export const MULTI_LEADER_OPTIONS: readonly OptionSpec[] = [
  {
    name: "topology",
    type: "string",
    default: "all-to-all",
    choices: ["all-to-all", "ring", "star"],
    description:
      "all-to-all: each leader sends its writes to every other; ring: forward to the next; star: via n1",
  },
  {
    name: "conflicts",
    type: "string",
    default: "lww-hlc",
    choices: ["lww-hlc", "lww-lamport", "siblings"],
    description:
      "last-writer-wins by hybrid logical clock or by (Lamport counter, node id), or keep siblings",
  },
  {
    name: "syncMs",
    type: "number",
    default: 100,
    description: "retransmit interval for unacknowledged updates",
  },
  sessionWaitOption(300, "how long a node behind a client's session token waits before KV_UNAVAILABLE"),
];

/** resolveConfig reads a core's config from defaulted engine options. */
export function resolveConfig(o: EngineOptions): MultiLeaderConfig {
  const num = (name: string, dflt: number): number => {
    const v = o[name];
    return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const topology = (o.topology ?? "all-to-all") as Topology;
  const conflicts = (o.conflicts ?? "lww-hlc") as ConflictRule;
  if (!["all-to-all", "ring", "star"].includes(topology))
    throw new TypeError(`unknown topology ${String(topology)}`);
  if (!["lww-hlc", "lww-lamport", "siblings"].includes(conflicts)) {
    throw new TypeError(`unknown conflict rule ${String(conflicts)}`);
  }
  return {
    topology,
    conflicts,
    syncMs: num("syncMs", 100),
    sessionWaitMs: sessionWaitMs(o, 300),
  };
}
