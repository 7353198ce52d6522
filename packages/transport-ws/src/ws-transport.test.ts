import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryNode } from "./memory-node.js";
import { freePort, RawSocket, waitFor } from "./test-support.js";
import { WIRE_VERSION } from "./wire.js";

const TOKEN = "cluster-token";
const ADMIN = "admin-token";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(
  o: Partial<Parameters<typeof MemoryNode.start>[0]> & { id: string },
): Promise<MemoryNode> {
  const n = await MemoryNode.start({
    token: TOKEN,
    adminToken: ADMIN,
    backoffBaseMs: 10,
    backoffMaxMs: 100,
    ...o,
  });
  cleanups.push(() => n.close());
  return n;
}

async function client(url: string, codec: "json" | "msgpack" = "json"): Promise<RawSocket> {
  const s = await RawSocket.open(url);
  cleanups.push(() => s.close());
  s.frame({ t: "hello", v: WIRE_VERSION, role: "client", token: TOKEN, codec }, codec);
  await s.next((f) => f.t === "welcome");
  return s;
}

describe("WsTransport client endpoint", () => {
  it.each(["json", "msgpack"] as const)("serves put/get/cas/delete over %s", async (codec) => {
    const n = await node({ id: "n1" });
    const c = await client(n.url, codec);
    expect(c.frames[0]).toMatchObject({ t: "welcome", id: "n1", members: { n1: n.url }, codec });
    c.frame({ t: "req", req: { id: "1", op: "put", key: "k", value: "v" } }, codec);
    c.frame({ t: "req", req: { id: "2", op: "get", key: "k" } }, codec);
    c.frame({ t: "req", req: { id: "3", op: "cas", key: "k", expected: "v", value: "w" } }, codec);
    c.frame({ t: "req", req: { id: "4", op: "delete", key: "k" } }, codec);
    c.frame({ t: "req", req: { id: "5", op: "get", key: "k" } }, codec);
    const rep = async (id: string) =>
      (
        (await c.next((f) => f.t === "rep" && (f.rep as { id: string }).id === id)) as {
          rep: Record<string, unknown>;
        }
      ).rep;
    expect(await rep("1")).toMatchObject({ ok: true });
    expect(await rep("2")).toMatchObject({ ok: true, value: "v" });
    expect(await rep("3")).toMatchObject({ ok: true, swapped: true });
    expect(await rep("4")).toMatchObject({ ok: true });
    expect(await rep("5")).toMatchObject({ ok: true, value: null });
  });

  it("gives two clients using the same request ids their own replies", async () => {
    const n = await node({ id: "n1" });
    const a = await client(n.url);
    const b = await client(n.url);
    a.frame({ t: "req", req: { id: "x", op: "put", key: "a", value: "1" } });
    await a.next((f) => f.t === "rep");
    b.frame({ t: "req", req: { id: "x", op: "get", key: "a" } });
    a.frame({ t: "req", req: { id: "y", op: "get", key: "b" } });
    expect((await b.next((f) => f.t === "rep")).rep).toMatchObject({ id: "x", value: "1" });
    expect((await a.next((f) => f.t === "rep" && (f.rep as { id: string }).id === "y")).rep).toMatchObject({
      value: null,
    });
  });

  it("answers status requests with the node's status and transport stats", async () => {
    const n = await node({ id: "n1" });
    const c = await client(n.url);
    c.frame({ t: "status", id: "s1" });
    const s = (await c.next((f) => f.t === "status-rep")) as { id: string; status: Record<string, unknown> };
    expect(s.id).toBe("s1");
    expect(s.status).toMatchObject({ id: "n1", role: "single", transport: { clients: 1 } });
  });
});

describe("WsTransport peer links", () => {
  it("delivers messages both ways and keeps per-link order", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await node({
      id: "a",
      listen: { host: "127.0.0.1", port: pa },
      peers: { b: `ws://127.0.0.1:${pb}` },
    });
    const b = await node({
      id: "b",
      listen: { host: "127.0.0.1", port: pb },
      peers: { a: `ws://127.0.0.1:${pa}` },
    });
    for (let i = 0; i < 50; i++) a.transport.send("b", { i, entries: [{ term: 1, value: "x" }] });
    b.transport.send("a", { hello: "from b" });
    await waitFor(() => b.peerMessages.length === 50 && a.peerMessages.length === 1);
    expect(b.peerMessages.map((m) => (m.message as { i: number }).i)).toEqual([...Array(50).keys()]);
    expect(b.peerMessages[0]).toEqual({ from: "a", message: { i: 0, entries: [{ term: 1, value: "x" }] } });
    expect(a.peerMessages[0]).toEqual({ from: "b", message: { hello: "from b" } });
    await waitFor(() => a.transport.stats().peersConnected.includes("b"));
    expect(a.transport.stats().sent).toBe(50);
    expect(b.transport.stats().received).toBe(50);
  });

  it("reconnects after a peer restarts and delivers what was queued meanwhile", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await node({
      id: "a",
      listen: { host: "127.0.0.1", port: pa },
      peers: { b: `ws://127.0.0.1:${pb}` },
    });
    let b = await node({
      id: "b",
      listen: { host: "127.0.0.1", port: pb },
      peers: { a: `ws://127.0.0.1:${pa}` },
    });
    a.transport.send("b", "before");
    await waitFor(() => b.peerMessages.length === 1);
    await b.close();
    await waitFor(() => !a.transport.stats().peersConnected.includes("b"));
    a.transport.send("b", "while-down-1");
    a.transport.send("b", "while-down-2");
    b = await node({
      id: "b",
      listen: { host: "127.0.0.1", port: pb },
      peers: { a: `ws://127.0.0.1:${pa}` },
    });
    await waitFor(() => b.peerMessages.length === 2, 10_000, "queued messages after reconnect");
    expect(b.peerMessages.map((m) => m.message)).toEqual(["while-down-1", "while-down-2"]);
    a.transport.send("b", "after");
    await waitFor(() => b.peerMessages.length === 3);
  });

  it("dials a returning peer as soon as it connects in, without waiting out the reconnect backoff", async () => {
    // Found by `clab nemesis`: a node restarted after a kill -9 waited up to backoffMaxMs for its peers' links,
    // and catching it up waited with them. Here the backoff is a minute: only the peer's own hello can bring
    // the link up within the test.
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await node({
      id: "a",
      listen: { host: "127.0.0.1", port: pa },
      peers: { b: `ws://127.0.0.1:${pb}` },
      backoffBaseMs: 60_000,
      backoffMaxMs: 60_000,
    });
    // b is not there yet: a's first dial fails and its link waits out the minute.
    await new Promise((r) => setTimeout(r, 200));
    a.transport.send("b", "queued");
    const b = await node({
      id: "b",
      listen: { host: "127.0.0.1", port: pb },
      peers: { a: `ws://127.0.0.1:${pa}` },
    });
    await waitFor(
      () => b.peerMessages.length === 1,
      10_000,
      "the queued message over a link dialled at once",
    );
    expect(b.peerMessages[0]!.message).toBe("queued");
  });

  it("bounds the queue of a down peer, dropping the oldest and counting drops", async () => {
    const pb = await freePort();
    const a = await node({ id: "a", peers: { b: `ws://127.0.0.1:${pb}` }, sendQueueLimit: 3 });
    for (let i = 0; i < 10; i++) a.transport.send("b", i);
    expect(a.transport.stats().dropped).toBe(7);
    const b = await node({
      id: "b",
      listen: { host: "127.0.0.1", port: pb },
      peers: { a: a.url },
    });
    await waitFor(() => b.peerMessages.length === 3, 10_000, "queued messages");
    expect(b.peerMessages.map((m) => m.message)).toEqual([7, 8, 9]);
  });

  it("adds and removes peers at runtime (membership change)", async () => {
    const b = await node({ id: "b" });
    const a = await node({ id: "a" });
    a.transport.send("b", "before");
    // Each side must know the other: a node accepts peer connections from members only.
    b.transport.addPeer("a", a.url);
    a.transport.addPeer("b", b.url);
    expect(a.transport.members()).toMatchObject({ a: a.url, b: b.url });
    a.transport.send("b", "after add");
    await waitFor(() => b.peerMessages.length === 1);
    expect(b.peerMessages[0]).toEqual({ from: "a", message: "after add" });
    a.transport.removePeer("b");
    a.transport.send("b", "after remove");
    expect(a.transport.stats().dropped).toBe(2);
    expect(a.transport.faults().links).toEqual({});
    expect(() => a.transport.addPeer("a", b.url)).toThrow(TypeError);
  });

  it("drops messages to unknown peers and after close without throwing", async () => {
    const a = await node({ id: "a" });
    a.transport.send("nobody", "x");
    await a.close();
    a.transport.send("nobody", "y");
    await a.close();
    expect(a.transport.stats().dropped).toBe(2);
  });

  it("refuses a peer whose token is wrong", async () => {
    const pb = await freePort();
    const a = await MemoryNode.start({
      id: "a",
      token: TOKEN,
      peerToken: "wrong",
      adminToken: ADMIN,
      peers: { b: `ws://127.0.0.1:${pb}` },
      backoffBaseMs: 10,
      backoffMaxMs: 50,
    });
    cleanups.push(() => a.close());
    const b = await node({ id: "b", listen: { host: "127.0.0.1", port: pb } });
    a.transport.send("b", "x");
    await waitFor(() => b.transport.stats().refused >= 2, 5000, "refusals");
    expect(b.peerMessages).toEqual([]);
    expect(a.transport.stats().peersConnected).toEqual([]);
  });
});

describe("WsTransport over TLS", () => {
  const hasOpenssl = (() => {
    try {
      execFileSync("openssl", ["version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  // Skipped only where openssl is missing (it cannot make the self-signed certificate); the reason is the name.
  it.runIf(hasOpenssl)(
    "serves wss:// with a self-signed certificate to clients and peers (needs openssl)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "clab-tls-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const cert = join(dir, "cert.pem");
      const key = join(dir, "key.pem");
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          key,
          "-out",
          cert,
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        { stdio: "ignore" },
      );
      const tls = { cert, key, ca: cert };
      const [pa, pb] = [await freePort(), await freePort()];
      const a = await node({
        id: "a",
        tls,
        listen: { host: "127.0.0.1", port: pa },
        peers: { b: `wss://127.0.0.1:${pb}` },
      });
      const b = await node({
        id: "b",
        tls,
        listen: { host: "127.0.0.1", port: pb },
        peers: { a: `wss://127.0.0.1:${pa}` },
      });
      expect(a.url).toBe(`wss://127.0.0.1:${pa}`);
      a.transport.send("b", "over tls");
      await waitFor(() => b.peerMessages.length === 1);
      const c = await RawSocket.open(b.url, { ca: readFileSync(cert) });
      cleanups.push(() => c.close());
      c.frame({ t: "hello", v: WIRE_VERSION, role: "client", token: TOKEN, codec: "json" });
      c.frame({ t: "req", req: { id: "1", op: "put", key: "k", value: "v" } });
      expect((await c.next((f) => f.t === "rep")).rep).toMatchObject({ ok: true });
      // A client that does not trust the certificate cannot connect at all.
      await expect(RawSocket.open(b.url)).rejects.toThrow();
    },
  );
});

describe("WsTransport heartbeats", () => {
  it("cuts a connection that stops answering pings and keeps one that answers", async () => {
    const n = await node({ id: "n1", heartbeatMs: 40 });
    const silent = await RawSocket.open(n.url, { autoPong: false });
    const good = await RawSocket.open(n.url);
    cleanups.push(() => silent.close());
    cleanups.push(() => good.close());
    for (const s of [silent, good])
      s.frame({ t: "hello", v: WIRE_VERSION, role: "client", token: TOKEN, codec: "json" });
    await silent.waitClosed();
    expect(good.closed).toBeUndefined();
    good.frame({ t: "req", req: { id: "1", op: "get", key: "k" } });
    expect((await good.next((f) => f.t === "rep")).rep).toMatchObject({ ok: true });
  });

  it("reconnects a peer link whose peer stops answering pings", async () => {
    const { WebSocketServer } = await import("ws");
    let connections = 0;
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, autoPong: false });
    await new Promise<void>((r) => wss.once("listening", () => r()));
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    wss.on("connection", (ws) => {
      connections++;
      ws.on("message", () =>
        ws.send(JSON.stringify({ t: "welcome", v: WIRE_VERSION, id: "b", members: {}, codec: "json" })),
      );
    });
    const port = (wss.address() as { port: number }).port;
    const a = await node({ id: "a", peers: { b: `ws://127.0.0.1:${port}` }, heartbeatMs: 40, codec: "json" });
    await waitFor(() => connections >= 3, 10_000, "reconnects after missed heartbeats");
    for (const c of wss.clients) c.terminate();
    expect(a.transport.stats().dropped).toBe(0);
  });
});
