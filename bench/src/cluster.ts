import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Launcher is how the bench starts `clab` (the CLI passes its own entry point, so the bench runs what users run). */
export interface Launcher {
  command: string;
  args: string[];
}

/** ClusterHandle is a running local cluster of real node processes started with `clab cluster up`. */
export interface ClusterHandle {
  engine: string;
  ids: string[];
  endpoints: string[];
  token: string;
  adminToken: string;
  pids: number[];
  dataDir: string;
  /**
   * Clients must use only `endpoints`: the nodes' member map advertises peer URLs that are not the client path
   * (behind a delay proxy), so following a leader hint there would put the proxy's delay on client traffic.
   */
  pinClients?: boolean;
  stop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * freeBasePort finds `count` consecutive free loopback ports. They are drawn below Linux's ephemeral range
 * (32768–60999): a port there that is free when checked can be taken a moment later by any outgoing connection or
 * `listen(0)` of a process running beside this one (tests run in parallel), and the node meant for it fails with
 * EADDRINUSE.
 */
export async function freeBasePort(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * (22_000 - count));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error("no free port range found on 127.0.0.1");
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      reject(new Error(`cluster did not report ready within ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("cluster ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`clab cluster up exited with ${code}\n${out}\n${err}`));
    });
  });
}

/**
 * startCluster runs `clab cluster up` for an engine and waits for its `cluster ready` line, then reads the ids,
 * endpoints, pids and tokens it wrote (ARCHITECTURE §5).
 */
export async function startCluster(
  launcher: Launcher,
  o: { engine: string; nodes: number; options?: Record<string, unknown>; timeoutMs?: number },
): Promise<ClusterHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), `clab-bench-${o.engine}-`));
  const port = await freeBasePort(o.nodes);
  const args = [
    ...launcher.args,
    "cluster",
    "up",
    "--engine",
    o.engine,
    "--nodes",
    String(o.nodes),
    "--port",
    String(port),
    "--data",
    dataDir,
  ];
  for (const [k, v] of Object.entries(o.options ?? {})) args.push("--option", `${k}=${v}`);
  const child = spawn(launcher.command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CLAB_LOG_LEVEL: "warn" },
  });
  try {
    await waitForReady(child, o.timeoutMs ?? 30_000);
  } catch (e) {
    child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const info = JSON.parse(readFileSync(join(dataDir, "cluster.json"), "utf8")) as {
    nodes: { id: string; endpoint: string; pid: number }[];
  };
  const token = readFileSync(join(dataDir, "cluster.token"), "utf8").trim();
  const adminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  const pids = info.nodes.map((n) => n.pid);
  return {
    engine: o.engine,
    ids: info.nodes.map((n) => n.id),
    endpoints: info.nodes.map((n) => n.endpoint),
    token,
    adminToken,
    pids,
    dataDir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * startProxiedCluster runs N `clab node` processes whose peer links go through a DelayProxy per node (peers dial
 * node j at its proxy port), so the delay between members is injected by the same TCP proxy the etcd rows use.
 * Clients connect to the nodes' own ports, without delay.
 */
export async function startProxiedCluster(
  launcher: Launcher,
  o: {
    engine: string;
    nodes: number;
    options?: Record<string, unknown>;
    delayMs: number;
    timeoutMs?: number;
  },
): Promise<ClusterHandle & { proxies: import("./delay-proxy.js").DelayProxy[] }> {
  const { DelayProxy } = await import("./delay-proxy.js");
  const { writeFileSync } = await import("node:fs");
  const { randomBytes } = await import("node:crypto");
  const dataDir = mkdtempSync(join(tmpdir(), `clab-bench-proxied-${o.engine}-`));
  const base = await freeBasePort(o.nodes * 2);
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const nodePort = (i: number) => base + i;
  const proxyPort = (i: number) => base + o.nodes + i;
  const token = randomBytes(24).toString("hex");
  const adminToken = randomBytes(24).toString("hex");
  writeFileSync(join(dataDir, "cluster.token"), token, { mode: 0o600 });
  writeFileSync(join(dataDir, "admin.token"), adminToken, { mode: 0o600 });
  writeFileSync(join(dataDir, "peer.token"), randomBytes(24).toString("hex"), { mode: 0o600 });
  const proxies = ids.map((_, i) => new DelayProxy(proxyPort(i), nodePort(i), o.delayMs));
  for (const p of proxies) await p.start();
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null) return r();
            const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
            c.once("exit", () => {
              clearTimeout(t);
              r();
            });
          }),
      ),
    );
    for (const p of proxies) await p.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    for (const [i, id] of ids.entries()) {
      const peers = ids
        .map((pid, j) => (j === i ? null : `${pid}=ws://127.0.0.1:${proxyPort(j)}`))
        .filter((x): x is string => x !== null)
        .join(",");
      const args = [
        ...launcher.args,
        "node",
        "--engine",
        o.engine,
        "--id",
        id,
        "--listen",
        `127.0.0.1:${nodePort(i)}`,
        "--peers",
        peers,
        "--data",
        join(dataDir, id),
        "--token-file",
        join(dataDir, "cluster.token"),
        "--admin-token-file",
        join(dataDir, "admin.token"),
        "--peer-token-file",
        join(dataDir, "peer.token"),
        "--log-level",
        "warn",
      ];
      for (const [k, v] of Object.entries(o.options ?? {})) args.push("--option", `${k}=${v}`);
      children.push(spawn(launcher.command, args, { stdio: ["ignore", "ignore", "pipe"] }));
    }
    // Ready when every node accepts a TCP connection.
    const end = Date.now() + (o.timeoutMs ?? 30_000);
    for (let i = 0; i < ids.length; i++) {
      while (!(await portListening(nodePort(i)))) {
        if (Date.now() > end) throw new Error(`node ${ids[i]} did not start listening`);
        if (children[i]!.exitCode !== null)
          throw new Error(`node ${ids[i]} exited with ${children[i]!.exitCode}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    engine: o.engine,
    ids,
    endpoints: ids.map((_, i) => `ws://127.0.0.1:${nodePort(i)}`),
    token,
    adminToken,
    pids: children.map((c) => c.pid!),
    dataDir,
    proxies,
    pinClients: true,
    stop: stopAll,
  };
}

function portListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
