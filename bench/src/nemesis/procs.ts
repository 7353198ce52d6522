import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type ClusterHandle, freeBasePort, type Launcher } from "../cluster.js";
import type { NetNamespaces } from "./netns.js";

/** Skew is a clock offset and rate for one node, applied with libfaketime (`faketime -f "+OFFSETs xRATE"`). */
export interface Skew {
  offsetMs: number;
  rate: number;
}

/** NodeProc is one node of the cluster: the process running now (if any) and how to start it again. */
interface NodeProc {
  id: string;
  endpoint: string;
  dataDir: string;
  log: string;
  /** The exact `clab` arguments (after the launcher's own) the node runs with; a restart reuses them. */
  argv: string[];
  child?: ChildProcess;
  paused: boolean;
  skew?: Skew;
}

/** The libfaketime libraries (the multi-threaded one: Node runs threads), where Debian and others put them. */
const LIBFAKETIME = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
  "/usr/lib/faketime/libfaketimeMT.so.1",
  "/usr/local/lib/faketime/libfaketimeMT.so.1",
];

/**
 * findLibfaketime returns the libfaketime library to preload, or undefined when it is not installed. The nemesis
 * preloads it itself instead of running the `faketime` wrapper, which forks: a kill -9 of the wrapper would leave
 * the node running.
 */
export function findLibfaketime(): string | undefined {
  return LIBFAKETIME.find((p) => existsSync(p));
}

/** faketimeSpec renders a skew as libfaketime's FAKETIME string: "+1.500s x1.02" (offset, then rate). */
export function faketimeSpec(s: Skew): string {
  const sign = s.offsetMs < 0 ? "-" : "+";
  return `${sign}${(Math.abs(s.offsetMs) / 1000).toFixed(3)}s x${s.rate}`;
}

/**
 * NodeProcs runs a local cluster of real `clab node` processes that the nemesis owns: it can kill -9 one and start it
 * again from its data directory with the same arguments, stop and continue it (SIGSTOP/SIGCONT), or restart it under
 * libfaketime with a skewed clock. Each child's stdin is a pipe from this process, so the nodes exit by themselves
 * when the nemesis dies (even by kill -9); paused ones are continued and killed by `stop`.
 */
export class NodeProcs implements ClusterHandle {
  readonly ids: string[];
  readonly endpoints: string[];
  readonly token: string;
  readonly adminToken: string;
  private readonly nodes: NodeProc[];
  private stopping = false;
  /** Called when a node exits without being told to (a crash the nemesis did not cause). */
  onUnexpectedExit: (id: string, how: string) => void = () => {};

  private constructor(
    private readonly launcher: Launcher,
    readonly engine: string,
    readonly dataDir: string,
    nodes: NodeProc[],
    token: string,
    adminToken: string,
    /** When set, each node runs in its own network namespace and partitions are cut there. */
    readonly net?: NetNamespaces,
  ) {
    this.nodes = nodes;
    this.ids = nodes.map((n) => n.id);
    this.endpoints = nodes.map((n) => n.endpoint);
    this.token = token;
    this.adminToken = adminToken;
  }

  get pids(): number[] {
    return this.nodes.map((n) => n.child?.pid ?? 0);
  }

  /**
   * start writes fresh tokens into `dataDir`, starts `count` nodes on free loopback ports and waits until every one
   * serves. It also writes DIR/cluster.json in the shape `clab cluster up` writes, so `clab status --data DIR` and
   * `clab fault --data DIR` work on a nemesis cluster too.
   */
  static async start(
    launcher: Launcher,
    o: {
      engine: string;
      nodes: number;
      options: Record<string, string>;
      dataDir: string;
      tickMs?: number;
      readyTimeoutMs?: number;
      net?: NetNamespaces;
    },
  ): Promise<NodeProcs> {
    mkdirSync(o.dataDir, { recursive: true });
    // In namespaces every node has its own address and port space; on loopback they need consecutive free ports.
    const port = o.net ? 7101 : await freeBasePort(o.nodes);
    const hostOf = (i: number) => (o.net ? o.net.address(i) : "127.0.0.1");
    const portOf = (i: number) => (o.net ? port : port + i);
    const token = randomBytes(32).toString("hex");
    const adminToken = randomBytes(32).toString("hex");
    const tokenFile = join(o.dataDir, "cluster.token");
    const adminTokenFile = join(o.dataDir, "admin.token");
    const peerTokenFile = join(o.dataDir, "peer.token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
    writeFileSync(peerTokenFile, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
    const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
    const endpoints = ids.map((_, i) => `ws://${hostOf(i)}:${portOf(i)}`);
    const peers = ids.map((p, j) => `${p}=${endpoints[j]}`).join(",");
    const nodes: NodeProc[] = ids.map((id, i) => ({
      id,
      endpoint: endpoints[i]!,
      dataDir: join(o.dataDir, id),
      log: join(o.dataDir, `${id}.log`),
      paused: false,
      argv: [
        "node",
        "--engine",
        o.engine,
        "--id",
        id,
        "--listen",
        `${hostOf(i)}:${portOf(i)}`,
        "--peers",
        peers,
        "--data",
        join(o.dataDir, id),
        "--token-file",
        tokenFile,
        "--admin-token-file",
        adminTokenFile,
        "--peer-token-file",
        peerTokenFile,
        "--log-level",
        "warn",
        ...Object.entries(o.options).flatMap(([k, v]) => ["--option", `${k}=${v}`]),
        ...(o.tickMs ? ["--tick-ms", String(o.tickMs)] : []),
        "--exit-on-stdin-close",
      ],
    }));
    const procs = new NodeProcs(launcher, o.engine, o.dataDir, nodes, token, adminToken, o.net);
    try {
      await Promise.all(ids.map((id) => procs.startNode(id, o.readyTimeoutMs)));
    } catch (e) {
      await procs.stop();
      throw e;
    }
    procs.writeClusterFile(o.options, tokenFile, adminTokenFile, peerTokenFile);
    return procs;
  }

  private writeClusterFile(
    options: Record<string, string>,
    tokenFile: string,
    adminTokenFile: string,
    peerTokenFile: string,
  ) {
    const file = {
      engine: this.engine,
      options,
      supervisorPid: process.pid,
      tokenFile,
      adminTokenFile,
      peerTokenFile,
      nodes: this.nodes.map((n) => ({
        id: n.id,
        endpoint: n.endpoint,
        pid: n.child?.pid ?? 0,
        dataDir: n.dataDir,
        log: n.log,
        argv: n.argv.filter((a) => a !== "--exit-on-stdin-close"),
      })),
      startedAt: new Date().toISOString(),
    };
    writeFileSync(join(this.dataDir, "cluster.json"), `${JSON.stringify(file, null, 2)}\n`);
  }

  /** wrap puts a node's command inside its network namespace, when there are namespaces. */
  private wrap(id: string, command: string, args: string[]): [string, string[]] {
    return this.net ? this.net.wrap(this.ids.indexOf(id), command, args) : [command, args];
  }

  private node(id: string): NodeProc {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`unknown node ${id}`);
    return n;
  }

  /** isUp tells whether the node's process is running (paused counts as running). */
  isUp(id: string): boolean {
    const c = this.node(id).child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  isPaused(id: string): boolean {
    return this.node(id).paused;
  }

  skewOf(id: string): Skew | undefined {
    return this.node(id).skew;
  }

  /**
   * startNode starts a node that is not running from its data directory with its recorded arguments (under
   * faketime when `skew` is given) and resolves once it prints its `serving` line.
   */
  async startNode(id: string, readyTimeoutMs = 20_000, skew?: Skew): Promise<void> {
    const n = this.node(id);
    if (this.isUp(id)) throw new Error(`node ${id} is already running`);
    const env: NodeJS.ProcessEnv = { ...process.env, CLAB_LOG_LEVEL: "warn" };
    if (skew) {
      const lib = findLibfaketime();
      if (!lib) throw new Error("skew needs libfaketime (Debian: apt-get install faketime)");
      env.LD_PRELOAD = lib;
      env.FAKETIME = faketimeSpec(skew);
    }
    const [command, args] = this.wrap(n.id, this.launcher.command, [...this.launcher.args, ...n.argv]);
    const logFd = openSync(n.log, "a");
    const child = spawn(command, args, { stdio: ["pipe", "pipe", logFd], env });
    n.child = child;
    n.paused = false;
    n.skew = skew;
    await new Promise<void>((resolve, reject) => {
      let serving = false;
      const timer = setTimeout(
        () => reject(new Error(`node ${id} did not serve within ${readyTimeoutMs} ms (log ${n.log})`)),
        readyTimeoutMs,
      );
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start node ${id} with ${command}: ${e.message}`));
      });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!serving && line.startsWith(`node ${id} serving`)) {
          serving = true;
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (!serving) {
          clearTimeout(timer);
          reject(new Error(`node ${id} exited before serving (${how}); log ${n.log}`));
        } else if (!this.stopping && n.child === child && signal !== "SIGKILL") {
          this.onUnexpectedExit(id, how);
        }
      });
    });
  }

  /** kill sends SIGKILL (kill -9) and waits until the process is gone. */
  async kill(id: string): Promise<void> {
    const n = this.node(id);
    const c = n.child;
    if (!c || !this.isUp(id)) return;
    const gone = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGKILL");
    await gone;
    n.paused = false;
  }

  /** pause stops the process (SIGSTOP): it keeps its sockets but runs nothing, as in a long GC pause. */
  pause(id: string): void {
    const n = this.node(id);
    if (!n.child || !this.isUp(id) || n.paused) return;
    n.child.kill("SIGSTOP");
    n.paused = true;
  }

  resume(id: string): void {
    const n = this.node(id);
    if (!n.child || !this.isUp(id) || !n.paused) return;
    n.child.kill("SIGCONT");
    n.paused = false;
  }

  /** stop ends every node: continued if paused, SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const running = this.nodes.filter((n) => this.isUp(n.id));
    await Promise.all(
      running.map(
        (n) =>
          new Promise<void>((r) => {
            const c = n.child!;
            if (c.exitCode !== null || c.signalCode !== null) return r();
            const t = setTimeout(() => c.kill("SIGKILL"), 5_000);
            c.once("exit", () => {
              clearTimeout(t);
              r();
            });
            if (n.paused) c.kill("SIGCONT");
            c.kill("SIGTERM");
          }),
      ),
    );
  }

  /** killAllNow is for process exit: SIGKILL every node at once, synchronously. */
  killAllNow(): void {
    for (const n of this.nodes) {
      try {
        n.child?.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}
