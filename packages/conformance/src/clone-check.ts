import {
  type ClientRequest,
  type EngineDefinition,
  lockstep,
  type OptionValue,
  Rng,
} from "@consistency-lab/kv";
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
      net.advance(input.ms);
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
  /** The first input after the branch at which the two networks differed (0: right after the clone), if any. */
  divergedAt?: number;
  detail?: string;
  /** How many Readys the original drained after the branch. */
  readys: number;
}

/**
 * checkClones runs a seeded script on a hand network of the engine, branches it (every core through its own
 * `clone()`) after `prefix` inputs, feeds the rest of the script to both in lockstep, and compares after each
 * input the Readys drained (as JSON) and every live core's fingerprint. A clone that shares state with its
 * original, or misses part of it (an rng, a timer, a pending outbox), shows up as a difference; so does an
 * original that changes when only its clone gets input.
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
  if (a.core(a.ids[0]!).fingerprint === undefined) {
    return { divergedAt: 0, detail: `${engine.name}: core has no fingerprint()`, readys: 0 };
  }
  const b = a.clone();
  const drained = new Map<HandNetwork<unknown>, string[]>([
    [a, []],
    [b, []],
  ]);
  let readys = 0;
  a.onReady = (id, rd) => {
    readys++;
    drained.get(a)!.push(`${id} ${JSON.stringify(rd)}`);
  };
  b.onReady = (id, rd) => drained.get(b)!.push(`${id} ${JSON.stringify(rd)}`);
  const observe = (net: HandNetwork<unknown>): string => {
    const lines = drained.get(net)!.splice(0);
    for (const id of net.ids) if (!net.isDown(id)) lines.push(`${id} ${net.core(id).fingerprint!()}`);
    return lines.join("\n");
  };
  const d = lockstep(
    a,
    b,
    script.slice(prefix).map((input) => (net: HandNetwork<unknown>) => apply(net, input)),
    observe,
    (net) => {
      net.request(net.ids.find((id) => !net.isDown(id))!, { op: "put", key: "clone-only", value: "x" });
      net.runFor(200);
    },
  );
  if (d === undefined) return { readys };
  const at =
    d.step === 0
      ? "right after clone()"
      : `after ${JSON.stringify(script[prefix + d.step - 1] ?? "a clone-only put")}`;
  return { divergedAt: d.step, detail: `${at}:\n  original ${d.original}\n  clone    ${d.clone}`, readys };
}
