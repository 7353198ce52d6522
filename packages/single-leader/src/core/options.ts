import { type EngineOptions, type OptionSpec, sessionWaitMs, sessionWaitOption } from "@consistency-lab/kv";

/** FollowerMode is how the leader waits for followers before acknowledging a write, beyond the write concern. */
export type FollowerMode = "sync" | "async" | "semi-sync";

/** WriteConcern is how many nodes (the leader counts as one) must hold a write before it is acknowledged. */
export type WriteConcern = number | "majority";

/** SingleLeaderConfig is the resolved engine options a core works with. */
export interface SingleLeaderConfig {
  followers: FollowerMode;
  semiSyncK: number;
  w: WriteConcern;
  wTimeoutMs: number;
  readFrom: "leader" | "follower";
  maxStalenessMs: number;
  failover: "manual" | "auto";
  failoverTimeoutMs: number;
  heartbeatMs: number;
  sessionWaitMs: number;
}

/** SINGLE_LEADER_OPTIONS documents the engine options for `--option k=v` and `clab sim --list`. */
export const SINGLE_LEADER_OPTIONS: readonly OptionSpec[] = [
  {
    name: "followers",
    type: "string",
    default: "async",
    choices: ["sync", "async", "semi-sync"],
    description:
      "floor the leader always waits for: sync = every follower, semi-sync = any semiSyncK followers, async = none (w on top)",
  },
  {
    name: "semiSyncK",
    type: "number",
    default: 1,
    description: "semi-sync: followers that must hold a write (ANY k)",
  },
  {
    name: "w",
    type: "string",
    default: "majority",
    description: 'default write concern: nodes incl. the leader that must hold a write, 1..N or "majority"',
  },
  {
    name: "wTimeoutMs",
    type: "number",
    default: 1000,
    description: "write-concern timeout; past it KV_TIMEOUT",
  },
  {
    name: "readFrom",
    type: "string",
    default: "leader",
    choices: ["leader", "follower"],
    description: "default read preference sent by the simulated workload",
  },
  {
    name: "maxStalenessMs",
    type: "number",
    default: 0,
    description:
      "follower reads: refuse when not caught up with the leader within this many ms (0 = no bound)",
  },
  {
    name: "failover",
    type: "string",
    default: "manual",
    choices: ["manual", "auto"],
    description: "manual = `admin promote`; auto = heartbeat failure detector starts an election",
  },
  {
    name: "failoverTimeoutMs",
    type: "number",
    default: 500,
    description: "auto: silence before a follower stands",
  },
  { name: "heartbeatMs", type: "number", default: 50, description: "leader heartbeat / retransmit interval" },
  sessionWaitOption(
    300,
    "follower reads: how long a follower behind the session token waits before KV_UNAVAILABLE",
  ),
];

/** parseWriteConcern turns an option or request value into a WriteConcern, or undefined when it is not one. */
export function parseWriteConcern(v: unknown): WriteConcern | undefined {
  if (v === "majority") return "majority";
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n === "number" && Number.isInteger(n) && n >= 1) return n;
  return undefined;
}

/** resolveConfig reads a core's config from defaulted engine options; throws TypeError on a bad value. */
export function resolveConfig(o: EngineOptions): SingleLeaderConfig {
  const num = (name: string, dflt: number): number => {
    const v = o[name];
    return typeof v === "number" && Number.isFinite(v) ? v : dflt;
  };
  const w = parseWriteConcern(o.w ?? "majority");
  if (w === undefined)
    throw new TypeError(`option "w" must be a positive integer or "majority", got ${String(o.w)}`);
  return {
    followers: (o.followers as FollowerMode) ?? "async",
    semiSyncK: num("semiSyncK", 1),
    w,
    wTimeoutMs: num("wTimeoutMs", 1000),
    readFrom: o.readFrom === "follower" ? "follower" : "leader",
    maxStalenessMs: num("maxStalenessMs", 0),
    failover: o.failover === "auto" ? "auto" : "manual",
    failoverTimeoutMs: num("failoverTimeoutMs", 500),
    heartbeatMs: num("heartbeatMs", 50),
    sessionWaitMs: sessionWaitMs(o, 300),
  };
}

/**
 * requiredFollowerAcks is how many followers must hold a write before the leader acknowledges it: the larger of
 * the follower-mode floor and the write concern (which counts the leader itself), capped at the follower count.
 */
export function requiredFollowerAcks(cfg: SingleLeaderConfig, w: WriteConcern, clusterSize: number): number {
  const followers = clusterSize - 1;
  const floor = cfg.followers === "sync" ? followers : cfg.followers === "semi-sync" ? cfg.semiSyncK : 0;
  const fromW = w === "majority" ? Math.floor(clusterSize / 2) : w - 1;
  return Math.min(followers, Math.max(floor, fromW));
}
