#!/usr/bin/env node
/**
 * pack-check proves every published package installs and works outside the workspace (issue 9, "Ready to install
 * alone"). For each packages/* whose package.json is not private it:
 *   1. packs it with `pnpm pack` (which rewrites `workspace:*` to the real version), together with the packed
 *      tarballs of its workspace dependencies and of the packages its smoke script needs;
 *   2. `npm install`s those tarballs into a fresh, empty folder under os.tmpdir() — outside the repo, so nothing
 *      can resolve to the workspace's node_modules or to a src/ folder;
 *   3. runs a small ESM script there that uses the package for real (an in-process Raft cluster for node, simulated
 *      ops through SimCluster for an engine, a tiny history for the checker, …).
 * It prints `pack-check <name>: ok` or the failure per package and exits 1 if any failed.
 *
 * Build first (`pnpm build`); dist/ is what ships. Third-party dependencies come from the npm registry.
 *
 *   node scripts/pack-check.mjs [--only kv,raft] [--keep] [--timeout-s 900]
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SCOPE = "@consistency-lab/";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = value("--only")
  ?.split(",")
  .map((s) => (s.startsWith(SCOPE) ? s : SCOPE + s));
const keep = flag("--keep");
// The whole run is bounded: each child gets what is left of this budget, capped per step.
const deadline = Date.now() + Number(value("--timeout-s") ?? 900) * 1000;
const PACK_TIMEOUT_MS = 60_000;
const INSTALL_TIMEOUT_MS = 240_000;
const SMOKE_TIMEOUT_MS = 90_000;

/**
 * SMOKE holds, per package, the extra packed packages its script needs and the script itself (ESM, run with the
 * install folder as cwd). A script throws on failure and may print one short detail line.
 */
const SMOKE = {
  "@consistency-lab/kv": {
    script: `
import assert from "node:assert/strict";
import { MemoryStore, KvError, vvCompare, vvIncrement, vvNew } from "@consistency-lab/kv";
const kv = new MemoryStore();
await kv.put("user:1", "ada");
assert.equal((await kv.get("user:1")).value, "ada");
assert.equal((await kv.cas("user:1", "ada", "grace")).swapped, true);
assert.equal((await kv.cas("user:2", null, "alan")).swapped, true);
await kv.delete("user:1");
assert.equal((await kv.get("user:1")).value, null);
await assert.rejects(kv.put("", "x"), (e) => e instanceof KvError && e.code === "KV_INVALID_KEY");
assert.equal(vvCompare(vvIncrement(vvNew(), "a"), vvIncrement(vvNew(), "b")), "concurrent");
`,
  },
  "@consistency-lab/sim": {
    script: `
import assert from "node:assert/strict";
import { memoryEngine } from "@consistency-lab/kv";
import { SimCluster, runSimulation } from "@consistency-lab/sim";
const c = new SimCluster({ engine: memoryEngine, nodes: 1, seed: 1 });
assert.equal(c.request("n1", { op: "put", key: "x", value: "1" }).ok, true);
assert.equal(c.request("n1", { op: "get", key: "x" }).value, "1");
const a = runSimulation({ engine: memoryEngine, seed: 7, workload: { ops: 40 } });
const b = runSimulation({ engine: memoryEngine, seed: 7, workload: { ops: 40 } });
assert.ok(a.history.length > 0);
assert.equal(a.traceHash, b.traceHash);
console.log("trace " + a.traceHash);
`,
  },
  "@consistency-lab/checker": {
    script: `
import assert from "node:assert/strict";
import { parseHistory, checkGuarantees, checkLinearizableSync } from "@consistency-lab/checker";
const good = [
  '{"process":0,"type":"invoke","f":"write","key":"x","value":"1"}',
  '{"process":0,"type":"ok","f":"write","key":"x","value":"1"}',
  '{"process":1,"type":"invoke","f":"read","key":"x","value":null}',
  '{"process":1,"type":"ok","f":"read","key":"x","value":"1"}',
].join("\\n");
const ops = parseHistory(good);
assert.equal(ops.length, 2);
assert.deepEqual(checkGuarantees(ops, ["linearizable", "readYourWrites"]).map((r) => r.verdict), ["ok", "ok"]);
// A read that returns a value nobody wrote is never linearizable.
const bad = good.replace('"ok","f":"read","key":"x","value":"1"', '"ok","f":"read","key":"x","value":"2"');
assert.equal(checkLinearizableSync(parseHistory(bad)).verdict, "violation");
`,
  },
  "@consistency-lab/conformance": {
    script: `
import assert from "node:assert/strict";
import { memoryEngine } from "@consistency-lab/kv";
import { runSeed, guaranteesOf } from "@consistency-lab/conformance";
const run = runSeed({ engine: memoryEngine, faults: "none", workload: { ops: 40 } }, 1);
assert.deepEqual(run.violations, []);
assert.ok(guaranteesOf(memoryEngine).includes("linearizable"));
console.log(run.declared.length + " guarantees checked");
`,
  },
  "@consistency-lab/storage": {
    script: `
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LevelStorage, MemoryStorage } from "@consistency-lab/storage";
const dir = mkdtempSync(join(tmpdir(), "clab-pack-storage-"));
try {
  let s = new LevelStorage(join(dir, "n1"));
  await s.open();
  await s.apply([{ type: "put", key: "hs", value: { term: 3 } }, { type: "put", key: "e/1", value: "x" }]);
  await s.apply([{ type: "del", key: "e/1" }]);
  await s.close();
  s = new LevelStorage(join(dir, "n1"));
  const records = await s.open();
  assert.deepEqual([...records], [["hs", { term: 3 }]]);
  await s.close();
  const m = new MemoryStorage();
  await m.open();
  await m.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
`,
  },
  "@consistency-lab/transport-ws": {
    extra: ["@consistency-lab/client"],
    script: `
import assert from "node:assert/strict";
import { MemoryNode, decodeFrame, encodeFrame } from "@consistency-lab/transport-ws";
import { KvClient } from "@consistency-lab/client";
const frame = { t: "rep", rep: { id: "1", ok: true } };
assert.deepEqual(decodeFrame(Buffer.from(encodeFrame(frame, "json")), false), frame);
const node = await MemoryNode.start({ id: "n1", token: "t", adminToken: "a" });
try {
  const kv = new KvClient({ endpoints: ["ws://127.0.0.1:" + node.port], token: "t", timeoutMs: 5000 });
  await kv.put("k", "v");
  assert.equal((await kv.get("k")).value, "v");
  await kv.close();
  const wrong = new KvClient({ endpoints: ["ws://127.0.0.1:" + node.port], token: "wrong", timeoutMs: 2000, retries: 0 });
  await assert.rejects(wrong.get("k"), (e) => e.code === "KV_UNAUTHORIZED");
  await wrong.close();
} finally {
  await node.close();
}
`,
  },
  "@consistency-lab/client": {
    extra: ["@consistency-lab/transport-ws"],
    script: `
import assert from "node:assert/strict";
import { KvClient, MemoryNode } from "@consistency-lab/client";
const node = await MemoryNode.start({ id: "n1", token: "t", adminToken: "a" });
try {
  const kv = new KvClient({ endpoints: ["ws://127.0.0.1:" + node.port], token: "t", timeoutMs: 5000 });
  await kv.put("user:1", "ada");
  assert.equal((await kv.get("user:1")).value, "ada");
  assert.equal((await kv.cas("user:1", "ada", "grace")).swapped, true);
  assert.equal((await kv.cas("user:1", "ada", "alan")).swapped, false);
  await kv.delete("user:1");
  assert.equal((await kv.get("user:1")).value, null);
  await kv.close();
} finally {
  await node.close();
}
`,
  },
  "@consistency-lab/node": {
    extra: ["@consistency-lab/raft", "@consistency-lab/client"],
    script: `
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalCluster } from "@consistency-lab/node";
import { raftEngine } from "@consistency-lab/raft";
import { KvClient } from "@consistency-lab/client";
const dir = mkdtempSync(join(tmpdir(), "clab-pack-node-"));
const c = await startLocalCluster({ engine: raftEngine, nodes: 3, dataDir: dir });
try {
  const kv = new KvClient({ endpoints: c.endpoints, token: c.token, timeoutMs: 10000 });
  await kv.put("user:1", "ada");
  const r = await kv.get("user:1");
  assert.equal(r.value, "ada");
  assert.equal((await kv.cas("user:1", "ada", "grace")).swapped, true);
  assert.equal((await kv.get("user:1")).value, "grace");
  await kv.close();
  console.log("served by " + r.meta?.node);
} finally {
  await c.stop();
  rmSync(dir, { recursive: true, force: true });
}
`,
  },
};

/** engineSmoke drives an engine's core through the packed simulator: a few puts and gets on a 3-node cluster. */
const engineSmoke = (exportName) => ({
  extra: ["@consistency-lab/sim"],
  script: `
import assert from "node:assert/strict";
import { SimCluster, isTimeout } from "@consistency-lab/sim";
import * as pkg from "PKG";
const engine = pkg.${exportName};
assert.ok(engine && typeof engine.create === "function", "${exportName} is not an EngineDefinition");
assert.equal(typeof engine.supports({}), "object");
const c = new SimCluster({ engine, nodes: 3, seed: 1 });
c.runFor(3000);
// Leader-based engines answer KV_NOT_LEADER with a hint; follow it the way a client would.
const call = (req) => {
  let node = c.leader?.() ?? c.nodes[0];
  for (let i = 0; i < 5; i++) {
    const r = c.request(node, req, { deadlineMs: 5000 });
    if (isTimeout(r)) throw new Error(req.op + " timed out at " + node);
    if (r.ok) return r;
    if (r.error?.code === "KV_NOT_LEADER" && r.error.leader) { node = r.error.leader; continue; }
    if (r.error?.code === "KV_NOT_LEADER" || r.error?.code === "KV_UNAVAILABLE") { c.runFor(500); continue; }
    throw new Error(req.op + " failed: " + JSON.stringify(r.error));
  }
  throw new Error(req.op + " never succeeded");
};
for (let i = 0; i < 5; i++) {
  call({ op: "put", key: "k" + i, value: "v" + i, session: { clientId: "c1", seq: i + 1 } });
}
for (let i = 0; i < 5; i++) {
  const r = call({ op: "get", key: "k" + i, session: { clientId: "c1", seq: 10 + i } });
  const got = r.values && r.values.length > 0 ? r.values : [r.value];
  assert.ok(got.includes("v" + i), "k" + i + " read " + JSON.stringify(got));
}
console.log(c.stats?.delivered + " messages delivered");
`,
});
SMOKE["@consistency-lab/raft"] = engineSmoke("raftEngine");
SMOKE["@consistency-lab/quorum"] = engineSmoke("quorumEngine");
SMOKE["@consistency-lab/causal"] = engineSmoke("causalEngine");
SMOKE["@consistency-lab/single-leader"] = engineSmoke("singleLeaderEngine");
SMOKE["@consistency-lab/multi-leader"] = engineSmoke("multiLeaderEngine");

/** run runs a command with a bounded time and returns its status and output. */
function run(cmd, argv, cwd, timeoutMs, env = {}) {
  const left = deadline - Date.now();
  if (left <= 0) return { ok: false, out: "overall time budget exhausted" };
  const r = spawnSync(cmd, argv, {
    cwd,
    encoding: "utf8",
    timeout: Math.min(timeoutMs, left),
    killSignal: "SIGKILL",
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  if (r.error)
    return { ok: false, out: `${r.error.code === "ETIMEDOUT" ? "timed out" : r.error.message}\n${out}` };
  return { ok: r.status === 0, out, stdout: r.stdout ?? "" };
}

function firstLines(text, n = 6) {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const shown = lines.slice(0, n).join("\n    ");
  return lines.length > n ? `${shown}\n    … (${lines.length - n} more lines)` : shown;
}

// Published packages: every packages/* that is not private.
const packages = new Map();
for (const d of readdirSync(join(ROOT, "packages"))) {
  const file = join(ROOT, "packages", d, "package.json");
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, "utf8"));
  if (!pkg.private) packages.set(pkg.name, { dir: join(ROOT, "packages", d), pkg });
}

/** workspaceDeps is the transitive closure of the published workspace packages `names` need at run time. */
function workspaceDeps(names) {
  const out = new Set();
  const visit = (name) => {
    if (out.has(name)) return;
    const p = packages.get(name);
    if (!p) throw new Error(`${name} is not a published workspace package`);
    out.add(name);
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      for (const [dep, spec] of Object.entries(p.pkg[field] ?? {})) {
        if (String(spec).startsWith("workspace:")) visit(dep);
      }
    }
  };
  for (const n of names) visit(n);
  return out;
}

const work = mkdtempSync(join(tmpdir(), "clab-pack-check-"));
const tarDir = join(work, "tarballs");
mkdirSync(tarDir);
const tarballs = new Map();
const packErrors = new Map();

/** pack packs one package (once) and checks the tarball's manifest: no `workspace:` left, exports present. */
function pack(name) {
  if (tarballs.has(name) || packErrors.has(name)) return;
  const { dir } = packages.get(name);
  const r = run("pnpm", ["pack", "--json", "--pack-destination", tarDir], dir, PACK_TIMEOUT_MS);
  if (!r.ok) {
    packErrors.set(name, `pnpm pack failed: ${firstLines(r.out)}`);
    return;
  }
  let info;
  try {
    info = JSON.parse(r.stdout.slice(r.stdout.indexOf("{")));
  } catch {
    packErrors.set(name, `pnpm pack printed no JSON: ${firstLines(r.out)}`);
    return;
  }
  const file = info.filename.startsWith("/") ? info.filename : join(tarDir, info.filename);
  const files = new Set((info.files ?? []).map((f) => f.path));
  const manifest = JSON.parse(
    run("tar", ["-xzOf", file, "package/package.json"], tarDir, PACK_TIMEOUT_MS).stdout || "{}",
  );
  const problems = [];
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [dep, spec] of Object.entries(manifest[field] ?? {})) {
      if (String(spec).startsWith("workspace:")) problems.push(`${field}.${dep} is still ${spec}`);
    }
  }
  const targets = [];
  const collect = (v) => {
    if (typeof v === "string") targets.push(v);
    else if (v && typeof v === "object") for (const x of Object.values(v)) collect(x);
  };
  collect(manifest.exports ?? manifest.main ?? "index.js");
  for (const t of targets) {
    const rel = t.replace(/^\.\//, "");
    if (rel.includes("*")) continue;
    if (/^src\//.test(rel)) problems.push(`export ${t} resolves to src/`);
    else if (!files.has(rel)) problems.push(`export ${t} is not in the tarball`);
  }
  if (!files.has("README.md")) problems.push("no README.md in the tarball");
  tarballs.set(name, { file, problems });
}

let failures = 0;
const selected = [...packages.keys()].filter((n) => !only || only.includes(n)).sort();
for (const name of only ?? []) {
  if (!packages.has(name)) {
    console.log(`pack-check ${name}: FAIL not a published package in packages/`);
    failures++;
  }
}

for (const name of selected) {
  const started = Date.now();
  const smoke = SMOKE[name];
  const fail = (why) => {
    failures++;
    console.log(`pack-check ${name}: FAIL ${why}`);
  };
  if (!smoke) {
    fail("no smoke script for this package in scripts/pack-check.mjs");
    continue;
  }
  if (!existsSync(join(packages.get(name).dir, "dist"))) {
    fail("no dist/ (run `pnpm build` first)");
    continue;
  }
  let needed;
  try {
    needed = [...workspaceDeps([name, ...(smoke.extra ?? [])])];
  } catch (e) {
    fail(e.message);
    continue;
  }
  for (const n of needed) pack(n);
  const packFailed = needed.filter((n) => packErrors.has(n));
  if (packFailed.length > 0) {
    fail(packFailed.map((n) => `${n}: ${packErrors.get(n)}`).join("; "));
    continue;
  }
  const own = tarballs.get(name).problems;

  // A fresh folder outside the repo: only the tarballs and the registry can satisfy an import.
  const app = join(work, name.replace(SCOPE, "app-"));
  mkdirSync(app);
  const dependencies = Object.fromEntries(needed.map((n) => [n, `file:${tarballs.get(n).file}`]));
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "pack-check-app", private: true, type: "module", dependencies }, null, 2),
  );
  const install = run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "--no-package-lock"],
    app,
    INSTALL_TIMEOUT_MS,
    { npm_config_workspaces: "false" },
  );
  if (!install.ok) {
    fail(`npm install failed:\n    ${firstLines(install.out, 12)}`);
    continue;
  }
  // Every @consistency-lab package must come from a tarball: a nested copy means npm fetched one from the
  // registry because a packed manifest asked for a version the tarballs do not have.
  const nested = needed.filter((n) =>
    existsSync(join(app, "node_modules", n, "node_modules", "@consistency-lab")),
  );
  if (nested.length > 0) {
    fail(`npm installed nested @consistency-lab copies under ${nested.join(", ")} (version mismatch?)`);
    continue;
  }
  writeFileSync(join(app, "smoke.mjs"), smoke.script.replaceAll('"PKG"', JSON.stringify(name)));
  const r = run("node", ["smoke.mjs"], app, SMOKE_TIMEOUT_MS, {
    CLAB_LOG_LEVEL: "silent",
    NODE_OPTIONS: "",
    NODE_PATH: "",
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (!r.ok) {
    fail(`smoke script failed (${secs} s):\n    ${firstLines(r.out, 12)}`);
    continue;
  }
  if (own.length > 0) {
    fail(`works, but the tarball has problems: ${own.join("; ")}`);
    continue;
  }
  const detail = r.stdout.trim().split("\n").filter(Boolean).pop();
  console.log(`pack-check ${name}: ok (${secs} s${detail ? `; ${detail}` : ""})`);
}

if (keep) console.log(`pack-check: kept ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log(`pack-check: ${selected.length - failures} ok, ${failures} failed`);
process.exit(failures > 0 ? 1 : 0);
