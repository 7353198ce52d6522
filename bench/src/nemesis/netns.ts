import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";

/**
 * NetNamespaces puts each node in its own Linux network namespace, joined to a bridge in this namespace by a veth
 * pair, so partitions can be cut in the kernel with nftables rules the nodes know nothing about (Jepsen's way; the
 * transport's own partitions are the node dropping its messages). Traffic goes only to the addresses of the
 * namespaces it creates, in a 10.77.X.0/24 subnet no interface here uses. `remove` deletes every namespace and the
 * bridge; it runs at process exit too, so they are removed even when the run fails. Needs root.
 */
export class NetNamespaces {
  private removed = false;
  private readonly onExit = () => this.remove();

  private constructor(
    readonly tag: string,
    readonly subnet: string,
    readonly namespaces: string[],
    readonly bridge: string,
  ) {}

  /** create makes `count` namespaces with an address each and a bridge with the host's address. */
  static create(count: number): NetNamespaces {
    const tag = `${process.pid % 10000}${randomInt(100)}`;
    const used = run("ip", ["-o", "-4", "addr"]);
    let third = -1;
    for (let i = 0; i < 50 && third < 0; i++) {
      const x = randomInt(1, 250);
      if (!used.includes(`10.77.${x}.`)) third = x;
    }
    if (third < 0) throw new Error("no free 10.77.X.0/24 subnet for the nemesis network");
    const subnet = `10.77.${third}`;
    const bridge = `clab${tag}br`;
    const namespaces = Array.from({ length: count }, (_, i) => `clab${tag}n${i + 1}`);
    const net = new NetNamespaces(tag, subnet, [], bridge);
    process.once("exit", net.onExit);
    try {
      run("ip", ["link", "add", bridge, "type", "bridge"]);
      run("ip", ["addr", "add", `${subnet}.1/24`, "dev", bridge]);
      run("ip", ["link", "set", bridge, "up"]);
      for (const [i, ns] of namespaces.entries()) {
        run("ip", ["netns", "add", ns]);
        net.namespaces.push(ns);
        const host = `clab${tag}v${i + 1}`;
        run("ip", ["link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns]);
        run("ip", ["link", "set", host, "master", bridge, "up"]);
        run("ip", ["-n", ns, "addr", "add", `${net.address(i)}/24`, "dev", "eth0"]);
        run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
        run("ip", ["-n", ns, "link", "set", "lo", "up"]);
        // One table per namespace with an input and an output chain; a partition adds drop rules, a heal flushes them.
        nft(ns, ["add", "table", "inet", "clab"]);
        nft(ns, ["add", "chain", "inet", "clab", "in", "{ type filter hook input priority 0; }"]);
        nft(ns, ["add", "chain", "inet", "clab", "out", "{ type filter hook output priority 0; }"]);
      }
    } catch (e) {
      net.remove();
      throw e;
    }
    return net;
  }

  /** address is node i's address (0-based). */
  address(i: number): string {
    return `${this.subnet}.${11 + i}`;
  }

  /** wrap runs a command inside node i's namespace (`ip netns exec` execs it: the pid is the command's). */
  wrap(i: number, command: string, args: string[]): [string, string[]] {
    return ["ip", ["netns", "exec", this.namespaces[i]!, command, ...args]];
  }

  /** cut drops every packet between the nodes of `a` and the nodes of `b` (indices), both ways, in the kernel. */
  cut(a: number[], b: number[]): void {
    for (const [side, other] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const i of side) {
        for (const j of other) {
          nft(this.namespaces[i]!, [
            "add",
            "rule",
            "inet",
            "clab",
            "in",
            "ip",
            "saddr",
            this.address(j),
            "drop",
          ]);
          nft(this.namespaces[i]!, [
            "add",
            "rule",
            "inet",
            "clab",
            "out",
            "ip",
            "daddr",
            this.address(j),
            "drop",
          ]);
        }
      }
    }
  }

  /** heal removes every drop rule. */
  heal(): void {
    for (const ns of this.namespaces) {
      nft(ns, ["flush", "chain", "inet", "clab", "in"]);
      nft(ns, ["flush", "chain", "inet", "clab", "out"]);
    }
  }

  /** remove deletes the namespaces (their veth pairs go with them) and the bridge; safe to call twice. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    process.removeListener("exit", this.onExit);
    for (const ns of this.namespaces) {
      try {
        run("ip", ["netns", "del", ns]);
      } catch {
        // already gone
      }
    }
    try {
      run("ip", ["link", "del", this.bridge]);
    } catch {
      // already gone
    }
  }
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${(err.stderr ?? err.message).trim()}`);
  }
}

function nft(ns: string, args: string[]): void {
  run("ip", ["netns", "exec", ns, "nft", ...args]);
}

/** netnsProblem says why namespaces cannot be used here (not root, no ip or nft), or undefined when they can. */
export function netnsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  for (const [cmd, args, pkg] of [
    ["ip", ["-V"], "iproute2"],
    ["nft", ["--version"], "nftables"],
  ] as const) {
    try {
      execFileSync(cmd, [...args], { stdio: "ignore" });
    } catch {
      return `${cmd} not found (Debian: apt-get install ${pkg})`;
    }
  }
  return undefined;
}
