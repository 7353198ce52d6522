import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KvClient } from "@consistency-lab/client";
import type { NodeStatus } from "@consistency-lab/kv";
import { startLocalCluster } from "@consistency-lab/node";
import { raftEngine } from "@consistency-lab/raft";
import { singleLeaderEngine } from "@consistency-lab/single-leader";
import { afterEach, describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const silent = { info() {}, warn() {}, error() {}, debug() {} };
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function clab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function tokenFile(token: string): string {
  const dir = mkdtempSync(join(tmpdir(), "clab-admin-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "admin.token");
  writeFileSync(file, token);
  return file;
}

describe("clab admin promote: single-leader manual failover (real WebSocket nodes)", () => {
  it("with the leader down, makes the named follower the leader, and writes go on through it", async () => {
    const c = await startLocalCluster({
      engine: singleLeaderEngine,
      nodes: 3,
      dataDir: null,
      logger: silent,
    });
    cleanups.push(() => c.stop());
    const flags = ["--endpoints", c.endpoints.join(","), "--admin-token-file", tokenFile(c.adminToken)];
    const client = new KvClient({ endpoints: c.endpoints, token: c.token, timeoutMs: 3000 });
    cleanups.push(() => client.close());
    await client.put("k", "before");
    expect((c.node("n1").status() as NodeStatus).role).toBe("leader");

    // A follower that is behind cannot win (the other votes only for a log as up to date as its own, Raft
    // §5.4.1): wait until both hold what the leader holds, as an operator would check with `clab status`.
    const last = (id: string) => (c.node(id).status() as NodeStatus).lastIndex;
    const until = Date.now() + 10_000;
    while ((last("n2") !== last("n1") || last("n3") !== last("n1")) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Manual failover: nobody takes over by itself; the old leader's address comes first in --endpoints.
    await c.stopNode("n1");
    const promote = await clab(["admin", "promote", "n2", ...flags]);
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toBe("n2 is the leader\n");
    expect((c.node("n2").status() as NodeStatus).role).toBe("leader");
    await client.put("k", "after");
    expect((await client.get("k")).value).toBe("after");

    // Promoting the node that already leads is a no-op that succeeds.
    const again = await clab(["admin", "promote", "n2", ...flags]);
    expect(again.code, again.stderr).toBe(0);
  }, 60_000);

  it("fails with KV_UNAVAILABLE when the node cannot win a majority, and says why", async () => {
    const c = await startLocalCluster({
      engine: singleLeaderEngine,
      nodes: 3,
      dataDir: null,
      logger: silent,
    });
    cleanups.push(() => c.stop());
    const flags = ["--endpoints", c.endpoints.join(","), "--admin-token-file", tokenFile(c.adminToken)];
    await c.stopNode("n1");
    await c.stopNode("n3");
    const promote = await clab(["admin", "promote", "n2", ...flags]);
    expect(promote.code).toBe(1);
    expect(promote.stderr).toMatch(/^KV_UNAVAILABLE: promote failed/);
    const unknown = await clab(["admin", "promote", "n9", ...flags]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown node n9/);
  }, 60_000);

  it("on raft, points to transfer-leader and promote-learner instead of misreading the command", async () => {
    const c = await startLocalCluster({ engine: raftEngine, nodes: 3, dataDir: null, logger: silent });
    cleanups.push(() => c.stop());
    const flags = ["--endpoints", c.endpoints.join(","), "--admin-token-file", tokenFile(c.adminToken)];
    const promote = await clab(["admin", "promote", "n2", ...flags]);
    expect(promote.code).toBe(1);
    expect(promote.stderr).toMatch(/^KV_NOT_SUPPORTED: .*transfer-leader.*promote-learner/);
    const help = await clab(["admin", "--help"]);
    expect(help.stdout).toMatch(/promote \[options\] <node> +make NODE the leader \(single-leader manual/);
    expect(help.stdout).toMatch(/promote-learner \[options\] <node> +make learner NODE a voter/);
  }, 60_000);
});
