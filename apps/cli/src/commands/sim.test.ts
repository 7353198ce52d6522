import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// These tests run the built command, as a user does (`pnpm build` first; `pnpm test` builds before testing).
const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "main.js");

function clab(args: string[], cwd = process.cwd()) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", cwd, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const hashOf = (out: string) => /trace ([0-9a-f]+)/.exec(out)?.[1];

describe("clab sim", () => {
  it("runs the reference engine under randomized faults with no violation", () => {
    const r = clab(["sim", "--engine", "memory", "--seeds", "10", "--faults", "all"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split("\n").at(-1)).toMatch(
      /^sim memory: 10 runs, 0 violations, \d+ messages, \d+ msg\/s$/,
    );
  });

  it("prints the same trace hash for the same seed, and a different one for another seed", () => {
    const a = hashOf(clab(["sim", "--engine", "memory", "--seed", "3", "--faults", "all"]).out);
    const b = hashOf(clab(["sim", "--engine", "memory", "--seed", "3", "--faults", "all"]).out);
    const c = hashOf(clab(["sim", "--engine", "memory", "--seed", "4", "--faults", "all"]).out);
    expect(a).toBeDefined();
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("flags the broken engine: exit 1, a replay command per failing seed, and the replay fails again", () => {
    const dir = mkdtempSync(join(tmpdir(), "clab-sim-"));
    const r = clab([
      "sim",
      "--engine",
      "memory-broken-lagging-replica",
      "--seeds",
      "3",
      "--faults",
      "all",
      "--history",
      dir,
    ]);
    expect(r.code).toBe(1);
    const failing = r.out.split("\n").filter((l) => l.includes("VIOLATION")).length;
    expect(failing).toBeGreaterThan(0);
    const replays = [...r.out.matchAll(/replay: pnpm -s clab sim --replay (\S+)/g)].map((m) => m[1]!);
    expect(replays).toHaveLength(failing);
    expect(readdirSync(dir).filter((f) => f.endsWith(".jsonl")).length).toBeGreaterThanOrEqual(3);
    const again = clab(["sim", "--replay", replays[0]!]);
    expect(again.code).toBe(1);
    expect(again.out).toContain("VIOLATION");
  });

  it("accepts a scenario file and rejects a malformed one naming the problem", () => {
    const dir = mkdtempSync(join(tmpdir(), "clab-scenario-"));
    const good = join(dir, "good.json");
    writeFileSync(
      good,
      JSON.stringify({
        nodes: 1,
        workload: { ops: 60 },
        faults: [
          { at: 100, crash: "n1" },
          { at: 400, restart: "n1" },
        ],
      }),
    );
    const ok = clab(["sim", "--engine", "memory", "--scenario", good, "--seeds", "2"]);
    expect(ok.code, ok.err).toBe(0);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ nodes: 1, faults: [{ at: 100, crash: "n1" }], workloadz: {} }));
    const no = clab(["sim", "--engine", "memory", "--scenario", bad, "--seeds", "2"]);
    expect(no.code).toBe(2);
    expect(no.err).toContain("workloadz");
  });

  it("refuses bad arguments with exit 2", () => {
    expect(clab(["sim", "--engine", "nope"]).code).toBe(2);
    expect(clab(["sim", "--engine", "memory", "--faults", "meteor"]).code).toBe(2);
    expect(clab(["sim", "--engine", "memory", "--nodes", "3"]).code).toBe(2);
    expect(clab(["sim", "--engine", "memory", "--option", "nope=1"]).code).toBe(2);
    expect(clab(["sim", "--engine", "memory", "--seeds", "0"]).code).toBe(2);
  });

  it("lists engines, broken variants and what they declare", () => {
    const r = clab(["sim", "--list"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("memory  (engine)");
    expect(r.out).toContain("memory-broken-lagging-replica  (broken variant)");
    expect(r.out).toContain("declares: linearizable");
  });
});
