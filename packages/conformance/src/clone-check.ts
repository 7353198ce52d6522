import { type ClientRequest, type EngineDefinition, type OptionValue, Rng } from "@consistency-lab/kv";
import { HandNetwork } from "@consistency-lab/sim/testing";

/** One input a clone check feeds to both networks. */
export type CloneInput =
  | { kind: "request"; node: string; req: Omit<ClientRequest, "id"> }
  | { kind: "tick"; ms: number }
  | { kind: "deliver"; count: number }
  | { kind: "crash" | "restart"; node: string };

/**
 * cloneScript is a seeded mix of requests on three keys at random nodes, ticks, partial deliveries and a
 * crash-restart now and then: enough to put a core mid-replication, mid-election and mid-catch-up.
 */
export function cloneScript(nodes: readonly string[], seed: number, length: number): CloneInput[] {
  const rng = new Rng(seed);
  const out: CloneInput[] = [];
  const down = new Set<string>();
  for (let i = 0; i < length; i++) {
    const node = nodes[rng.int(nodes.length)]!;
    const roll = rng.int(100);
    const key = `k${rng.int(3)}`;
    if (roll < 12) out.push({ kind: "request", node, req: { op: "put", key, value: `v${i}` } });
    else if (roll < 20) out.push({ kind: "request", node, req: { op: "get", key } });
    else if (roll < 23)
      out.push({ kind: "request", node, req: { op: "cas", key, expected: null, value: `c${i}` } });
    else if (roll < 25) out.push({ kind: "request", node, req: { op: "delete", key } });
    else if (roll < 55) out.push({ kind: "tick", ms: 10 });
    else if (roll < 97) out.push({ kind: "deliver", count: 1 + rng.int(4) });
    else if (nodes.length > 1 && !down.has(node) && down.size === 0) {
      down.add(node);
      out.push({ kind: "crash", node });
    } else if (down.size > 0) {
      const back = [...down][0]!;
      down.delete(back);
      out.push({ kind: "restart", node: back });
    }
  }
  return out;
}

function apply(net: HandNetwork<unknown>, input: CloneInput): void {
  switch (input.kind) {
    case "request":
      if (!net.isDown(input.node)) net.request(input.node, input.req);
      break;
    case "tick":
      net.now += input.ms;
      for (const id of net.ids) {
        if (net.isDown(id)) continue;
        net.core(id).tick(net.now);
        net.flush(id);
      }
      break;
    case "deliver":
      for (let i = 0; i < input.count && net.deliverOne(); i++);
      break;
    case "crash":
      net.crash(input.node);
      break;
    case "restart":
      net.restart(input.node);
      break;
  }
}

export interface CloneCheckResult {
  /** The first input after the branch at which the two networks' Readys or fingerprints differed, if any. */
  divergedAt?: number;
  detail?: string;
  /** How many Readys were compared. */
  readys: number;
}

/**
 * checkClones runs a seeded script on a hand network of the engine, branches it (every core through its own
 * `clone()`) after `prefix` inputs, feeds the rest of the script to both, and compares every Ready drained (as
 * JSON) and every core's fingerprint after each input. A clone that shares state with its original, or misses
 * part of it (an rng, a timer, a pending outbox), shows up as a difference.
 */
export function checkClones(
  engine: EngineDefinition<any>,
  o: {
    options?: Record<string, OptionValue>;
    nodes?: number;
    seed?: number;
    prefix?: number;
    length?: number;
  } = {},
): CloneCheckResult {
  const seed = o.seed ?? 1;
  const a = new HandNetwork<unknown>({
    engine,
    options: o.options ?? {},
    seed,
    ...(o.nodes ? { nodes: o.nodes } : {}),
  });
  const script = cloneScript(a.ids, seed, o.length ?? 600);
  const prefix = o.prefix ?? Math.floor(script.length / 3);
  for (const input of script.slice(0, prefix)) apply(a, input);
  const b = a.clone();
  for (const id of a.ids) {
    const fa = a.core(id).fingerprint?.();
    if (fa === undefined)
      return { divergedAt: 0, detail: `${engine.name}: core has no fingerprint()`, readys: 0 };
    if (b.core(id).fingerprint!() !== fa)
      return { divergedAt: 0, detail: `${id}: fingerprint differs right after clone()`, readys: 0 };
  }
  const seenA: string[] = [];
  const seenB: string[] = [];
  a.onReady = (id, rd) => seenA.push(`${id} ${JSON.stringify(rd)}`);
  b.onReady = (id, rd) => seenB.push(`${id} ${JSON.stringify(rd)}`);
  let readys = 0;
  for (const [i, input] of script.slice(prefix).entries()) {
    apply(a, input);
    apply(b, input);
    for (let j = readys; j < Math.max(seenA.length, seenB.length); j++) {
      if (seenA[j] !== seenB[j]) {
        return {
          divergedAt: i + 1,
          detail: `Ready ${j} after ${JSON.stringify(input)}:\n  original ${seenA[j]}\n  clone    ${seenB[j]}`,
          readys: j,
        };
      }
    }
    readys = seenA.length;
    for (const id of a.ids) {
      if (a.isDown(id)) continue;
      if (a.core(id).fingerprint!() !== b.core(id).fingerprint!()) {
        return {
          divergedAt: i + 1,
          detail: `${id}: fingerprints differ after ${JSON.stringify(input)}`,
          readys,
        };
      }
    }
  }
  // Independence: inputs only the clone sees leave the original's state as it was.
  const before = a.ids.filter((id) => !a.isDown(id)).map((id) => a.core(id).fingerprint!());
  const live = b.ids.find((id) => !b.isDown(id))!;
  b.request(live, { op: "put", key: "clone-only", value: "x" });
  b.runFor(200);
  const after = a.ids.filter((id) => !a.isDown(id)).map((id) => a.core(id).fingerprint!());
  if (after.join() !== before.join()) {
    return {
      divergedAt: script.length - prefix + 1,
      detail: "the original changed when only its clone got input",
      readys,
    };
  }
  return { readys };
}
