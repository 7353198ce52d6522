import {
  type EngineDefinition,
  type EngineOptions,
  type HistoryEvent,
  MAX_MESSAGE_BYTES,
  type RequestOptions,
} from "@consistency-lab/kv";

/** DelayDist is the one-way delay distribution of a simulated link, in virtual milliseconds. */
export type DelayDist =
  | { kind: "constant"; ms: number }
  | { kind: "uniform"; minMs: number; maxMs: number }
  | { kind: "exponential"; meanMs: number; minMs?: number };

/**
 * NetworkConfig is the simulated network between nodes. `loss`, `dup` and `reorder` are probabilities per message;
 * `reorder` adds an extra random delay so a later message can overtake (links are FIFO otherwise, like the
 * WebSocket transport). `clientDelayMs` is the one-way delay between a client and the node it talks to.
 */
export interface NetworkConfig {
  delay: DelayDist;
  loss: number;
  dup: number;
  reorder: number;
  clientDelayMs: number;
  /**
   * Largest peer message, in encoded bytes (an upper bound of its msgpack size), that the network carries; a larger
   * one is dropped, as the WebSocket transport drops a frame over its `maxPayload` (kv MAX_MESSAGE_BYTES, 2 MiB)
   * rather than have the receiver close the link. 0 = no limit. Client requests and replies are not limited.
   */
  maxMessageBytes?: number;
}

/** WorkloadSpec describes the generated client workload of a simulation. */
export interface WorkloadSpec {
  /** Client processes, each with one op in flight. */
  clients: number;
  /** Total ops over all clients. */
  ops: number;
  /** Keys k0..k{keys-1}. */
  keys: number;
  /** Relative weights of the operations. */
  mix: { read?: number; write?: number; cas?: number; delete?: number };
  /** Per-op deadline; past it the op is recorded as `info` (KV_TIMEOUT). */
  deadlineMs: number;
  /** Mean think time between a client's ops (uniform in [0, 2·thinkMs]). */
  thinkMs: number;
  /** Request options sent with every op; defaults to the engine's `requestOptions(options)`. */
  requestOptions?: RequestOptions;
  /** Probability that a client moves to a random node before an op. */
  switchNodeRate: number;
  /** Written values are padded to this many bytes (ASCII), e.g. to replicate large values; default unpadded. */
  valueBytes?: number;
}

/** FaultStep is one step of a fault schedule (ARCHITECTURE §5), at virtual ms `at` from the workload start. */
export type FaultStep = { at: number } & (
  | { partition: string[][] }
  | { "partition-oneway": { from: string[]; to: string[] } }
  | { heal: true }
  | { crash: string }
  | { restart: string }
  | { pause: { node: string; ms: number } }
  | { skew: { node: string; ms: number } }
  | { loss: { from: string; to: string; rate: number } }
  | { dup: { rate: number } }
  | { reorder: { rate: number } }
  | { delay: { from: string; to: string; ms: number; jitter?: number } }
);

/** FAULT_KINDS are the fault kinds `--faults` accepts (heal and restart are the undo steps, not kinds). */
export const FAULT_KINDS = [
  "partition",
  "partition-oneway",
  "crash",
  "pause",
  "loss",
  "dup",
  "reorder",
  "delay",
  "skew",
] as const;

/** FaultKind is one of FAULT_KINDS. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** FAULT_STEP_KEYS are the keys that name a fault step's kind. */
export const FAULT_STEP_KEYS = [
  "partition",
  "partition-oneway",
  "heal",
  "crash",
  "restart",
  "pause",
  "skew",
  "loss",
  "dup",
  "reorder",
  "delay",
] as const;

/** Scenario is a simulation scenario file (`clab sim --scenario`): options, workload and fault schedule. */
export interface Scenario {
  description?: string;
  nodes?: number;
  options?: Record<string, string | number | boolean>;
  workload?: Partial<WorkloadSpec>;
  network?: Partial<NetworkConfig>;
  recoveryMs?: number;
  /** Virtual ms a persist batch takes to become durable (see SimConfig.persistLatencyMs). */
  persistLatencyMs?: number;
  faults: FaultStep[];
}

/** PlannedOp is one op of a client's planned list. A cas without `expected` uses the client's last seen value. */
export interface PlannedOp {
  op: "get" | "put" | "delete" | "cas";
  key: string;
  value?: string;
  expected?: string | null;
}

/** WorkloadPlan is every client's ops, one list per client process, in order. */
export interface WorkloadPlan {
  clients: PlannedOp[][];
}

/** SimConfig is everything a simulation run is determined by. */
export interface SimConfig {
  engine: EngineDefinition<any>;
  /** Raw engine options, resolved with `resolveOptions`. */
  options?: Record<string, string | number | boolean>;
  nodes?: number;
  seed: number;
  workload?: Partial<WorkloadSpec>;
  network?: Partial<NetworkConfig>;
  /** "none", "all" (randomized per seed), a list of kinds (randomized within them), or an explicit schedule. */
  faults?: "none" | "all" | FaultKind[] | FaultStep[];
  /** Explicit ops (replay / shrink); otherwise generated from the seed. */
  plan?: WorkloadPlan;
  /** After the workload: heal everything, restart crashed nodes, settle this long, then final reads. */
  recoveryMs?: number;
  /** Node tick interval (virtual ms). */
  tickMs?: number;
  /** Virtual ms a persist batch takes to become durable; a crash meanwhile loses it and what it held back. */
  persistLatencyMs?: number;
  /** Debug mode: clone messages and records so a core that shares or mutates them is caught. */
  strict?: boolean;
}

/** SimStats counts what happened in a run. */
export interface SimStats {
  ok: number;
  fail: number;
  info: number;
  faultsApplied: number;
  [k: string]: number;
}

/** SimResult is the outcome of one simulation run. */
export interface SimResult {
  seed: number;
  engine: string;
  options: EngineOptions;
  nodes: string[];
  /** ARCHITECTURE §4 events; `time` in virtual ns; final reads carry `meta: { final: true }`. */
  history: HistoryEvent[];
  traceHash: string;
  /** Messages sent between nodes. */
  messages: number;
  delivered: number;
  dropped: number;
  virtualMs: number;
  /** The explicit schedule applied (randomized ones materialized): replayable. */
  faults: FaultStep[];
  network: NetworkConfig;
  workload: WorkloadSpec;
  plan: WorkloadPlan;
  recoveryMs: number;
  /** Virtual ms a persist batch took to become durable in this run (0: at once). */
  persistLatencyMs: number;
  /** Per node, `core.dump()` after recovery (when the core has `dump`). */
  finalState: Record<string, Record<string, string[]>>;
  stats: SimStats;
}

/** DEFAULT_NETWORK is the network when a config gives none. */
export const DEFAULT_NETWORK: NetworkConfig = {
  delay: { kind: "uniform", minMs: 1, maxMs: 10 },
  loss: 0,
  dup: 0,
  reorder: 0,
  clientDelayMs: 1,
  maxMessageBytes: MAX_MESSAGE_BYTES,
};

/** DEFAULT_WORKLOAD is the workload when a config gives none. */
export const DEFAULT_WORKLOAD: WorkloadSpec = {
  clients: 5,
  ops: 200,
  keys: 3,
  mix: { read: 0.5, write: 0.3, cas: 0.2 },
  deadlineMs: 1000,
  thinkMs: 10,
  switchNodeRate: 0.05,
};

/** DEFAULT_RECOVERY_MS is how long the cluster settles after the workload before the final reads. */
export const DEFAULT_RECOVERY_MS = 3000;

/** DEFAULT_TICK_MS is the node tick interval. */
export const DEFAULT_TICK_MS = 10;

/** resolveNetwork fills a partial network config with defaults. */
export function resolveNetwork(n: Partial<NetworkConfig> | undefined): NetworkConfig {
  return { ...DEFAULT_NETWORK, ...(n ?? {}) };
}

/** resolveWorkload fills a partial workload spec with defaults. */
export function resolveWorkload(w: Partial<WorkloadSpec> | undefined): WorkloadSpec {
  const out: WorkloadSpec = { ...DEFAULT_WORKLOAD, ...(w ?? {}) };
  if (w?.mix) out.mix = { ...w.mix };
  return out;
}
