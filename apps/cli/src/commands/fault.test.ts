import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeStatus } from "@consistency-lab/kv";
import { type LocalCluster, startLocalCluster } from "@consistency-lab/node";
import { raftEngine } from "@consistency-lab/raft";
import { afterEach, describe, expect, it } from "vitest";
import { parseGroups, partitionPlan } from "./fault.js";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const silent = { info() {}, warn() {}, error() {}, debug() {} };
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe("partition plans", () => {
  it("tells every node of a two-way partition to cut its links to the other groups", () => {
    expect(partitionPlan(parseGroups(["n1", "n2,n3"]), false)).toEqual([
      { node: "n1", cmd: { type: "partition", to: ["n2", "n3"] } },
      { node: "n2", cmd: { type: "partition", to: ["n1"] } },
      { node: "n3", cmd: { type: "partition", to: ["n1"] } },
    ]);
  });

  it("tells only the first group of a one-way partition", () => {
    expect(partitionPlan(parseGroups(["n1,n2", "n3"]), true)).toEqual([
      { node: "n1", cmd: { type: "partition", to: ["n3"], oneWay: true } },
      { node: "n2", cmd: { type: "partition", to: ["n3"], oneWay: true } },
    ]);
  });

  it("refuses one group, empty groups and a node in two groups", () => {
    expect(() => parseGroups(["n1,n2"])).toThrow(/two/);
    expect(() => parseGroups(["n1", ","])).toThrow();
    expect(() => parseGroups(["n1,n2", "n2"])).toThrow(/two groups/);
    expect(() => partitionPlan(parseGroups(["n1", "n2", "n3"]), true)).toThrow(/exactly two/);
  });
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

async function leaderOf(c: LocalCluster, among: string[], maxMs = 10_000): Promise<string> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const leaders = among.map((id) => c.node(id).status() as NodeStatus).filter((s) => s.role === "leader");
    if (leaders.length === 1) return leaders[0]!.id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no single leader among ${among.join(",")}`);
}

describe("clab fault and clab admin against a live Raft cluster", () => {
  it("partitions the leader away, heals, transfers leadership, and refuses a wrong admin token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clab-fault-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const c = await startLocalCluster({ engine: raftEngine, nodes: 3, dataDir: null, logger: silent });
    cleanups.push(() => c.stop());
    writeFileSync(join(dir, "admin.token"), c.adminToken);
    writeFileSync(join(dir, "wrong.token"), "wrong");
    const flags = ["--endpoints", c.endpoints.join(","), "--admin-token-file", join(dir, "admin.token")];

    const old = await leaderOf(c, c.ids);
    const rest = c.ids.filter((id) => id !== old);
    const part = await clab(["fault", "partition", old, rest.join(","), ...flags]);
    expect(part.code, part.stderr).toBe(0);
    expect(part.stdout).toContain(`${old}: cut links to ${rest.join(",")}`);
    const next = await leaderOf(c, rest);
    expect(rest).toContain(next);

    const heal = await clab(["fault", "heal", ...flags]);
    expect(heal.code, heal.stderr).toBe(0);
    // After healing, the old leader learns the new term and follows.
    const until = Date.now() + 10_000;
    while ((c.node(old).status() as NodeStatus).role === "leader" && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((c.node(old).status() as NodeStatus).role).not.toBe("leader");

    const current = await leaderOf(c, c.ids);
    const target = c.ids.find((id) => id !== current)!;
    const transfer = await clab(["admin", "transfer-leader", target, ...flags]);
    expect(transfer.code, transfer.stderr).toBe(0);
    expect(await leaderOf(c, [target])).toBe(target);

    const wrong = await clab([
      "fault",
      "delay",
      "--ms",
      "5",
      "--endpoints",
      c.endpoints.join(","),
      "--admin-token-file",
      join(dir, "wrong.token"),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^KV_UNAUTHORIZED/);
  }, 60_000);
});
