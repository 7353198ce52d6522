import { isKvError, parseOptionArgs } from "@consistency-lab/kv";
import { createLogger, Node, parseHostPort, parsePeers, readSecret } from "@consistency-lab/node";
import { type Command, Option } from "commander";
import { engineNames, findEngine } from "../engines.js";
import { UsageError } from "../usage-error.js";

interface NodeFlags {
  engine: string;
  id: string;
  listen: string;
  peers?: string;
  data?: string;
  memory?: boolean;
  tokenFile?: string;
  adminTokenFile?: string;
  peerTokenFile?: string;
  option: string[];
  tickMs?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  logLevel?: string;
  exitOnStdinClose?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** usage turns the TypeErrors of argument parsers into usage errors (exit 2). */
export function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * registerNode adds `clab node` (ARCHITECTURE §5): one real node in this process. It prints
 * `node ID serving ws://HOST:PORT` on stdout once it listens (what `clab cluster up` waits for) and logs JSON
 * lines on stderr. A start failure (KV_STORAGE: corrupt, locked or newer data directory; port in use) prints
 * the code and message and exits 1 — the supervisor does not restart it, so there is no crash loop.
 */
export function registerNode(program: Command): void {
  program
    .command("node")
    .description("run one real node (engine core + LevelDB + WebSocket transport)")
    .requiredOption("--engine <name>", "engine to run")
    .requiredOption("--id <id>", "this node's id, e.g. n1")
    .requiredOption("--listen <host:port>", "address to listen on")
    .option("--peers <list>", "the other members: ID=ws://host:port,…", "")
    .option("--data <dir>", "LevelDB data directory for this node")
    .option("--memory", "keep records in memory only (lost on exit)")
    .option("--token-file <file>", "cluster token file (else env CLAB_TOKEN)")
    .option("--admin-token-file <file>", "admin token file (else env CLAB_ADMIN_TOKEN)")
    .option(
      "--peer-token-file <file>",
      "peer token file, shared by the members only (else env CLAB_PEER_TOKEN); clients never get it",
    )
    .option("--option <k=v>", "engine option (repeatable)", collect, [])
    .option("--tick-ms <ms>", "wall-clock tick period", "10")
    .option("--tls-cert <file>", "serve wss:// with this certificate")
    .option("--tls-key <file>", "private key for --tls-cert")
    .option("--tls-ca <file>", "CA to trust when dialing peers over wss://")
    .option("--log-level <level>", "pino level (default info, or env CLAB_LOG_LEVEL)")
    .addOption(new Option("--exit-on-stdin-close", "stop when stdin closes (used by cluster up)").hideHelp())
    .action(async (flags: NodeFlags) => {
      const engine = findEngine(flags.engine);
      if (!engine) throw new UsageError(`unknown engine "${flags.engine}"; known: ${engineNames()}`);
      if (!flags.data && !flags.memory)
        throw new UsageError("give --data DIR (or --memory for a throwaway node)");
      const listen = usage(() => parseHostPort(flags.listen));
      const peers = usage(() => parsePeers(flags.peers ?? ""));
      const token = usage(() => readSecret(flags.tokenFile, "CLAB_TOKEN", "token"));
      const adminToken = usage(() => readSecret(flags.adminTokenFile, "CLAB_ADMIN_TOKEN", "admin token"));
      const peerToken = usage(() => readSecret(flags.peerTokenFile, "CLAB_PEER_TOKEN", "peer token"));
      if (new Set([token, adminToken, peerToken]).size !== 3)
        throw new UsageError("the client, admin and peer tokens must all differ");
      const options = usage(() => parseOptionArgs(flags.option));
      const tickMs = Number(flags.tickMs);
      if (!Number.isInteger(tickMs) || tickMs < 1)
        throw new UsageError(`--tick-ms must be a positive integer`);
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new UsageError("--tls-cert and --tls-key go together");
      }
      const logger = createLogger({ node: flags.id }, flags.logLevel);
      let node: Node;
      try {
        node = await Node.start({
          engine,
          options,
          id: flags.id,
          listen,
          peers,
          dataDir: flags.memory ? null : flags.data!,
          token,
          adminToken,
          peerToken,
          tickMs,
          logger,
          ...(flags.tlsCert
            ? {
                tls: { cert: flags.tlsCert, key: flags.tlsKey!, ...(flags.tlsCa ? { ca: flags.tlsCa } : {}) },
              }
            : {}),
        });
      } catch (e) {
        // resolveOptions refuses unknown or malformed --option values with TypeError.
        if (e instanceof TypeError) throw new UsageError(e.message);
        const code = isKvError(e) ? e.code : ((e as { code?: string }).code ?? "ERROR");
        logger.error({ code, err: (e as Error).message }, "node failed to start");
        process.stderr.write(`clab node: ${code}: ${(e as Error).message}\n`);
        process.exit(1);
      }
      const scheme = flags.tlsCert ? "wss" : "ws";
      const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
      process.stdout.write(`node ${flags.id} serving ${scheme}://${host}:${node.port}\n`);

      let signals = 0;
      const stop = (why: string) => {
        if (++signals > 1) {
          logger.warn({ why }, "second stop request: exiting now");
          process.exit(1);
        }
        logger.info({ why }, "stopping");
        void node.stop();
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      if (flags.exitOnStdinClose) {
        // The supervisor (`clab cluster up`) holds the other end of stdin; EOF means it died or let go.
        process.stdin.on("end", () => stop("supervisor gone (stdin closed)"));
        process.stdin.on("error", () => stop("supervisor gone (stdin error)"));
        process.stdin.resume();
      }
      const failure = await node.closed;
      if (failure) {
        process.stderr.write(
          `clab node: ${(failure as { code?: string }).code ?? "ERROR"}: ${failure.message}\n`,
        );
        process.exit(1);
      }
      process.exit(0);
    });
}
