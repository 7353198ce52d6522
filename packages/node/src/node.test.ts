import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ClientReply,
  type EngineCore,
  type EngineDefinition,
  type EngineInit,
  memoryEngine,
  NOTHING,
  type NodeStatus,
  type PersistOp,
  type Ready,
} from "@consistency-lab/kv";
import { MemoryStorage, type Storage } from "@consistency-lab/storage";
import { decodeFrame, encodeFrame, WebSocket, WIRE_VERSION } from "@consistency-lab/transport-ws";
import { afterEach, describe, expect, it } from "vitest";
import { FakeNetwork } from "./fake-transport.js";
import { Node, type NodeConfig } from "./node.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const running: Node[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function start(net: FakeNetwork, over: Partial<NodeConfig> = {}): Promise<Node> {
  const n = await Node.start({
    engine: memoryEngine,
    id: "n1",
    listen: { host: "127.0.0.1", port: 0 },
    peers: {},
    dataDir: null,
    token: "t",
    adminToken: "a",
    peerToken: "p",
    logger: silent,
    transport: net.factory,
    tickMs: 5,
    ...over,
  });
  running.push(n);
  return n;
}

/** GatedStorage holds every apply until the test releases it, and records the order and overlap of applies. */
class GatedStorage implements Storage {
  readonly inner = new MemoryStorage();
  readonly applied: PersistOp[][] = [];
  gates: (() => void)[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  open() {
    return this.inner.open();
  }
  async apply(ops: readonly PersistOp[]): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((r) => this.gates.push(r));
    await this.inner.apply(ops);
    this.applied.push([...ops]);
    this.inFlight--;
  }
  async close() {
    this.closed = true;
    await this.inner.close();
  }
  async releaseNext(): Promise<void> {
    while (this.gates.length === 0) await new Promise((r) => setImmediate(r));
    this.gates.shift()!();
    await new Promise((r) => setImmediate(r));
  }
}

const turn = () => new Promise((r) => setImmediate(r));
async function turns(n: number) {
  for (let i = 0; i < n; i++) await turn();
}

describe("Node with the memory engine", () => {
  it("serves put, get, cas and delete", async () => {
    const net = new FakeNetwork();
    await start(net);
    expect(await net.request("n1", { op: "put", key: "k", value: "v1" })).toMatchObject({ ok: true });
    expect(await net.request("n1", { op: "get", key: "k" })).toMatchObject({ ok: true, value: "v1" });
    expect(await net.request("n1", { op: "cas", key: "k", expected: "nope", value: "x" })).toMatchObject({
      swapped: false,
    });
    expect(await net.request("n1", { op: "cas", key: "k", expected: "v1", value: "v2" })).toMatchObject({
      swapped: true,
    });
    expect(await net.request("n1", { op: "delete", key: "k" })).toMatchObject({ ok: true });
    expect(await net.request("n1", { op: "get", key: "k" })).toMatchObject({ ok: true, value: null });
  });

  it("gives each client its own reply even when request ids collide", async () => {
    const net = new FakeNetwork();
    await start(net);
    const [a, b] = await Promise.all([
      net.request("n1", { id: "1", op: "put", key: "a", value: "A" }),
      net.request("n1", { id: "1", op: "put", key: "b", value: "B" }),
    ]);
    expect(a.id).toBe("1");
    expect(b.id).toBe("1");
    expect(await net.request("n1", { id: "1", op: "get", key: "a" })).toMatchObject({ id: "1", value: "A" });
    expect(await net.request("n1", { id: "1", op: "get", key: "b" })).toMatchObject({ id: "1", value: "B" });
  });

  it("does not reply to a write before its batch is durable", async () => {
    const net = new FakeNetwork();
    const storage = new GatedStorage();
    await start(net, { storage });
    let reply: ClientReply | null = null;
    void net.request("n1", { op: "put", key: "k", value: "v" }).then((r) => (reply = r));
    await turns(5);
    expect(reply).toBeNull();
    expect(storage.applied).toEqual([]);
    await storage.releaseNext();
    await turns(3);
    expect(storage.applied).toEqual([[{ type: "put", key: "d/k", value: "v" }]]);
    expect(reply).toMatchObject({ ok: true });
  });

  it("persists Readies one at a time, in order, grouping what arrived meanwhile", async () => {
    const net = new FakeNetwork();
    const storage = new GatedStorage();
    await start(net, { storage });
    const order: string[] = [];
    const p1 = net.request("n1", { op: "put", key: "k", value: "1" }).then(() => order.push("1"));
    await turns(3);
    const rest = ["2", "3", "4"].map((v) =>
      net.request("n1", { op: "put", key: "k", value: v }).then(() => order.push(v)),
    );
    await turns(5);
    // Only the first batch is in flight while it is held.
    expect(storage.maxInFlight).toBe(1);
    await storage.releaseNext();
    await storage.releaseNext();
    await Promise.all([p1, ...rest]);
    expect(storage.maxInFlight).toBe(1);
    expect(order).toEqual(["1", "2", "3", "4"]);
    // The three writes that arrived while the first was persisting share one batch (group commit).
    expect(storage.applied.map((b) => b.map((op) => (op.type === "put" ? op.value : null)))).toEqual([
      ["1"],
      ["2", "3", "4"],
    ]);
    expect(await net.request("n1", { op: "get", key: "k" })).toMatchObject({ value: "4" });
  });

  it("stops gracefully: finishes the batch in flight, then closes storage; refuses later requests", async () => {
    const net = new FakeNetwork();
    const storage = new GatedStorage();
    const node = await start(net, { storage });
    let reply: ClientReply | null = null;
    void net.request("n1", { op: "put", key: "k", value: "v" }).then((r) => (reply = r));
    await turns(3);
    let stopped = false;
    const stopping = node.stop().then(() => (stopped = true));
    await turns(3);
    expect(stopped).toBe(false);
    expect(await net.request("n1", { op: "get", key: "k" })).toMatchObject({
      error: { code: "KV_UNAVAILABLE" },
    });
    await storage.releaseNext();
    await stopping;
    expect(reply).toMatchObject({ ok: true });
    expect(storage.closed).toBe(true);
    expect(await node.closed).toBeNull();
  });

  it("answers admin commands with KV_NOT_SUPPORTED when the engine has none", async () => {
    const net = new FakeNetwork();
    await start(net);
    const r = await net.admin("n1", { id: "a1", command: "transfer-leader", args: { to: "n2" } });
    expect(r).toMatchObject({ id: "a1", ok: false, error: { code: "KV_NOT_SUPPORTED" } });
  });

  it("reports core status, ops served and transport stats", async () => {
    const net = new FakeNetwork();
    await start(net);
    await net.request("n1", { op: "put", key: "k", value: "v" });
    await net.request("n1", { op: "get", key: "" });
    const s = net.status("n1");
    expect(s).toMatchObject({
      id: "n1",
      role: "single",
      engine: "memory",
      opsServed: 2,
      transport: { fake: true },
    });
    expect((s as unknown as { ops: { opsOk: number; opsFailed: number } }).ops).toMatchObject({
      opsOk: 1,
      opsFailed: 1,
    });
  });

  it("restarts from LevelDB with every acknowledged write", async () => {
    const dir = await mkdtemp(join(tmpdir(), "clab-node-"));
    dirs.push(dir);
    const net = new FakeNetwork();
    const n = await start(net, { dataDir: dir });
    for (let i = 0; i < 20; i++) await net.request("n1", { op: "put", key: `k${i}`, value: `v${i}` });
    await n.stop();
    await start(net, { dataDir: dir });
    for (let i = 0; i < 20; i++)
      expect(await net.request("n1", { op: "get", key: `k${i}` })).toMatchObject({ value: `v${i}` });
  });

  it("refuses to start on a data directory another node holds, with KV_STORAGE", async () => {
    const dir = await mkdtemp(join(tmpdir(), "clab-node-"));
    dirs.push(dir);
    await start(new FakeNetwork(), { dataDir: dir });
    await expect(start(new FakeNetwork(), { dataDir: dir })).rejects.toMatchObject({ code: "KV_STORAGE" });
  });

  it("refuses unknown engine options with TypeError before touching storage", async () => {
    await expect(start(new FakeNetwork(), { options: { nope: 1 } })).rejects.toBeInstanceOf(TypeError);
  });

  it("stops with the error when a synced write fails, and refuses further requests", async () => {
    const net = new FakeNetwork();
    const storage = new MemoryStorage();
    storage.apply = async () => {
      throw Object.assign(new Error("disk full"), { code: "KV_STORAGE" });
    };
    const node = await start(net, { storage });
    void net.request("n1", { op: "put", key: "k", value: "v" });
    const err = await node.closed;
    expect(err?.message).toMatch(/disk full/);
    // Transport closed: the node is gone from the network rather than serving without durability.
    await expect(net.request("n1", { op: "get", key: "k" })).rejects.toThrow(/no node/);
  });
});

/** EchoCore is a two-node test engine: a put on n1 is persisted, sent to n2 early and late, and acknowledged. */
class EchoCore implements EngineCore<unknown> {
  private out: Ready<unknown> = { persist: [], send: [], replies: [], sendEarly: [] };
  readonly seen: unknown[] = [];
  constructor(readonly id: string) {}
  step(from: string, m: unknown): void {
    if (m === "boom") throw new Error("bad message");
    this.seen.push({ from, m });
  }
  request(req: { id: string; op: string; key: string; value?: string }): void {
    this.out.persist.push({ type: "put", key: req.key, value: req.value });
    this.out.sendEarly!.push({ to: "n2", message: `early:${req.key}` });
    this.out.send.push({ to: "n2", message: `late:${req.key}` });
    this.out.replies.push({ id: req.id, ok: true });
  }
  tick(): void {}
  ready(): Ready<unknown> {
    const r = this.out;
    this.out = { persist: [], send: [], replies: [], sendEarly: [] };
    return r;
  }
  status(): NodeStatus {
    return { id: this.id, role: "echo", seen: this.seen.length };
  }
  admin(cmd: { id: string; command: string }): void {
    this.out.replies.push({ id: cmd.id, ok: true, value: `did ${cmd.command}` });
  }
}
const cores = new Map<string, EchoCore>();
const echoEngine: EngineDefinition<unknown> = {
  name: "echo",
  description: "test",
  options: [],
  create: (init: EngineInit) => {
    const c = new EchoCore(init.id);
    cores.set(init.id, c);
    return c;
  },
  supports: () => NOTHING,
};

describe("Node release order", () => {
  it("releases sendEarly before the persist and send after it", async () => {
    const net = new FakeNetwork();
    const storage = new GatedStorage();
    await start(net, { engine: echoEngine, id: "n1", peers: { n2: "ws://x" }, storage });
    await start(net, { engine: echoEngine, id: "n2", peers: { n1: "ws://x" } });
    const done = net.request("n1", { op: "put", key: "k", value: "v" });
    await turns(6);
    expect(cores.get("n2")!.seen).toEqual([{ from: "n1", m: "early:k" }]);
    await storage.releaseNext();
    await done;
    await turns(3);
    expect(cores.get("n2")!.seen).toEqual([
      { from: "n1", m: "early:k" },
      { from: "n1", m: "late:k" },
    ]);
  });

  it("keeps serving when the core throws on a peer message", async () => {
    const net = new FakeNetwork();
    await start(net, { engine: echoEngine, id: "n1", peers: { n2: "ws://x" } });
    net.deliver("n2", "n1", "boom");
    expect(await net.request("n1", { op: "put", key: "k", value: "v" })).toMatchObject({ ok: true });
  });

  it("passes admin commands to core.admin and restores the command id", async () => {
    const net = new FakeNetwork();
    await start(net, { engine: echoEngine, id: "n1", peers: {} });
    expect(await net.admin("n1", { id: "x9", command: "promote" })).toMatchObject({
      id: "x9",
      ok: true,
      value: "did promote",
    });
  });
});

/** rawExchange opens a WebSocket, sends `frames` in order and resolves with what came back and how it closed. */
function rawExchange(
  url: string,
  frames: unknown[],
): Promise<{ got: Record<string, unknown>[]; close: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const got: Record<string, unknown>[] = [];
    ws.on("message", (data, isBinary) => {
      const f = decodeFrame(data as Buffer, isBinary) as Record<string, unknown>;
      got.push(f);
      // After the welcome, send the rest (the frames after the hello).
      if (f.t === "welcome") for (const x of frames.slice(1)) ws.send(encodeFrame(x, "json"));
    });
    ws.once("open", () => ws.send(encodeFrame(frames[0], "json")));
    ws.once("close", (close) => resolve({ got, close }));
    ws.once("error", reject);
  });
}

describe("Node over real WebSockets: peer credentials", () => {
  async function wsNode(over: Partial<NodeConfig> = {}): Promise<Node> {
    const n = await Node.start({
      engine: memoryEngine,
      id: "n1",
      listen: { host: "127.0.0.1", port: 0 },
      peers: { n2: "ws://127.0.0.1:9" },
      dataDir: null,
      token: "client-token",
      adminToken: "admin-token",
      peerToken: "peer-token",
      logger: silent,
      tickMs: 5,
      ...over,
    });
    running.push(n);
    return n;
  }
  const peerHello = (id: string, token: string) => ({
    t: "hello",
    v: WIRE_VERSION,
    role: "peer",
    id,
    token,
    codec: "json",
  });

  it("refuses a peer hello made with the client token, or claiming a non-member id, with KV_UNAUTHORIZED and close", async () => {
    const n = await wsNode();
    const url = `ws://127.0.0.1:${n.port}`;
    for (const hello of [
      peerHello("n2", "client-token"),
      peerHello("n9", "client-token"),
      peerHello("n2", "peer-token"),
    ]) {
      const { got, close } = await rawExchange(url, [hello]);
      expect(got, JSON.stringify(hello)).toEqual([
        expect.objectContaining({ t: "error", code: "KV_UNAUTHORIZED" }),
      ]);
      expect(close).toBe(4001);
    }
  });

  it("a client connection that sends a peer message is refused with a coded error and closed", async () => {
    const n = await wsNode();
    const { got, close } = await rawExchange(`ws://127.0.0.1:${n.port}`, [
      { t: "hello", v: WIRE_VERSION, role: "client", token: "client-token", codec: "json" },
      { t: "msg", m: { type: "vote", term: 99 } },
    ]);
    expect(got.map((f) => f.t)).toEqual(["welcome", "error"]);
    expect(got[1]).toMatchObject({ code: "KV_PROTOCOL" });
    expect(close).toBe(4003);
  });

  it("refuses to start when the peer token equals the client or admin token", async () => {
    await expect(wsNode({ peerToken: "client-token" })).rejects.toThrow(/differ/);
    await expect(wsNode({ peerToken: "admin-token" })).rejects.toThrow(/differ/);
  });
});
