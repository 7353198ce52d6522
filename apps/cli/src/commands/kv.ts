import { KvClient } from "@consistency-lab/client";
import { isKvError, type ReadMode, type RequestOptions } from "@consistency-lab/kv";
import { parseEndpoints, readSecret } from "@consistency-lab/node";
import type { Command } from "commander";
import { UsageError } from "../usage-error.js";
import { usage } from "./node.js";

/** ClientFlags are the connection flags shared by kv, status, fault and admin. */
export interface ClientFlags {
  endpoints?: string;
  tokenFile?: string;
  adminTokenFile?: string;
  timeoutMs: string;
  json?: boolean;
  tlsCa?: string;
}

/** withClientFlags adds --endpoints, --token-file, --timeout-ms and --json to a command. */
export function withClientFlags(cmd: Command, admin = false): Command {
  cmd
    .option("--endpoints <list>", "node endpoints ws://host:port,… (else env CLAB_ENDPOINTS)")
    .option("--timeout-ms <ms>", "deadline per operation", "5000")
    .option("--json", "print JSON")
    .option("--tls-ca <file>", "PEM CA that signed the nodes' certificates (wss:// endpoints)");
  if (admin) cmd.option("--admin-token-file <file>", "admin token file (else env CLAB_ADMIN_TOKEN)");
  else cmd.option("--token-file <file>", "cluster token file (else env CLAB_TOKEN)");
  return cmd;
}

/** endpointsOf reads --endpoints or CLAB_ENDPOINTS. */
export function endpointsOf(flags: ClientFlags): string[] {
  const raw = flags.endpoints ?? process.env.CLAB_ENDPOINTS;
  if (!raw) throw new UsageError("give --endpoints ws://host:port,… (or set CLAB_ENDPOINTS)");
  return usage(() => parseEndpoints(raw));
}

/** tlsOf is the client TLS option from --tls-ca. */
export function tlsOf(flags: ClientFlags): { tls?: { ca: string } } {
  return flags.tlsCa ? { tls: { ca: flags.tlsCa } } : {};
}

/** timeoutOf reads --timeout-ms. */
export function timeoutOf(flags: ClientFlags): number {
  const t = Number(flags.timeoutMs);
  if (!Number.isFinite(t) || t <= 0) throw new UsageError("--timeout-ms must be a positive number");
  return t;
}

/** clientToken reads the cluster token from --token-file or CLAB_TOKEN. */
export function clientToken(flags: ClientFlags): string {
  return usage(() => readSecret(flags.tokenFile, "CLAB_TOKEN", "token"));
}

/** adminToken reads the admin token from --admin-token-file or CLAB_ADMIN_TOKEN. */
export function adminToken(flags: ClientFlags): string {
  return usage(() => readSecret(flags.adminTokenFile, "CLAB_ADMIN_TOKEN", "admin token"));
}

/**
 * reportFailure prints a KvError as `CODE: message` on stderr and sets exit code 1 (ARCHITECTURE §5); anything
 * else is rethrown (main prints it).
 */
export function reportFailure(e: unknown): void {
  if (e instanceof UsageError) throw e;
  if (isKvError(e)) {
    process.stderr.write(`${e.code}: ${(e as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  throw e;
}

interface KvFlags extends ClientFlags {
  read?: string;
  ifAbsent?: boolean;
}

function requestOptions(flags: KvFlags): RequestOptions | undefined {
  if (!flags.read) return undefined;
  if (!["linearizable", "lease", "stale"].includes(flags.read)) {
    throw new UsageError(`--read must be linearizable, lease or stale`);
  }
  return { read: flags.read as ReadMode };
}

async function withClient(flags: KvFlags, fn: (c: KvClient) => Promise<void>): Promise<void> {
  const client = new KvClient({
    endpoints: endpointsOf(flags),
    token: clientToken(flags),
    timeoutMs: timeoutOf(flags),
    ...tlsOf(flags),
  });
  try {
    await fn(client);
  } catch (e) {
    reportFailure(e);
  } finally {
    await client.close();
  }
}

function out(flags: KvFlags, json: unknown, text: string | null): void {
  if (flags.json) process.stdout.write(`${JSON.stringify(json)}\n`);
  else if (text !== null) process.stdout.write(`${text}\n`);
}

/**
 * registerKv adds `clab kv get|put|delete|cas` (ARCHITECTURE §5). `get` prints the value alone (nothing for an
 * absent key; `--json` shows `{"value":null}` and the metadata). A KvError prints its code on stderr and exits 1.
 */
export function registerKv(program: Command): void {
  const kv = program.command("kv").description("client operations against a running cluster");

  withClientFlags(kv.command("get").argument("<key>").description("print the value of KEY"))
    .option("--read <mode>", "raft read mode: linearizable, lease or stale")
    .action((key: string, flags: KvFlags) =>
      withClient(flags, async (c) => {
        const r = await c.get(key, requestOptions(flags));
        out(flags, r, r.values && r.values.length > 1 ? r.values.join("\n") : r.value);
      }),
    );

  withClientFlags(
    kv.command("put").argument("<key>").argument("<value>").description("set KEY to VALUE"),
  ).action((key: string, value: string, flags: KvFlags) =>
    withClient(flags, async (c) => {
      const r = await c.put(key, value);
      out(flags, r, "ok");
    }),
  );

  withClientFlags(kv.command("delete").argument("<key>").description("delete KEY")).action(
    (key: string, flags: KvFlags) =>
      withClient(flags, async (c) => {
        const r = await c.delete(key);
        out(flags, r, "ok");
      }),
  );

  withClientFlags(
    kv
      .command("cas")
      .argument("<key>")
      .argument("<value>", "the new value")
      .argument(
        "[expected]",
        "the current value required for the swap; omit (or --if-absent) for put-if-absent",
      )
      .description("set KEY to VALUE if its current value is EXPECTED; prints swapped or not swapped"),
  )
    .option("--if-absent", "swap only if KEY is absent")
    .action((key: string, value: string, expected: string | undefined, flags: KvFlags) =>
      withClient(flags, async (c) => {
        if (expected !== undefined && flags.ifAbsent)
          throw new UsageError("give EXPECTED or --if-absent, not both");
        const r = await c.cas(key, expected ?? null, value);
        out(flags, r, r.swapped ? "swapped" : "not swapped");
      }),
    );
}
