import { type AdminClient, connectAdmin } from "@consistency-lab/client";
import type { NodeId } from "@consistency-lab/kv";
import type { FaultCommand } from "@consistency-lab/transport-ws";
import type { Command } from "commander";
import { UsageError } from "../usage-error.js";
import {
  adminToken,
  type ClientFlags,
  endpointsOf,
  reportFailure,
  timeoutOf,
  tlsOf,
  withClientFlags,
} from "./kv.js";

/** AdminSession is a set of admin connections to a cluster's nodes, found from any reachable endpoint. */
export interface AdminSession {
  /** Every member id → endpoint, as the nodes know them. */
  members: Record<NodeId, string>;
  /** Connects (once) to one member by id. */
  node(id: NodeId): Promise<AdminClient>;
  close(): Promise<void>;
}

/**
 * openAdminSession connects to the first reachable endpoint with the admin token and learns the member map from
 * its welcome. Rejects with the last KvError (KV_UNAUTHORIZED for a wrong admin token) when none answers.
 */
export async function openAdminSession(
  endpoints: string[],
  token: string,
  timeoutMs: number,
  tls: { tls?: { ca: string } } = {},
): Promise<AdminSession> {
  const conns = new Map<NodeId, Promise<AdminClient>>();
  let first: AdminClient | undefined;
  let lastErr: unknown;
  for (const url of endpoints) {
    try {
      first = await connectAdmin(url, token, { timeoutMs, ...tls });
      break;
    } catch (e) {
      lastErr = e;
      // A refused token will be refused by every node: stop here.
      if ((e as { code?: string }).code === "KV_UNAUTHORIZED") break;
    }
  }
  if (!first) throw lastErr;
  const members: Record<NodeId, string> = {
    ...first.members,
    [first.nodeId]: first.members[first.nodeId] ?? endpoints[0]!,
  };
  conns.set(first.nodeId, Promise.resolve(first));
  return {
    members,
    node(id) {
      let c = conns.get(id);
      if (!c) {
        const url = members[id];
        if (!url)
          return Promise.reject(
            new UsageError(`unknown node ${id}; members: ${Object.keys(members).join(", ")}`),
          );
        c = connectAdmin(url, token, { timeoutMs, ...tls });
        conns.set(id, c);
      }
      return c;
    },
    async close() {
      await Promise.all([...conns.values()].map((p) => p.then((c) => c.close()).catch(() => undefined)));
    },
  };
}

interface FaultFlags extends ClientFlags {
  ms?: string;
  jitterMs?: string;
  dist?: string;
  rate?: string;
  to?: string;
  on?: string;
  oneWay?: boolean;
}

function numberFlag(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`${name} must be a number in [${min}, ${max}]`);
  return n;
}

/** parseGroups reads partition groups: "n1,n2" "n3" → [["n1","n2"],["n3"]]. */
export function parseGroups(args: string[]): NodeId[][] {
  const groups = args.map((a) =>
    a
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  if (groups.length < 2 || groups.some((g) => g.length === 0)) {
    throw new UsageError("partition needs at least two non-empty groups, e.g. clab fault partition n1 n2,n3");
  }
  const seen = new Set<string>();
  for (const id of groups.flat()) {
    if (seen.has(id)) throw new UsageError(`node ${id} is in two groups`);
    seen.add(id);
  }
  return groups;
}

/**
 * partitionPlan says which node must cut which links. Two-way: every node cuts its links to every node outside
 * its group (both sides told, since a node only controls its outgoing links). One-way: only the first group cuts
 * its links to the second (the first group cannot reach the second; the other direction still works).
 */
export function partitionPlan(groups: NodeId[][], oneWay: boolean): { node: NodeId; cmd: FaultCommand }[] {
  if (oneWay) {
    if (groups.length !== 2) throw new UsageError("--one-way takes exactly two groups: FROM TO");
    return groups[0]!.map((node) => ({ node, cmd: { type: "partition", to: groups[1]!, oneWay: true } }));
  }
  const all = groups.flat();
  return groups.flatMap((g) =>
    g.map((node) => ({ node, cmd: { type: "partition" as const, to: all.filter((x) => !g.includes(x)) } })),
  );
}

async function run(
  flags: FaultFlags,
  plan: (s: AdminSession) => { node: NodeId; cmd: FaultCommand }[],
): Promise<void> {
  const session = await openAdminSession(
    endpointsOf(flags),
    adminToken(flags),
    timeoutOf(flags),
    tlsOf(flags),
  ).catch((e) => {
    reportFailure(e);
    return null;
  });
  if (!session) return;
  try {
    const steps = plan(session);
    for (const { node, cmd } of steps) {
      await (await session.node(node)).fault(cmd);
      if (!flags.json) process.stdout.write(`${node}: ${describe(cmd)}\n`);
    }
    if (flags.json) process.stdout.write(`${JSON.stringify(steps)}\n`);
  } catch (e) {
    reportFailure(e);
  } finally {
    await session.close();
  }
}

function describe(cmd: FaultCommand): string {
  switch (cmd.type) {
    case "delay":
      return `delay ${cmd.ms} ms${cmd.jitterMs ? ` + ${cmd.dist ?? "uniform"} jitter ${cmd.jitterMs} ms` : ""} to ${cmd.to ?? "*"}`;
    case "loss":
      return `loss ${cmd.rate} to ${cmd.to ?? "*"}`;
    case "partition":
      return `cut links to ${cmd.to.join(",")}${cmd.oneWay ? " (one-way)" : ""}`;
    case "heal":
      return "healed";
  }
}

/** targets is the nodes a delay/loss applies on: --on ids, else every member. */
function targets(s: AdminSession, on: string | undefined): NodeId[] {
  const ids = on
    ? on
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)
    : Object.keys(s.members).sort();
  for (const id of ids)
    if (!s.members[id])
      throw new UsageError(`unknown node ${id}; members: ${Object.keys(s.members).join(", ")}`);
  return ids;
}

/**
 * registerFault adds `clab fault delay|loss|partition|heal` (ARCHITECTURE §5): fault injection on live nodes'
 * outgoing links through the transport, authenticated with the admin token.
 */
export function registerFault(program: Command): void {
  const fault = program.command("fault").description("inject faults on live nodes (admin token)");

  withClientFlags(fault.command("delay").description("add one-way delay on outgoing links"), true)
    .requiredOption("--ms <ms>", "constant delay per message")
    .option("--jitter-ms <ms>", "extra random delay")
    .option("--dist <d>", "jitter distribution: uniform or exponential", "uniform")
    .option("--to <id>", "only links to this peer (default every peer)")
    .option("--on <ids>", "only on these nodes (default every member)")
    .action((flags: FaultFlags) =>
      run(flags, (s) => {
        const ms = numberFlag("--ms", flags.ms, 0, 60_000);
        const jitterMs =
          flags.jitterMs === undefined ? 0 : numberFlag("--jitter-ms", flags.jitterMs, 0, 60_000);
        if (flags.dist !== "uniform" && flags.dist !== "exponential")
          throw new UsageError("--dist must be uniform or exponential");
        const cmd: FaultCommand = {
          type: "delay",
          ms,
          jitterMs,
          dist: flags.dist,
          ...(flags.to ? { to: flags.to } : {}),
        };
        return targets(s, flags.on)
          .filter((n) => n !== flags.to)
          .map((node) => ({ node, cmd }));
      }),
    );

  withClientFlags(fault.command("loss").description("drop a fraction of messages on outgoing links"), true)
    .requiredOption("--rate <p>", "loss probability 0..1")
    .option("--to <id>", "only links to this peer (default every peer)")
    .option("--on <ids>", "only on these nodes (default every member)")
    .action((flags: FaultFlags) =>
      run(flags, (s) => {
        const rate = numberFlag("--rate", flags.rate, 0, 1);
        const cmd: FaultCommand = { type: "loss", rate, ...(flags.to ? { to: flags.to } : {}) };
        return targets(s, flags.on)
          .filter((n) => n !== flags.to)
          .map((node) => ({ node, cmd }));
      }),
    );

  withClientFlags(
    fault
      .command("partition")
      .argument("<groups...>", "node groups, e.g. n1 n2,n3")
      .description("partition the cluster into groups (two-way unless --one-way FROM TO)"),
    true,
  )
    .option("--one-way", "the first group cannot reach the second; the other direction still works")
    .action((groups: string[], flags: FaultFlags) =>
      run(flags, () => partitionPlan(parseGroups(groups), flags.oneWay === true)),
    );

  withClientFlags(fault.command("heal").description("remove every injected fault on every member"), true)
    .option("--on <ids>", "only on these nodes (default every member)")
    .action((flags: FaultFlags) =>
      run(flags, (s) => targets(s, flags.on).map((node) => ({ node, cmd: { type: "heal" } }))),
    );
}
