import type { EngineOptions, OptionSpec } from "@consistency-lab/kv";

/** QUORUM_OPTIONS are the cluster options of the quorum engine (`--option k=v`), Riak's bucket properties in spirit. */
export const QUORUM_OPTIONS: readonly OptionSpec[] = [
  {
    name: "n",
    type: "number",
    default: 3,
    description: "replicas per key (Riak n_val); clamped to the cluster size",
  },
  {
    name: "r",
    type: "number",
    default: 2,
    description: "replies a read waits for (1..n); per request: options.r",
  },
  {
    name: "w",
    type: "number",
    default: 2,
    description: "acks a write waits for (1..n); per request: options.w",
  },
  {
    name: "sloppy",
    type: "boolean",
    default: false,
    description:
      "sloppy quorum: when a primary is down, write to the next live node on the ring with a hint (Dynamo §4.6)",
  },
  {
    name: "conflicts",
    type: "string",
    default: "siblings",
    choices: ["siblings", "lww"],
    description: "siblings with dotted version vectors, or last-write-wins on hybrid logical clock stamps",
  },
  {
    name: "blindWrites",
    type: "string",
    default: "supersede",
    choices: ["supersede", "sibling"],
    description:
      "a put without a context: supersede what the coordinating replica holds, or add a sibling (Riak's blind write)",
  },
  {
    name: "maxSiblings",
    type: "number",
    default: 16,
    description: "a write that would leave more siblings fails with KV_TOO_MANY_SIBLINGS",
  },
  {
    name: "readRepair",
    type: "string",
    default: "background",
    choices: ["background", "blocking", "off"],
    description:
      "background: repair stale replicas after replying; blocking: before replying (monotonic quorum reads); off",
  },
  {
    name: "antiEntropyMs",
    type: "number",
    default: 500,
    description: "period of Merkle-tree exchanges between replicas of a range (0: off)",
  },
  {
    name: "tombstoneReapMs",
    type: "number",
    default: 10_000,
    description: "how long a delete's tombstone is kept before it is reaped (0: never reap)",
  },
  { name: "vnodes", type: "number", default: 8, description: "virtual nodes (ring tokens) per node" },
  {
    name: "timeoutMs",
    type: "number",
    default: 800,
    description: "coordinator deadline for collecting R or W replies",
  },
  {
    name: "hintRetryMs",
    type: "number",
    default: 200,
    description: "how often a fallback retries handing hints back to their owner",
  },
  {
    name: "pingMs",
    type: "number",
    default: 100,
    description: "failure-detector heartbeat period; a peer silent for 3 periods is suspected",
  },
];

/** QuorumConfig is the parsed, validated form of the options a core runs with. */
export interface QuorumConfig {
  n: number;
  r: number;
  w: number;
  sloppy: boolean;
  conflicts: "siblings" | "lww";
  blindWrites: "supersede" | "sibling";
  maxSiblings: number;
  readRepair: "background" | "blocking" | "off";
  antiEntropyMs: number;
  tombstoneReapMs: number;
  vnodes: number;
  timeoutMs: number;
  hintRetryMs: number;
  pingMs: number;
}

function int(o: EngineOptions, name: string, fallback: number, min: number): number {
  const v = o[name] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new TypeError(`quorum: option "${name}" must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * parseConfig validates options for a cluster of `clusterSize` nodes. r > n or w > n is a configuration mistake and
 * throws TypeError, like every other option error. A cluster smaller than n stores every key on every node, and
 * r and w shrink with n; that keeps R + W > N whenever the options had it.
 */
export function parseConfig(o: EngineOptions, clusterSize: number): QuorumConfig {
  const asked = int(o, "n", 3, 1);
  const r0 = int(o, "r", 2, 1);
  const w0 = int(o, "w", 2, 1);
  if (r0 > asked) throw new TypeError(`quorum: r=${r0} is larger than n=${asked}`);
  if (w0 > asked) throw new TypeError(`quorum: w=${w0} is larger than n=${asked}`);
  const n = Math.min(asked, clusterSize);
  const r = Math.min(r0, n);
  const w = Math.min(w0, n);
  const conflicts = o.conflicts ?? "siblings";
  if (conflicts !== "siblings" && conflicts !== "lww")
    throw new TypeError(`quorum: conflicts must be siblings or lww`);
  const blindWrites = o.blindWrites ?? "supersede";
  if (blindWrites !== "supersede" && blindWrites !== "sibling") {
    throw new TypeError("quorum: blindWrites must be supersede or sibling");
  }
  const readRepair = o.readRepair ?? "background";
  if (readRepair !== "background" && readRepair !== "blocking" && readRepair !== "off") {
    throw new TypeError(`quorum: readRepair must be background, blocking or off`);
  }
  return {
    n,
    r,
    w,
    sloppy: o.sloppy === true,
    conflicts,
    blindWrites,
    maxSiblings: int(o, "maxSiblings", 16, 1),
    readRepair,
    antiEntropyMs: int(o, "antiEntropyMs", 500, 0),
    tombstoneReapMs: int(o, "tombstoneReapMs", 10_000, 0),
    vnodes: int(o, "vnodes", 8, 1),
    timeoutMs: int(o, "timeoutMs", 800, 1),
    hintRetryMs: int(o, "hintRetryMs", 200, 1),
    pingMs: int(o, "pingMs", 100, 1),
  };
}
