import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseOptionArgs, resolveOptions } from "@consistency-lab/kv";
import type { Command } from "commander";
import { engineNames, findEngine } from "../engines.js";
import { UsageError } from "../usage-error.js";
import { usage } from "./node.js";

/** ClusterNodeInfo is one node's entry in cluster.json. */
export interface ClusterNodeInfo {
  id: string;
  endpoint: string;
  pid: number;
  dataDir: string;
  log: string;
  /** The exact `clab` arguments the node runs with, so a test or an operator can restart it identically. */
  argv: string[];
}

/** ClusterFile is the content of DIR/cluster.json written by `clab cluster up`. */
export interface ClusterFile {
  engine: string;
  options: Record<string, string>;
  supervisorPid: number;
  tokenFile: string;
  adminTokenFile: string;
  /** The members' own credential (clients are given `tokenFile` only). */
  peerTokenFile: string;
  nodes: ClusterNodeInfo[];
  startedAt: string;
}

interface UpFlags {
  engine: string;
  nodes: string;
  port: string;
  host: string;
  data: string;
  option: string[];
  tokenFile?: string;
  adminTokenFile?: string;
  tickMs?: string;
  logLevel?: string;
  readyTimeoutMs: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** CLI_MAIN is the clab entry script the node processes run (the built dist/main.js beside this file). */
export const CLI_MAIN = fileURLToPath(new URL("../main.js", import.meta.url));

/** isAlive tells whether a process with this pid exists (signal 0 probes without delivering anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** readClusterFile reads DIR/cluster.json or throws UsageError. */
export function readClusterFile(dir: string): ClusterFile {
  const path = join(dir, "cluster.json");
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ClusterFile;
  } catch (e) {
    throw new UsageError(
      `cannot read ${path}: ${(e as Error).message} (was the cluster started with clab cluster up --data ${dir}?)`,
    );
  }
}

function ensureToken(file: string): void {
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** waitExit resolves when every pid is gone or the time is up; returns the ones still alive. */
async function waitExit(pids: number[], ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < until) {
    await sleep(50);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * registerCluster adds `clab cluster up` and `clab cluster down` (ARCHITECTURE §5). `up` runs one `clab node`
 * process per node and stays in the foreground as their supervisor: each child's stdin is a pipe from it, so
 * the children stop by themselves when it dies, even by kill -9. A child that exits is reported, never
 * restarted (no crash loop).
 */
export function registerCluster(program: Command): void {
  const cluster = program.command("cluster").description("run a local cluster of node processes");

  cluster
    .command("up")
    .description("start N local node processes and supervise them until Ctrl-C")
    .requiredOption("--engine <name>", "engine to run")
    .option("--nodes <n>", "number of nodes", "3")
    .option("--port <p>", "first port; nodes listen on P..P+N-1", "7101")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--data <dir>", "directory for node data, logs, cluster.json and tokens", "clab-cluster")
    .option("--option <k=v>", "engine option (repeatable)", collect, [])
    .option("--token-file <file>", "use this cluster token instead of generating DIR/cluster.token")
    .option("--admin-token-file <file>", "use this admin token instead of generating DIR/admin.token")
    .option("--tick-ms <ms>", "wall-clock tick period of each node")
    .option("--log-level <level>", "node log level")
    .option("--ready-timeout-ms <ms>", "how long to wait for every node to serve", "20000")
    .option("--tls-cert <file>", "serve wss:// with this certificate (every node)")
    .option("--tls-key <file>", "private key for --tls-cert")
    .option("--tls-ca <file>", "CA the nodes trust when dialing each other")
    .action(async (flags: UpFlags) => {
      const engine = findEngine(flags.engine);
      if (!engine) throw new UsageError(`unknown engine "${flags.engine}"; known: ${engineNames()}`);
      const n = Number(flags.nodes);
      const port = Number(flags.port);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--nodes must be a positive integer`);
      if (!Number.isInteger(port) || port < 1 || port + n - 1 > 65535)
        throw new UsageError(`--port out of range`);
      const options = usage(() => parseOptionArgs(flags.option));
      usage(() => resolveOptions(engine.options, options));
      const dir = resolve(flags.data);
      mkdirSync(dir, { recursive: true });
      if (existsSync(join(dir, "cluster.json"))) {
        const old = readClusterFile(dir);
        const alive = [old.supervisorPid, ...old.nodes.map((x) => x.pid)].filter(isAlive);
        if (alive.length > 0) {
          process.stderr.write(
            `clab cluster up: a cluster from ${dir} is still running (pids ${alive.join(", ")}); stop it with clab cluster down --data ${dir}\n`,
          );
          process.exitCode = 1;
          return;
        }
      }
      const tokenFile = flags.tokenFile ? resolve(flags.tokenFile) : join(dir, "cluster.token");
      const adminTokenFile = flags.adminTokenFile ? resolve(flags.adminTokenFile) : join(dir, "admin.token");
      const peerTokenFile = join(dir, "peer.token");
      if (!flags.tokenFile) ensureToken(tokenFile);
      if (!flags.adminTokenFile) ensureToken(adminTokenFile);
      ensureToken(peerTokenFile);

      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new UsageError("--tls-cert and --tls-key go together");
      }
      const tlsArgs = flags.tlsCert
        ? [
            "--tls-cert",
            resolve(flags.tlsCert),
            "--tls-key",
            resolve(flags.tlsKey!),
            ...(flags.tlsCa ? ["--tls-ca", resolve(flags.tlsCa)] : []),
          ]
        : [];
      const scheme = flags.tlsCert ? "wss" : "ws";
      const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
      const endpoints = ids.map(
        (_, i) => `${scheme}://${flags.host.includes(":") ? `[${flags.host}]` : flags.host}:${port + i}`,
      );
      const children = new Map<string, ChildProcess>();
      const infos: ClusterNodeInfo[] = [];
      let shuttingDown = false;

      const stopAll = async (code: number) => {
        if (shuttingDown) return;
        shuttingDown = true;
        const pids = [...children.values()]
          .filter((c) => c.exitCode === null && c.signalCode === null)
          .map((c) => c.pid!);
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGTERM");
          } catch {}
        }
        const stuck = await waitExit(pids, 10_000);
        for (const pid of stuck) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
        process.stderr.write(`cluster stopped\n`);
        process.exit(code);
      };
      process.on("SIGINT", () => void stopAll(0));
      process.on("SIGTERM", () => void stopAll(0));

      const ready = ids.map((id, i) => {
        const dataDir = join(dir, id);
        const log = join(dir, `${id}.log`);
        const peers = ids.map((p, j) => `${p}=${endpoints[j]}`).join(",");
        const argv = [
          "node",
          "--engine",
          engine.name,
          "--id",
          id,
          "--listen",
          `${flags.host}:${port + i}`,
          "--peers",
          peers,
          "--data",
          dataDir,
          "--token-file",
          tokenFile,
          "--admin-token-file",
          adminTokenFile,
          "--peer-token-file",
          peerTokenFile,
          ...flags.option.flatMap((o) => ["--option", o]),
          ...(flags.tickMs ? ["--tick-ms", flags.tickMs] : []),
          ...(flags.logLevel ? ["--log-level", flags.logLevel] : []),
          ...tlsArgs,
        ];
        const logFd = openSync(log, "a");
        const child = spawn(process.execPath, [CLI_MAIN, ...argv, "--exit-on-stdin-close"], {
          stdio: ["pipe", "pipe", logFd],
        });
        children.set(id, child);
        infos.push({ id, endpoint: endpoints[i]!, pid: child.pid!, dataDir, log, argv });
        return new Promise<void>((resolveReady, reject) => {
          let serving = false;
          createInterface({ input: child.stdout! }).on("line", (line) => {
            if (!serving && line.startsWith(`node ${id} serving`)) {
              serving = true;
              resolveReady();
            }
          });
          child.once("exit", (code, signal) => {
            const how = signal ? `signal ${signal}` : `code ${code}`;
            if (!serving) reject(new Error(`node ${id} exited before serving (${how}):\n${tail(log)}`));
            else if (!shuttingDown) {
              process.stderr.write(
                `clab cluster: node ${id} (pid ${child.pid}) exited (${how}); not restarting\n`,
              );
              // With no node left there is nothing to supervise: say so and fail, rather than linger.
              const left = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null);
              if (left.length === 0) {
                process.stderr.write("clab cluster: every node has exited\n");
                process.exit(1);
              }
            }
          });
        });
      });

      const timeoutMs = Number(flags.readyTimeoutMs);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.all(ready),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`nodes did not all serve within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
      } catch (e) {
        process.stderr.write(`clab cluster up: ${(e as Error).message}\n`);
        await stopAll(1);
        return;
      } finally {
        clearTimeout(timer);
      }
      const file: ClusterFile = {
        engine: engine.name,
        options,
        supervisorPid: process.pid,
        tokenFile,
        adminTokenFile,
        peerTokenFile,
        nodes: infos,
        startedAt: new Date().toISOString(),
      };
      writeFileSync(join(dir, "cluster.json"), `${JSON.stringify(file, null, 2)}\n`);
      process.stdout.write(`cluster ready ${endpoints.join(",")}\n`);
      process.stderr.write(
        `clab cluster: ${n} ${engine.name} nodes; token ${tokenFile}, admin token ${adminTokenFile}, peer token ${peerTokenFile} (members only), logs ${dir}/n*.log\n` +
          `clab cluster: stop with Ctrl-C or clab cluster down --data ${flags.data}\n`,
      );
      // Stay in the foreground until a signal; a dead child is reported above and the rest keep serving.
      await new Promise<never>(() => {});
    });

  cluster
    .command("down")
    .description("stop a cluster started with clab cluster up")
    .option("--data <dir>", "the directory given to cluster up", "clab-cluster")
    .action(async (flags: { data: string }) => {
      const file = readClusterFile(resolve(flags.data));
      const pids = [file.supervisorPid, ...file.nodes.map((x) => x.pid)].filter(isAlive);
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {}
      }
      const stuck = await waitExit(pids, 12_000);
      for (const pid of stuck) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
      process.stdout.write(
        pids.length === 0
          ? "cluster already stopped\n"
          : `cluster stopped (${pids.length} processes${stuck.length ? `, ${stuck.length} killed` : ""})\n`,
      );
    });
}
