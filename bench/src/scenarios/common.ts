import type { KvClient } from "@consistency-lab/client";
import type { NodeStatus } from "@consistency-lab/kv";
import type { ClusterHandle } from "../cluster.js";
import { makeClient } from "../load.js";

/** admin is a short-lived client for status and fault injection. */
export function adminClient(c: ClusterHandle): KvClient {
  return makeClient(c, c.endpoints, { timeoutMs: 3000, process: -1 });
}

/** statuses asks every node for its status; a node that does not answer is missing from the list. */
export async function statuses(c: ClusterHandle): Promise<(NodeStatus & Record<string, any>)[]> {
  const a = adminClient(c);
  try {
    return (await a.status()) as (NodeStatus & Record<string, any>)[];
  } finally {
    await a.close();
  }
}

/** sentMessages sums the peer messages every node's transport has sent so far. */
export async function sentMessages(c: ClusterHandle): Promise<number | null> {
  const s = await statuses(c);
  let total = 0;
  for (const st of s) {
    const sent = st.transport?.sent;
    if (typeof sent !== "number") return null;
    total += sent;
  }
  return total;
}

/** leaderOf returns the id a majority of nodes name as leader (or the one that says it leads). */
export async function leaderOf(c: ClusterHandle): Promise<string | undefined> {
  const s = await statuses(c);
  return s.find((x) => x.role === "leader")?.id ?? undefined;
}

/** waitForLeader polls until a leader is known (leaderless engines return undefined after one look). */
export async function waitForLeader(
  c: ClusterHandle,
  leaderBased: boolean,
  timeoutMs = 10_000,
): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const l = await leaderOf(c).catch(() => undefined);
    if (l || !leaderBased || Date.now() > end) return l;
    await sleep(100);
  }
}

/** setDelay sets the one-way delay on every node's outgoing peer links. */
export async function setDelay(c: ClusterHandle, ms: number, jitterMs = 0): Promise<void> {
  const a = adminClient(c);
  try {
    for (const ep of c.endpoints) {
      // `heal` clears partitions and loss but keeps delay (delay is distance, not a fault): set it explicitly.
      await a.fault(ep, { type: "delay", to: "*", ms, jitterMs }, c.adminToken);
    }
  } finally {
    await a.close();
  }
}

/** partition cuts every link between the two sides, both ways. */
export async function partition(c: ClusterHandle, minority: string[], majority: string[]): Promise<void> {
  const a = adminClient(c);
  try {
    for (const [i, id] of c.ids.entries()) {
      const other = minority.includes(id) ? majority : minority;
      await a.fault(c.endpoints[i]!, { type: "partition", to: other }, c.adminToken);
    }
  } finally {
    await a.close();
  }
}

export async function heal(c: ClusterHandle): Promise<void> {
  const a = adminClient(c);
  try {
    for (const ep of c.endpoints) await a.fault(ep, { type: "heal" }, c.adminToken);
  } finally {
    await a.close();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** endpointsFor rotates the endpoint list so client i talks to node i mod N first. */
export function rotated(endpoints: string[], i: number): string[] {
  const k = i % endpoints.length;
  return [...endpoints.slice(k), ...endpoints.slice(0, k)];
}
