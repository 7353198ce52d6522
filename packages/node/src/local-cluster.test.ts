import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkLinearizableSync, parseHistory } from "@consistency-lab/checker";
import { KvClient } from "@consistency-lab/client";
import type { HistoryEvent, NodeStatus } from "@consistency-lab/kv";
import { raftEngine } from "@consistency-lab/raft";
import { afterEach, describe, expect, it } from "vitest";
import { type LocalCluster, startLocalCluster } from "./local-cluster.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function leaderOf(c: LocalCluster, exclude?: string, maxMs = 8000): Promise<string> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const leaders = c.ids
      .filter((id) => id !== exclude)
      .map((id) => c.node(id).status() as NodeStatus)
      .filter((s) => s.role === "leader");
    if (leaders.length === 1) return leaders[0]!.id;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no leader elected");
}

describe("startLocalCluster with Raft over loopback WebSockets", () => {
  it("serves put/get/cas, survives the leader stopping, and a restarted node catches up", async () => {
    const dir = await mkdtemp(join(tmpdir(), "clab-local-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const c = await startLocalCluster({ engine: raftEngine, nodes: 3, dataDir: dir, logger: silent });
    cleanup.push(() => c.stop());
    const events: HistoryEvent[] = [];
    const client = new KvClient({
      endpoints: c.endpoints,
      token: c.token,
      timeoutMs: 8000,
      record: (e) => events.push(e),
      process: 1,
    });
    cleanup.push(() => client.close());

    await client.put("x", "1");
    expect((await client.get("x")).value).toBe("1");
    expect((await client.cas("x", "1", "2")).swapped).toBe(true);
    expect((await client.cas("x", "1", "3")).swapped).toBe(false);
    expect((await client.cas("y", null, "new")).swapped).toBe(true);

    const old = await leaderOf(c);
    await c.stopNode(old);
    await client.put("x", "after-stop");
    const next = await leaderOf(c, old);
    expect(next).not.toBe(old);
    expect((await client.get("x")).value).toBe("after-stop");

    await c.startNode(old);
    const target = (c.node(next).status() as NodeStatus).commitIndex!;
    const until = Date.now() + 8000;
    while (((c.node(old).status() as NodeStatus).commitIndex ?? 0) < target && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((c.node(old).status() as NodeStatus).commitIndex).toBeGreaterThanOrEqual(target);

    const ops = parseHistory(events);
    expect(checkLinearizableSync(ops).verdict).toBe("ok");
    // Every served request was counted by some node.
    expect(c.nodes.reduce((n, node) => n + node.status().opsServed, 0)).toBeGreaterThan(0);
  }, 30_000);
});

describe("startLocalCluster over TLS", () => {
  it("serves wss:// to clients that trust the CA and replicates over wss:// peer links", async () => {
    const dir = await mkdtemp(join(tmpdir(), "clab-local-tls-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    // A self-signed certificate for 127.0.0.1, made with openssl as the transport's TLS test does.
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
      ].concat(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]),
      { stdio: "ignore" },
    );
    const c = await startLocalCluster({
      engine: raftEngine,
      nodes: 3,
      logger: silent,
      tls: { cert, key, ca: cert },
    });
    cleanup.push(() => c.stop());
    expect(c.endpoints.every((e) => e.startsWith("wss://"))).toBe(true);
    const client = new KvClient({
      endpoints: c.endpoints,
      token: c.token,
      timeoutMs: 8000,
      tls: { ca: cert },
    });
    cleanup.push(() => client.close());
    await client.put("secure", "yes");
    expect((await client.get("secure")).value).toBe("yes");
    // The leader acknowledged only after a majority appended the entry, which reached them over wss:// peer links.
    const appended = c.nodes.map((n) => (n.status() as NodeStatus).lastIndex ?? 0);
    const last = Math.max(...appended);
    expect(appended.filter((i) => i >= last).length).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
