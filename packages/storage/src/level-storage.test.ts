import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import { FORMAT_VERSION, LevelStorage } from "./level-storage.js";
import { storageSuite } from "./storage-suite.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "clab-storage-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("LevelStorage", () => {
  storageSuite({ describe, it, expect }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "clab-storage-suite-"));
    return { create: () => new LevelStorage(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
  });

  it("writes the format record on first open", async () => {
    const dir = await tempDir();
    const s = new LevelStorage(dir);
    await s.open();
    await s.close();
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: "utf8" });
    expect(JSON.parse((await db.get("!format"))!)).toEqual({ version: FORMAT_VERSION });
    await db.close();
  });

  it("refuses a directory locked by another process with KV_STORAGE", async () => {
    const dir = await tempDir();
    const holder = await holdOpen(dir);
    try {
      const s = new LevelStorage(dir);
      const err = await s.open().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "KV_STORAGE" });
      expect((err as Error).message).toMatch(/locked/);
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
    }
    // Once the holder is gone the directory opens again: no stale-lock crash loop.
    const s = new LevelStorage(dir);
    await s.open();
    await s.close();
  });

  it("refuses a non-empty directory that is not a database with KV_STORAGE", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "notes.txt"), "hello");
    await expect(new LevelStorage(dir).open()).rejects.toMatchObject({ code: "KV_STORAGE" });
  });

  it("refuses a directory whose LevelDB files are garbage with KV_STORAGE", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "CURRENT"), "MANIFEST-000009\n");
    await writeFile(join(dir, "MANIFEST-000009"), Buffer.from("\x00\xff garbage garbage garbage"));
    await expect(new LevelStorage(dir).open()).rejects.toMatchObject({ code: "KV_STORAGE" });
  });

  it("refuses an undecodable record with KV_STORAGE and releases the lock", async () => {
    const dir = await tempDir();
    const s = new LevelStorage(dir);
    await s.open();
    await s.apply([{ type: "put", key: "k", value: 1 }]);
    await s.close();
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: "utf8" });
    await db.put("r:k", "{not json");
    await db.close();
    await expect(new LevelStorage(dir).open()).rejects.toMatchObject({ code: "KV_STORAGE" });
    // The failed open closed the database, so another open gets the same coded error, not a lock error.
    await expect(new LevelStorage(dir).open()).rejects.toThrow(/not valid JSON/);
  });

  it("refuses a newer on-disk format with KV_STORAGE", async () => {
    const dir = await tempDir();
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: "utf8" });
    await db.put("!format", JSON.stringify({ version: FORMAT_VERSION + 1 }));
    await db.close();
    const err = await new LevelStorage(dir).open().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "KV_STORAGE" });
    expect((err as Error).message).toMatch(/newer|format 2/);
  });

  it("refuses a database that has records but no format record", async () => {
    const dir = await tempDir();
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: "utf8" });
    await db.put("somebody-else", "x");
    await db.close();
    await expect(new LevelStorage(dir).open()).rejects.toMatchObject({ code: "KV_STORAGE" });
  });

  it("keeps every batch that resolved when the process is killed with -9", async () => {
    const dir = await tempDir();
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { LevelStorage } from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
         const s = new LevelStorage(process.argv[1]); await s.open();
         for (let i = 1; ; i++) { await s.apply([{ type: "put", key: "n", value: i }, { type: "put", key: "k" + i, value: i }]); process.stdout.write(i + "\\n"); }`,
        dir,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let acked = 0;
    await new Promise<void>((resolve) => {
      child.stdout!.on("data", (b: Buffer) => {
        for (const line of b.toString().split("\n")) if (line) acked = Math.max(acked, Number(line));
        if (acked >= 200 && child.exitCode === null && !child.killed) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await new Promise((r) => child.once("exit", r));
    const s = new LevelStorage(dir);
    const records = await s.open();
    await s.close();
    const n = records.get("n") as number;
    expect(n).toBeGreaterThanOrEqual(acked);
    // Atomic batches: "n" and "k<n>" were written together.
    for (let i = 1; i <= n; i++) expect(records.get(`k${i}`)).toBe(i);
  }, 20_000);
});

/** holdOpen starts a child process that opens `dir` and keeps it open until killed. */
async function holdOpen(dir: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { ClassicLevel } from "classic-level"; const db = new ClassicLevel(process.argv[1]); await db.open(); console.log("open"); setInterval(() => {}, 1000);`,
      dir,
    ],
    { stdio: ["ignore", "pipe", "inherit"], cwd: new URL("..", import.meta.url).pathname },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (c) => reject(new Error(`holder exited ${c}`)));
  });
  return child;
}
