import type { Rng } from "./rng.js";
import type { Supports } from "./supports.js";
import type { ClientReply, ClientRequest, NodeId } from "./types.js";

/**
 * PersistOp is one durable record operation. Records are keyed strings holding JSON-serialisable data; a Ready's
 * persist list is applied as ONE atomic batch (LevelDB `batch(..., { sync: true })` in the node driver).
 */
export type PersistOp = { type: "put"; key: string; value: unknown } | { type: "del"; key: string };

/** Envelope is a message from one node to another. */
export interface Envelope<M> {
  to: NodeId;
  message: M;
}

/**
 * Ready is the work a core produced since the last `ready()` call. The driver MUST:
 * 1. make `persist` durable (one atomic batch),
 * 2. then release `send` and `replies`.
 * `sendEarly` may be released before `persist` is durable; a core only uses it where its protocol allows it
 * (Raft thesis §10.2.1: a leader may send AppendEntries before its own append is durable, as long as it does not
 * count itself toward commit until it is). Drivers that do not care may treat it like `send`.
 */
export interface Ready<M> {
  persist: PersistOp[];
  send: Envelope<M>[];
  replies: ClientReply[];
  sendEarly?: Envelope<M>[];
}

/** NodeStatus is what `clab status` and the bench show about a node. */
export interface NodeStatus {
  id: NodeId;
  /** e.g. "leader", "follower", "candidate", "learner", "replica". */
  role: string;
  leader?: NodeId | null;
  /** Raft term or single-leader epoch. */
  term?: number;
  commitIndex?: number;
  lastIndex?: number;
  /** Replication lag in entries or ms, engine-defined. */
  lag?: number;
  members?: NodeId[];
  [extra: string]: unknown;
}

/** AdminCommand is an operator action an engine may support (leader transfer, membership, promote). */
export interface AdminCommand {
  id: string;
  command: string;
  args?: Record<string, unknown>;
}

/**
 * EngineCore is an engine's protocol as a deterministic state machine with no I/O (ARCHITECTURE §2).
 * It never reads the clock or Math.random, never awaits, never touches sockets or disk.
 */
export interface EngineCore<M = unknown> {
  readonly id: NodeId;
  /** A peer message arrived. */
  step(from: NodeId, message: M): void;
  /** A client request arrived at this node. The reply comes out of `ready().replies` with the same id. */
  request(req: ClientRequest): void;
  /**
   * Time advanced to `now` (ms; virtual in sim, wall-clock in node). Never goes backwards per core. Drivers tick
   * periodically AND deliver every input (step, request, admin) with the core's clock at most one tick period
   * old — the node driver ticks first when a tick is due, the simulator ticks a resumed node before its queued
   * input — so a core may trust `now` to within one period (Raft lease reads rely on it).
   */
  tick(now: number): void;
  /** Drain the work produced since the last call. */
  ready(): Ready<M>;
  /** Current status for operators. */
  status(): NodeStatus;
  /** An operator command; replies come out of `ready().replies` with the command id. */
  admin?(cmd: AdminCommand): void;
  /**
   * Final state for convergence checks: every key this replica holds and its value(s). Called by the simulator
   * after faults heal and the cluster quiesces.
   */
  dump?(): Map<string, string[]>;
  /**
   * An independent copy of this core in the same state (rng and pending Ready included): the copy and the original
   * produce identical Readys for the same inputs. For explorers that branch from a state. Cores hold plain data
   * only (see `deepClone`), so most implement it as `deepClone(this)`.
   */
  clone?(): EngineCore<M>;
  /** A stable digest of this core's whole state (see `fingerprint`): equal states, equal digests. */
  fingerprint?(): string;
}

/** EngineInit is everything a core is constructed from. A crash-restart is `create` with the persisted records. */
export interface EngineInit {
  id: NodeId;
  /** Every member of the initial cluster, including `id`, in a stable order. */
  peers: NodeId[];
  rng: Rng;
  /** Engine options after defaults were applied. */
  options: EngineOptions;
  /** Current time (ms). */
  now: number;
  /** The records this node persisted before it stopped; empty on first start. */
  records: ReadonlyMap<string, unknown>;
}

export type OptionValue = string | number | boolean;
export type EngineOptions = Record<string, OptionValue>;

/** OptionSpec documents one engine option for `--option k=v` and `clab sim --list`. */
export interface OptionSpec {
  name: string;
  type: "string" | "number" | "boolean";
  default: OptionValue;
  choices?: readonly OptionValue[];
  description: string;
}

/**
 * EngineDefinition registers an engine (or a deliberately broken variant) with the simulator, the node runtime
 * and the CLI.
 */
export interface EngineDefinition<M = unknown> {
  /** e.g. "raft", "raft-broken-stale-read". */
  name: string;
  description: string;
  /** For broken variants: what is broken, for docs. */
  broken?: string;
  /** For broken variants: why the project keeps it (what shows the bug being caught). */
  keptBecause?: string;
  options: readonly OptionSpec[];
  /** Default cluster size for simulations. */
  defaultNodes?: number;
  /** Largest cluster the engine supports (the one-node reference: 1). */
  maxNodes?: number;
  create(init: EngineInit): EngineCore<M>;
  /** What the engine promises under these (defaulted) options. Broken variants declare what the real one would. */
  supports(options: EngineOptions): Supports;
  /**
   * Request options the simulated workload should send by default under these engine options, e.g.
   * `{ read: "lease" }`. Optional.
   */
  requestOptions?(options: EngineOptions): import("./types.js").RequestOptions;
  /** Largest message payloads are estimated as JSON; engines may give a cheaper estimate. */
  messageSize?(message: M): number;
  /**
   * Where a client may retry a write whose earlier attempt may have taken effect (see `WriteRetry`); default
   * `anywhere`. Clients learn it from the node's welcome, the simulator from the definition.
   */
  writeRetry?(options: EngineOptions): import("./client-op.js").WriteRetry;
}
