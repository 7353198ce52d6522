import { KvClient } from "@consistency-lab/client";
import type { NodeStatus } from "@consistency-lab/kv";
import type { Command } from "commander";
import {
  type ClientFlags,
  clientToken,
  endpointsOf,
  reportFailure,
  timeoutOf,
  tlsOf,
  withClientFlags,
} from "./kv.js";

/** StatusRow is one line of `clab status`. */
export interface StatusRow {
  node: string;
  endpoint: string;
  role: string;
  term: string;
  leader: string;
  commit: string;
  lag: string;
  ops: string;
  health: string;
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const show = (v: unknown): string => (v === undefined || v === null ? "-" : String(v));

/**
 * statusRows turns node statuses into table rows. Lag is the node's own `lag` when its engine reports one, else
 * how many entries its commit index trails the highest commit index seen. Health: `ok`, `no leader`, or
 * `unreachable (CODE)`.
 */
export function statusRows(statuses: NodeStatus[]): StatusRow[] {
  const maxCommit = Math.max(-1, ...statuses.map((s) => num(s.commitIndex) ?? -1));
  return statuses.map((s) => {
    const endpoint = show(s.endpoint);
    if (s.role === "unreachable") {
      return {
        node: "?",
        endpoint,
        role: "-",
        term: "-",
        leader: "-",
        commit: "-",
        lag: "-",
        ops: "-",
        health: `unreachable (${show(s.error)})`,
      };
    }
    const commit = num(s.commitIndex);
    const lag = num(s.lag) ?? (commit !== undefined && maxCommit >= 0 ? maxCommit - commit : undefined);
    const term = num(s.term) ?? num(s.epoch);
    const hasLeaderField = Object.hasOwn(s, "leader");
    return {
      node: s.id,
      endpoint,
      role: s.role,
      term: show(term),
      leader: show(s.leader),
      commit: commit === undefined ? "-" : `${commit}/${show(num(s.lastIndex))}`,
      lag: show(lag),
      ops: show(num(s.opsServed)),
      health: hasLeaderField && (s.leader === null || s.leader === undefined) ? "no leader" : "ok",
    };
  });
}

/** formatTable renders rows as aligned columns with a header. */
export function formatTable(rows: StatusRow[]): string {
  const cols: (keyof StatusRow)[] = [
    "node",
    "endpoint",
    "role",
    "term",
    "leader",
    "commit",
    "lag",
    "ops",
    "health",
  ];
  const head: Record<keyof StatusRow, string> = {
    node: "NODE",
    endpoint: "ENDPOINT",
    role: "ROLE",
    term: "TERM/EPOCH",
    leader: "LEADER",
    commit: "COMMIT/LAST",
    lag: "LAG",
    ops: "OPS",
    health: "HEALTH",
  };
  const all = [head, ...rows];
  const width = cols.map((c) => Math.max(...all.map((r) => r[c].length)));
  return all
    .map((r) =>
      cols
        .map((c, i) => r[c].padEnd(width[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * registerStatus adds `clab status` (ARCHITECTURE §5): each node's role, term/epoch, leader, commit/lag, ops
 * served and health. Exit 0 when every node answered and knows a leader, else 1.
 */
export function registerStatus(program: Command): void {
  withClientFlags(
    program.command("status").description("show each node's role, term/epoch, leader, commit/lag and health"),
  ).action(async (flags: ClientFlags) => {
    const client = new KvClient({
      endpoints: endpointsOf(flags),
      token: clientToken(flags),
      timeoutMs: timeoutOf(flags),
      ...tlsOf(flags),
    });
    try {
      const statuses = await client.status();
      if (flags.json) process.stdout.write(`${JSON.stringify(statuses)}\n`);
      const rows = statusRows(statuses);
      if (!flags.json) process.stdout.write(`${formatTable(rows)}\n`);
      if (rows.some((r) => r.health !== "ok")) process.exitCode = 1;
    } catch (e) {
      reportFailure(e);
    } finally {
      await client.close();
    }
  });
}
