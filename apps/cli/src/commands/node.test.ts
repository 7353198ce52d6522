import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KvClient } from "@consistency-lab/client";
import { freePorts } from "@consistency-lab/node";
import { WebSocket } from "@consistency-lab/transport-ws";
import { afterEach, describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const STORAGE_PKG = fileURLToPath(new URL("../../../../packages/storage", import.meta.url));
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "clab-node-cli-"));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function tokens(dir: string): string[] {
  writeFileSync(join(dir, "t"), "cluster-token-123\n", { mode: 0o600 });
  writeFileSync(join(dir, "a"), "admin-token-456\n", { mode: 0o600 });
  writeFileSync(join(dir, "p"), "peer-token-789\n", { mode: 0o600 });
  return [
    "--token-file",
    join(dir, "t"),
    "--admin-token-file",
    join(dir, "a"),
    "--peer-token-file",
    join(dir, "p"),
  ];
}

/** runNode runs `clab node` to completion (for start failures) with a time bound. */
function runNode(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, "node", ...args], {
    encoding: "utf8",
    timeout: 15_000,
    env: { ...process.env, CLAB_LOG_LEVEL: "silent" },
  });
  return { status: r.status, stderr: r.stderr };
}

/** startNode starts `clab node` in the background and waits for its serving line. */
async function startNode(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, "node", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CLAB_LOG_LEVEL: "warn" },
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("serving")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`clab node exited ${code}: ${err}`)));
  });
  return child;
}

describe("clab node start failures", () => {
  it("exits 1 with KV_STORAGE on a directory holding something else", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    spawnSync("mkdir", ["-p", data]);
    writeFileSync(join(data, "garbage.bin"), randomBytes(64));
    const [port] = await freePorts(1);
    const r = runNode([
      "--engine",
      "memory",
      "--id",
      "n1",
      "--listen",
      `127.0.0.1:${port}`,
      "--data",
      data,
      ...tokens(dir),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/KV_STORAGE: .*not a LevelDB database/);
  });

  it("exits 1 with KV_STORAGE on corrupt LevelDB files", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    spawnSync("mkdir", ["-p", data]);
    writeFileSync(join(data, "CURRENT"), "MANIFEST-000042\n");
    writeFileSync(join(data, "MANIFEST-000042"), randomBytes(200));
    const [port] = await freePorts(1);
    const r = runNode([
      "--engine",
      "memory",
      "--id",
      "n1",
      "--listen",
      `127.0.0.1:${port}`,
      "--data",
      data,
      ...tokens(dir),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/KV_STORAGE/);
  });

  it("exits 1 with KV_STORAGE on a newer on-disk format", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    const made = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { ClassicLevel } from "classic-level"; const db = new ClassicLevel(process.argv[1]); await db.put("!format", JSON.stringify({ version: 99 })); await db.close();`,
        data,
      ],
      { cwd: STORAGE_PKG, encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    const [port] = await freePorts(1);
    const r = runNode([
      "--engine",
      "memory",
      "--id",
      "n1",
      "--listen",
      `127.0.0.1:${port}`,
      "--data",
      data,
      ...tokens(dir),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/KV_STORAGE: .*format 99/);
  });

  it("exits 1 with KV_STORAGE when another node process holds the directory, while that node keeps serving", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    const [p1, p2] = await freePorts(2);
    const first = await startNode([
      "--engine",
      "memory",
      "--id",
      "n1",
      "--listen",
      `127.0.0.1:${p1}`,
      "--data",
      data,
      ...tokens(dir),
    ]);
    const r = runNode([
      "--engine",
      "memory",
      "--id",
      "n1",
      "--listen",
      `127.0.0.1:${p2}`,
      "--data",
      data,
      ...tokens(dir),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/KV_STORAGE: .*locked/);
    expect(first.exitCode).toBeNull();
  }, 20_000);

  it("exits 2 on an unknown engine or option", async () => {
    const dir = tempDir();
    expect(
      runNode(["--engine", "nope", "--id", "n1", "--listen", "127.0.0.1:1", "--memory", ...tokens(dir)])
        .status,
    ).toBe(2);
    expect(
      runNode([
        "--engine",
        "memory",
        "--id",
        "n1",
        "--listen",
        "127.0.0.1:1",
        "--memory",
        "--option",
        "zzz=1",
        ...tokens(dir),
      ]).status,
    ).toBe(2);
  });
});

describe("clab node under bad input", () => {
  it("keeps serving well-behaved clients after garbage bytes, bad frames, wrong tokens and a connection burst", async () => {
    const dir = tempDir();
    const [port] = await freePorts(1);
    const child = await startNode([
      "--engine",
      "memory",
      "--id",
      "n1",
      "--listen",
      `127.0.0.1:${port}`,
      "--memory",
      ...tokens(dir),
    ]);
    const url = `ws://127.0.0.1:${port}`;

    // Raw TCP garbage, and an HTTP request that is not an upgrade.
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const s = connect(port, "127.0.0.1", () =>
              s.end(i % 2 ? randomBytes(512) : "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            );
            s.on("error", () => resolve());
            s.on("close", () => resolve());
            // HTTP keep-alive may hold the socket open: this probe is done once its bytes were sent.
            setTimeout(() => {
              s.destroy();
              resolve();
            }, 1000);
          }),
      ),
    );
    // WebSocket connections that misbehave: random binary frames, undecodable JSON, wrong token, unknown frame types
    // before and after the handshake, an oversized frame.
    const misbehave = async (frames: (string | Buffer)[]) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      await new Promise<void>((resolve) => {
        ws.on("open", () => {
          for (const f of frames) ws.send(f);
        });
        ws.on("error", () => resolve());
        ws.on("close", () => resolve());
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 3000);
      });
    };
    const hello = (token: string) =>
      JSON.stringify({ t: "hello", v: 1, role: "client", token, codec: "json" });
    await Promise.all([
      misbehave([randomBytes(100)]),
      misbehave(["{not json"]),
      misbehave([hello("wrong")]),
      misbehave([JSON.stringify({ t: "nope" })]),
      misbehave([hello("cluster-token-123"), JSON.stringify({ t: "bogus", x: 1 }), randomBytes(50)]),
      misbehave([
        hello("cluster-token-123"),
        JSON.stringify({ t: "req", req: { id: "1", op: "drop-table", key: "k" } }),
      ]),
      misbehave([hello("cluster-token-123"), Buffer.alloc(3 * 1024 * 1024, 1)]),
      misbehave([
        JSON.stringify({
          t: "hello",
          v: 1,
          role: "peer",
          id: "n9",
          token: "cluster-token-123",
          codec: "json",
        }),
        randomBytes(300),
      ]),
      ...Array.from({ length: 30 }, () => misbehave([])),
    ]);

    expect(child.exitCode).toBeNull();
    const client = new KvClient({ endpoints: [url], token: "cluster-token-123", timeoutMs: 5000 });
    cleanups.push(() => client.close());
    await client.put("still", "here");
    expect((await client.get("still")).value).toBe("here");
  }, 30_000);
});
