import type { OptionValue, RequestOptions } from "@consistency-lab/kv";

/** Variant is one engine configuration the bench measures. */
export interface Variant {
  engine: string;
  /** "default" for the engine's defaults, else a short name for what differs. */
  variant: string;
  options: Record<string, OptionValue>;
  requestOptions: RequestOptions;
}

export interface Profile {
  name: "quick" | "full";
  delays: number[];
  jitterMs: number;
  ops: ("get" | "put" | "cas")[];
  nodes: number;
  clients: number;
  durationMs: number;
  keys: number;
  valueBytes: number;
  latency: Variant[];
  partition: Variant[];
  uniqueness: Variant[];
  sim: Variant[];
  simSeeds: number;
  partitionPhasesS: { before: number; partitioned: number; after: number };
  scaleNodes: number[];
  valueSizes: number[];
  etcd: boolean;
  etcdClients: number;
}

const v = (
  engine: string,
  variant = "default",
  options: Record<string, OptionValue> = {},
  requestOptions: RequestOptions = {},
): Variant => ({
  engine,
  variant,
  options,
  requestOptions,
});

/** Each engine's default and the contrasting option the quick profile shows beside it. */
const QUICK_LATENCY: Variant[] = [
  v("raft"),
  v("raft", "lease reads", {}, { read: "lease" }),
  v("quorum"),
  v("quorum", "r=1 w=1", {}, { r: 1, w: 1 }),
  v("causal"),
  v("single-leader"),
  v("single-leader", "async, follower reads", { followers: "async", w: 1 }, { readFrom: "follower" }),
  v("multi-leader"),
];

const FULL_LATENCY: Variant[] = [
  ...QUICK_LATENCY,
  v("raft", "stale reads", {}, { read: "stale" }),
  v("quorum", "r=3 w=1", {}, { r: 3, w: 1 }),
  v("single-leader", "sync, follower reads", { followers: "sync" }, { readFrom: "follower" }),
  v("multi-leader", "siblings", { conflicts: "siblings" }),
];

const DEFAULTS: Variant[] = [v("raft"), v("quorum"), v("causal"), v("single-leader"), v("multi-leader")];

const SIM: Variant[] = [
  v("raft"),
  v("raft", "stale reads", { read: "stale" }),
  v("quorum"),
  v("quorum", "r=1 w=1", { r: 1, w: 1 }),
  v("quorum", "lww", { conflicts: "lww" }),
  v("causal"),
  v("single-leader"),
  v("single-leader", "async, auto failover", { followers: "async", failover: "auto" }),
  v("multi-leader"),
];

export const PROFILES: Record<"quick" | "full", Profile> = {
  quick: {
    name: "quick",
    delays: [0, 20],
    jitterMs: 0,
    ops: ["get", "put"],
    nodes: 3,
    clients: 8,
    durationMs: 1200,
    keys: 16,
    valueBytes: 64,
    latency: QUICK_LATENCY,
    partition: DEFAULTS,
    uniqueness: DEFAULTS,
    sim: SIM,
    simSeeds: 4,
    partitionPhasesS: { before: 2, partitioned: 4, after: 4 },
    scaleNodes: [],
    valueSizes: [],
    etcd: false,
    etcdClients: 64,
  },
  full: {
    name: "full",
    delays: [0, 5, 20, 50],
    jitterMs: 0,
    ops: ["get", "put", "cas"],
    nodes: 3,
    clients: 16,
    durationMs: 3000,
    keys: 64,
    valueBytes: 64,
    latency: FULL_LATENCY,
    partition: DEFAULTS,
    uniqueness: DEFAULTS,
    sim: SIM,
    simSeeds: 40,
    partitionPhasesS: { before: 3, partitioned: 8, after: 8 },
    scaleNodes: [3, 5, 7],
    valueSizes: [64, 1024, 16 * 1024, 64 * 1024],
    etcd: true,
    etcdClients: 64,
  },
};
