import { KvError, type NodeId } from "@consistency-lab/kv";

/**
 * FaultCommand changes the faults injected on this node's OUTGOING links (one-way by nature: a two-way partition
 * is made by telling both sides). `to` absent or "*" means every peer.
 */
export type FaultCommand =
  | { type: "delay"; to?: NodeId | "*"; ms: number; jitterMs?: number; dist?: "uniform" | "exponential" }
  | { type: "loss"; to?: NodeId | "*"; rate: number }
  | { type: "partition"; to: NodeId[]; oneWay?: boolean }
  | { type: "heal" };

/** LinkFaults is what is injected on one outgoing link. */
export interface LinkFaults {
  /** Constant one-way delay added to every message (ms). */
  delayMs: number;
  /** Extra random delay (ms): uniform in [0, jitterMs) or exponential with mean jitterMs. 0 keeps FIFO order. */
  jitterMs: number;
  dist: "uniform" | "exponential";
  /** Probability that a message is dropped. */
  loss: number;
  /** True when the link is cut: every message is dropped. */
  partitioned: boolean;
}

/** FaultState is every outgoing link's faults, by peer id. */
export interface FaultState {
  links: Record<NodeId, LinkFaults>;
}

/** NO_FAULTS is a healthy link. */
export const NO_FAULTS: Readonly<LinkFaults> = {
  delayMs: 0,
  jitterMs: 0,
  dist: "uniform",
  loss: 0,
  partitioned: false,
};

/** isHealthy tells whether a link has no fault at all. */
export function isHealthy(f: LinkFaults): boolean {
  return f.delayMs === 0 && f.jitterMs === 0 && f.loss === 0 && !f.partitioned;
}

const MAX_DELAY_MS = 60_000;

function fail(message: string): never {
  throw new KvError("KV_INVALID_ARGUMENT", message);
}

function isMs(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x) && x >= 0 && x <= MAX_DELAY_MS;
}

/**
 * parseFaultCommand validates a fault command from the wire and returns a clean copy, or throws
 * KV_INVALID_ARGUMENT. Peer ids are checked against `peers`; the node's own id is accepted and ignored (an admin
 * tool may send the whole group to every member).
 */
export function parseFaultCommand(raw: unknown, self: NodeId, peers: readonly NodeId[]): FaultCommand {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail("fault command must be an object");
  const c = raw as Record<string, unknown>;
  const target = (to: unknown): NodeId | "*" => {
    if (to === undefined || to === "*") return "*";
    if (typeof to !== "string" || (to !== self && !peers.includes(to)))
      fail(`unknown peer ${JSON.stringify(to)}`);
    return to;
  };
  switch (c.type) {
    case "delay": {
      if (!isMs(c.ms)) fail(`delay ms must be a number in [0, ${MAX_DELAY_MS}]`);
      if (c.jitterMs !== undefined && !isMs(c.jitterMs))
        fail(`jitterMs must be a number in [0, ${MAX_DELAY_MS}]`);
      if (c.dist !== undefined && c.dist !== "uniform" && c.dist !== "exponential") {
        fail("dist must be uniform or exponential");
      }
      const cmd: FaultCommand = { type: "delay", to: target(c.to), ms: c.ms };
      if (c.jitterMs !== undefined) cmd.jitterMs = c.jitterMs as number;
      if (c.dist !== undefined) cmd.dist = c.dist as "uniform" | "exponential";
      return cmd;
    }
    case "loss":
      if (typeof c.rate !== "number" || !(c.rate >= 0 && c.rate <= 1)) fail("loss rate must be in [0, 1]");
      return { type: "loss", to: target(c.to), rate: c.rate };
    case "partition": {
      if (!Array.isArray(c.to) || c.to.length > 1024) fail("partition to must be an array of node ids");
      const to = (c.to as unknown[]).map((x) => target(x)).filter((x): x is NodeId => x !== "*");
      const cmd: FaultCommand = { type: "partition", to };
      if (c.oneWay !== undefined) {
        if (typeof c.oneWay !== "boolean") fail("oneWay must be a boolean");
        cmd.oneWay = c.oneWay;
      }
      return cmd;
    }
    case "heal":
      return { type: "heal" };
    default:
      fail(`unknown fault type ${JSON.stringify(c.type)}`);
  }
}

/**
 * applyFault returns the fault state after `cmd`. `heal` removes partitions and loss but keeps configured delays:
 * delay models distance between nodes (what the bench sets for a whole run), not a failure; `delay ms=0` clears it.
 */
export function applyFault(
  state: FaultState,
  cmd: FaultCommand,
  self: NodeId,
  peers: readonly NodeId[],
): FaultState {
  const links: Record<NodeId, LinkFaults> = {};
  for (const p of peers) links[p] = { ...(state.links[p] ?? NO_FAULTS) };
  const targets = (to: NodeId | "*" | undefined): NodeId[] =>
    to === undefined || to === "*" ? [...peers] : peers.filter((p) => p === to);
  switch (cmd.type) {
    case "delay":
      for (const p of targets(cmd.to)) {
        links[p]!.delayMs = cmd.ms;
        links[p]!.jitterMs = cmd.jitterMs ?? 0;
        links[p]!.dist = cmd.dist ?? "uniform";
      }
      break;
    case "loss":
      for (const p of targets(cmd.to)) links[p]!.loss = cmd.rate;
      break;
    case "partition":
      // One node can only cut its own outgoing links; `oneWay` is informational here (the admin tool decides
      // whether to tell the other side too).
      for (const p of cmd.to) if (p !== self && links[p]) links[p].partitioned = true;
      break;
    case "heal":
      for (const p of peers) {
        links[p]!.partitioned = false;
        links[p]!.loss = 0;
      }
      break;
  }
  return { links };
}

/** sampleDelay draws the one-way delay of one message on a link (ms). */
export function sampleDelay(f: LinkFaults, random: () => number = Math.random): number {
  if (f.jitterMs === 0) return f.delayMs;
  const extra = f.dist === "exponential" ? -Math.log(1 - random()) * f.jitterMs : random() * f.jitterMs;
  return f.delayMs + extra;
}
