import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Spawns the built command (build first: pnpm turbo run build --filter=@consistency-lab/cli...). CLAB_MAIN points it
// at another build of main.js (one compiled to a temporary outDir while dist/ is in use).
const main = process.env.CLAB_MAIN ?? join(dirname(fileURLToPath(import.meta.url)), "../../dist/main.js");
const clab = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8" });

const ev = (process: number, type: string, f: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ process, type, f, key: "x", ...extra });
const GOOD = [
  ev(1, "invoke", "write", { value: 1 }),
  ev(1, "ok", "write", { value: 1 }),
  ev(2, "invoke", "read"),
  ev(2, "ok", "read", { value: 1 }),
].join("\n");
const BAD = [
  ev(1, "invoke", "write", { value: 1 }),
  ev(1, "ok", "write", { value: 1 }),
  ev(2, "invoke", "read"),
  ev(2, "ok", "read", { value: 7 }),
].join("\n");

function files(contents: Record<string, string>): { dir: string; paths: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "clab-check-"));
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(contents)) {
    const path = join(dir, name);
    paths[name] = path;
    writeFileSync(path, `${text}\n`);
  }
  return { dir, paths };
}

describe("clab check", () => {
  it("prints one line per file and the summary, exit 0 when all ok", () => {
    const { paths } = files({ "a.jsonl": GOOD, "b.jsonl": GOOD });
    const r = clab("check", paths["a.jsonl"]!, paths["b.jsonl"]!);
    expect(r.status).toBe(0);
    const out = r.stdout.trim().split("\n");
    expect(out[0]).toMatch(/a\.jsonl: ok \(2 ops, 1 keys, [\d.]+ s\)$/);
    expect(out[2]).toMatch(/^checked 2 files: 2 ok, 0 violation, 0 unknown, 0 invalid \([\d.]+ s\)$/);
  });

  it("exit 1 on a violation, with the failing op named and an HTML report written", () => {
    const { dir, paths } = files({ "bad.jsonl": BAD });
    const report = join(dir, "r.html");
    const r = clab("check", paths["bad.jsonl"]!, "--model", "register", "--report", report);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /bad\.jsonl: violation \(2 ops, 1 keys, [\d.]+ s\) key "x": #1 p2 read x → 7 \(lines 3–4\) cannot be linearized/,
    );
    const html = readFileSync(report, "utf8");
    expect(html).toContain("<!doctype html>");
    expect(html).toContain('"bad":true');
  });

  it("exit 2 naming the line of malformed input, and invalid in the summary", () => {
    const { paths } = files({
      "m.jsonl": `${GOOD}\n${ev(3, "ok", "read", { value: 1 })}`,
      "c.jsonl": ev(1, "invoke", "cas", { value: 5 }),
    });
    const r = clab("check", paths["m.jsonl"]!, paths["c.jsonl"]!);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/m\.jsonl: invalid .*line 5: ok read for process 3 with no op in flight/);
    expect(r.stdout).toMatch(/c\.jsonl: invalid .*line 1: a cas value must be a pair/);
    expect(r.stdout).toMatch(/0 ok, 0 violation, 0 unknown, 2 invalid/);
  });

  it("--json prints one object per file and check; --consistency all covers every check; violation wins the exit code", () => {
    const { dir, paths } = files({ "g.jsonl": GOOD, "b.jsonl": BAD, "m.jsonl": "{" });
    const r = clab(
      "check",
      paths["g.jsonl"]!,
      paths["b.jsonl"]!,
      paths["m.jsonl"]!,
      "--consistency",
      "all",
      "--json",
      "--report",
      join(dir, "out"),
    );
    expect(r.status).toBe(1);
    const objs = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(objs).toHaveLength(3 * 8);
    for (const o of objs)
      expect(Object.keys(o)).toEqual(
        expect.arrayContaining(["file", "consistency", "verdict", "ops", "keys", "seconds"]),
      );
    const bad = objs.filter((o) => o.file === paths["b.jsonl"]);
    expect(bad.find((o) => o.consistency === "linearizable").verdict).toBe("violation");
    expect(bad.find((o) => o.consistency === "causal").verdict).toBe("violation");
    expect(objs.find((o) => o.file === paths["m.jsonl"]).line).toBe(1);
    expect(existsSync(join(dir, "out", "g.html"))).toBe(true);
    expect(existsSync(join(dir, "out", "b.html"))).toBe(true);
  });

  it("--consistency session prints one combined line naming the broken guarantee", () => {
    const ryw = [
      ev(1, "invoke", "write", { value: 1 }),
      ev(1, "ok", "write"),
      ev(1, "invoke", "read"),
      ev(1, "ok", "read", { value: null }),
    ].join("\n");
    const { paths } = files({ "s.jsonl": ryw });
    const r = clab("check", paths["s.jsonl"]!, "--consistency", "session");
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /s\.jsonl: violation \(2 ops, 1 keys, [\d.]+ s\) readYourWrites violation \(1\)/,
    );
  });

  it("checks simulator histories: the reference engine's are ok, the broken engine's are violations", () => {
    const dir = mkdtempSync(join(tmpdir(), "clab-check-sim-"));
    const good = join(dir, "good");
    const bad = join(dir, "bad");
    expect(clab("sim", "--engine", "memory", "--seeds", "3", "--history", good).status).toBe(0);
    const okRun = clab("check", ...readdirSync(good).map((f) => join(good, f)), "--model", "kv");
    expect(okRun.stdout).toMatch(/checked 3 files: 3 ok, 0 violation/);
    expect(okRun.status).toBe(0);
    clab("sim", "--engine", "memory-broken-lagging-replica", "--seeds", "3", "--history", bad, "--no-shrink");
    const files = readdirSync(bad).filter((f) => f.endsWith(".jsonl"));
    const badRun = clab(
      "check",
      ...files.map((f) => join(bad, f)),
      "--model",
      "kv",
      "--report",
      join(dir, "reports"),
    );
    expect(badRun.status).toBe(1);
    expect(badRun.stdout).toMatch(/violation \(\d+ ops, \d+ keys, [\d.]+ s\) key "k\d": #\d+ p\d+ read/);
    expect(readdirSync(join(dir, "reports"))).toHaveLength(files.length);
  });

  it("--input-format jepsen reads Jepsen register logs: their timed-out ops are indeterminate, malformed lines invalid", () => {
    const op = (o: string) => `INFO  jepsen.util - ${o.replaceAll(" ", "\t")}`;
    const { paths } = files({
      // p1's write timed out, so it may still take effect: p2 reading 1 later is linearizable.
      "ok.log": [
        "INFO  jepsen.core - Running test",
        ...["1 :invoke :write 1", "1 :info :write :timed-out", "2 :invoke :read nil", "2 :ok :read 1"].map(
          op,
        ),
      ].join("\n"),
      // p1's write was acknowledged before p2 read: nil (the initial absent value) is stale.
      "bad.log": ["1 :invoke :write 1", "1 :ok :write 1", "2 :invoke :read nil", "2 :ok :read nil"]
        .map(op)
        .join("\n"),
      "broken.log": ["1 :invoke :cas [1]"].map(op).join("\n"),
    });
    const r = clab(
      "check",
      "--input-format",
      "jepsen",
      "--model",
      "register",
      paths["ok.log"]!,
      paths["bad.log"]!,
      paths["broken.log"]!,
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/ok\.log: ok \(2 ops, 1 keys, [\d.]+ s\)/);
    expect(r.stdout).toMatch(/bad\.log: violation \(2 ops, 1 keys, [\d.]+ s\)/);
    expect(r.stdout).toMatch(/broken\.log: invalid .*line 1: a cas value must be a pair/);
    // The same log read as JSON Lines is not JSON.
    expect(clab("check", paths["ok.log"]!).stdout).toMatch(/ok\.log: invalid .*line 1: bad JSON/);
    const wrong = clab("check", "--input-format", "edn", paths["ok.log"]!);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/--input-format/);
  });

  it("rejects bad arguments with exit 2", () => {
    const { paths } = files({ "g.jsonl": GOOD });
    expect(clab("check", paths["g.jsonl"]!, "--model", "queue").status).toBe(2);
    expect(clab("check", paths["g.jsonl"]!, "--time-limit", "-1").status).toBe(2);
  });
});
