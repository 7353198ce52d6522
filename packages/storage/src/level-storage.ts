import { mkdir, readdir } from "node:fs/promises";
import { KvError, type PersistOp } from "@consistency-lab/kv";
import { ClassicLevel } from "classic-level";
import { encodeValue, type Storage, validateOps } from "./storage.js";

/** FORMAT_VERSION is the on-disk format LevelStorage writes; a directory with a higher one is refused. */
export const FORMAT_VERSION = 1;

/** The format record sits outside the record key space ("!" sorts before "r"), so no core key can clash with it. */
const FORMAT_KEY = "!format";
const RECORD_PREFIX = "r:";

/**
 * LevelStorage keeps records in a LevelDB directory (classic-level). Every `apply` is ONE
 * `db.batch(ops, { sync: true })`, so a batch is atomic and on disk before it resolves: a node that replies only
 * after `apply` resolved loses nothing it acknowledged when killed with -9 (ARCHITECTURE §2).
 *
 * Layout: `!format` → `{"version":1}`; `r:<record key>` → the JSON-encoded record value.
 * `open()` rejects with KV_STORAGE when the directory holds something else, is corrupt, is locked by another
 * process, or was written by a newer format.
 */
export class LevelStorage implements Storage {
  readonly dir: string;
  private db: ClassicLevel<string, string> | null = null;

  constructor(dir: string) {
    if (typeof dir !== "string" || dir === "")
      throw new TypeError("LevelStorage: dir must be a non-empty path");
    this.dir = dir;
  }

  async open(): Promise<ReadonlyMap<string, unknown>> {
    if (this.db) throw new TypeError("LevelStorage: already open");
    await this.checkDirectory();
    const db = new ClassicLevel<string, string>(this.dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
    try {
      await db.open({ createIfMissing: true });
    } catch (e) {
      throw openError(this.dir, e);
    }
    try {
      const records = await this.load(db);
      this.db = db;
      return records;
    } catch (e) {
      // Release the LOCK so the operator can inspect or move the directory while the process exits.
      await db.close().catch(() => {});
      throw e;
    }
  }

  /** checkDirectory refuses a non-empty directory that is not a LevelDB database instead of writing into it. */
  private async checkDirectory(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (e) {
      throw new KvError("KV_STORAGE", `data directory ${this.dir} cannot be created: ${message(e)}`, {
        cause: e,
      });
    }
    const entries = await readdir(this.dir).catch((e) => {
      throw new KvError("KV_STORAGE", `data directory ${this.dir} cannot be read: ${message(e)}`, {
        cause: e,
      });
    });
    if (entries.length > 0 && !entries.includes("CURRENT")) {
      const shown = entries.slice(0, 5).join(", ");
      throw new KvError(
        "KV_STORAGE",
        `data directory ${this.dir} is not empty and is not a LevelDB database (found ${shown}); ` +
          "point --data at an empty or existing node directory",
      );
    }
  }

  private async load(db: ClassicLevel<string, string>): Promise<Map<string, unknown>> {
    const records = new Map<string, unknown>();
    let format: string | undefined;
    let foreign = 0;
    try {
      for await (const [k, v] of db.iterator()) {
        if (k === FORMAT_KEY) format = v;
        else if (k.startsWith(RECORD_PREFIX))
          records.set(k.slice(RECORD_PREFIX.length), decode(this.dir, k, v));
        else foreign++;
      }
    } catch (e) {
      if (e instanceof KvError) throw e;
      throw new KvError("KV_STORAGE", `data directory ${this.dir} is corrupt: ${message(e)}`, { cause: e });
    }
    if (format === undefined) {
      if (records.size > 0 || foreign > 0) {
        throw new KvError(
          "KV_STORAGE",
          `data directory ${this.dir} has records but no format record: not a clab data directory`,
        );
      }
      await db.put(FORMAT_KEY, JSON.stringify({ version: FORMAT_VERSION }), { sync: true });
      return records;
    }
    const version = (decode(this.dir, FORMAT_KEY, format) as { version?: unknown } | null)?.version;
    if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
      throw new KvError("KV_STORAGE", `data directory ${this.dir} has an invalid format record ${format}`);
    }
    if (version > FORMAT_VERSION) {
      throw new KvError(
        "KV_STORAGE",
        `data directory ${this.dir} was written in storage format ${version}; this build reads up to ${FORMAT_VERSION} (upgrade clab)`,
      );
    }
    if (foreign > 0)
      throw new KvError("KV_STORAGE", `data directory ${this.dir} holds ${foreign} unknown keys: corrupt`);
    return records;
  }

  async apply(ops: readonly PersistOp[]): Promise<void> {
    validateOps(ops);
    const db = this.db;
    if (!db) throw new KvError("KV_CLOSED", "storage is not open");
    if (ops.length === 0) return;
    const batch = ops.map((op) =>
      op.type === "put"
        ? { type: "put" as const, key: RECORD_PREFIX + op.key, value: encodeValue(op.key, op.value) }
        : { type: "del" as const, key: RECORD_PREFIX + op.key },
    );
    try {
      await db.batch(batch, { sync: true });
    } catch (e) {
      throw new KvError("KV_STORAGE", `write to ${this.dir} failed: ${message(e)}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    if (db) await db.close();
  }
}

function decode(dir: string, key: string, v: string): unknown {
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new KvError(
      "KV_STORAGE",
      `data directory ${dir} is corrupt: record ${JSON.stringify(key)} is not valid JSON`,
      {
        cause: e,
      },
    );
  }
}

function openError(dir: string, e: unknown): KvError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (e as { code?: string }).code;
  const detail = cause?.message ?? message(e);
  if (code === "LEVEL_LOCKED") {
    return new KvError(
      "KV_STORAGE",
      `data directory ${dir} is locked: another process (another node?) has it open (${detail})`,
      { cause: e },
    );
  }
  return new KvError("KV_STORAGE", `data directory ${dir} cannot be opened, it may be corrupt: ${detail}`, {
    cause: e,
  });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
