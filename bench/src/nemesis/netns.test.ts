import { execFileSync, spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { NetNamespaces, netnsProblem } from "./netns.js";

/** connects tells whether a TCP connection from `ns` (or this namespace) to addr:port gets the server's greeting. */
function connects(
  net: NetNamespaces,
  from: number | undefined,
  addr: string,
  port: number,
): Promise<boolean> {
  const script = `const s=require("net").connect(${port},"${addr}");s.setTimeout(800,()=>{process.stdout.write("no");process.exit()});s.on("data",()=>{process.stdout.write("yes");process.exit()});s.on("error",()=>{process.stdout.write("no");process.exit()})`;
  const [cmd, args] =
    from === undefined
      ? [process.execPath, ["-e", script]]
      : net.wrap(from, process.execPath, ["-e", script]);
  return new Promise((done) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    c.once("exit", () => done(out === "yes"));
  });
}

const namespaces = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });

describe("NetNamespaces", () => {
  it("can be used on this machine (root, ip, nft)", () => {
    expect(netnsProblem()).toBeUndefined();
  });

  it("joins nodes' namespaces, cuts them apart in the kernel, heals, and removes everything it made", async () => {
    const net = NetNamespaces.create(3);
    const server = spawn(
      ...net.wrap(1, process.execPath, [
        "-e",
        `require("net").createServer((s)=>s.end("hi")).listen(9000,"${net.address(1)}",()=>console.log("up"))`,
      ]),
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    try {
      await new Promise<void>((r) => server.stdout!.once("data", () => r()));
      expect(await connects(net, 0, net.address(1), 9000)).toBe(true);
      expect(await connects(net, undefined, net.address(1), 9000)).toBe(true);
      net.cut([0], [1, 2]);
      expect(await connects(net, 0, net.address(1), 9000)).toBe(false);
      // Only the links named are cut: n3 still reaches n2, and this namespace (the nemesis and its clients) every node.
      expect(await connects(net, 2, net.address(1), 9000)).toBe(true);
      expect(await connects(net, undefined, net.address(1), 9000)).toBe(true);
      net.heal();
      expect(await connects(net, 0, net.address(1), 9000)).toBe(true);
    } finally {
      server.kill("SIGKILL");
      net.remove();
    }
    for (const ns of net.namespaces) expect(namespaces()).not.toContain(ns);
    expect(execFileSync("ip", ["-o", "link"], { encoding: "utf8" })).not.toContain(net.bridge);
  });
});
