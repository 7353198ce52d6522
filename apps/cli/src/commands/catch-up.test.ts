import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { causalEngine } from "@consistency-lab/causal";
import { KvClient } from "@consistency-lab/client";
import type { EngineDefinition, NodeStatus } from "@consistency-lab/kv";
import { multiLeaderEngine } from "@consistency-lab/multi-leader";
import { startLocalCluster } from "@consistency-lab/node";
import { quorumEngine } from "@consistency-lab/quorum";
import { raftEngine } from "@consistency-lab/raft";
import { singleLeaderEngine } from "@consistency-lab/single-leader";
import { afterEach, describe, expect, it } from "vitest";

/*
 * Catch-up with large values over real WebSockets (issue 12): a node partitioned away while 64 KiB values are
 * written must catch up after the heal. With batches counted in entries (64 x 64 KiB = 4 MiB) every catch-up
 * message was over the transport's 2 MiB frame limit and dropped, and the node never converged.
 */

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const silent = { info() {}, warn() {}, error() {}, debug() {} };
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function clab(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/**
 * position is what a node holds: the last log index (single-leader, raft), the applied version vector (causal,
 * multi-leader), or the Merkle roots of its key ranges (quorum).
 */
function position(s: NodeStatus): unknown {
  return s.applied ?? s.lastIndex ?? s.ranges;
}

// Raft with a snapshot every 20 entries: the partitioned node needs a snapshot of 50 keys of 64 KiB (3.2 MiB), over
// the 2 MiB peer message limit; sent as one message it was dropped every time and the node never caught up.
describe.each([
  ["single-leader", singleLeaderEngine, {}],
  ["multi-leader", multiLeaderEngine, {}],
  ["causal", causalEngine, {}],
  ["raft (snapshotEvery=20)", raftEngine, { snapshotEvery: 20 }],
  ["quorum", quorumEngine, {}],
] as [string, EngineDefinition<any>, Record<string, number>][])(
  "%s catch-up with 64 KiB values (real WebSocket nodes)",
  (_, engine, options) => {
    it("a node partitioned during the writes holds everything soon after the heal", async () => {
      const c = await startLocalCluster({ engine, options, nodes: 3, dataDir: null, logger: silent });
      cleanups.push(() => c.stop());
      const dir = mkdtempSync(join(tmpdir(), "clab-catch-up-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, "admin.token"), c.adminToken);
      const flags = ["--endpoints", c.endpoints.join(","), "--admin-token-file", join(dir, "admin.token")];
      const part = await clab(["fault", "partition", "n1,n2", "n3", ...flags]);
      expect(part.code, part.stderr).toBe(0);

      const client = new KvClient({ endpoints: [c.endpoints[0]!], token: c.token, timeoutMs: 5000 });
      cleanups.push(() => client.close());
      for (let i = 0; i < 150; i++) await client.put(`k${i % 50}`, `${i}-`.padEnd(64 * 1024, "."));
      const at = (id: string) => position(c.node(id).status() as NodeStatus);
      expect(at("n3")).not.toEqual(at("n1"));

      const heal = await clab(["fault", "heal", ...flags]);
      expect(heal.code, heal.stderr).toBe(0);
      const until = Date.now() + 10_000;
      while (JSON.stringify(at("n3")) !== JSON.stringify(at("n1")) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(at("n3")).toEqual(at("n1"));
      expect(at("n2")).toEqual(at("n1"));
    }, 60_000);
  },
);
