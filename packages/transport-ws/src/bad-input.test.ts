import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { newNonce, peerProof } from "./auth.js";
import { encodeFrame } from "./codec.js";
import { MEMORY_NODE_PEER_TOKEN, MemoryNode } from "./memory-node.js";
import { RawSocket, waitFor } from "./test-support.js";
import { CLOSE_CODES, WIRE_VERSION } from "./wire.js";

const TOKEN = "cluster-token";
const ADMIN = "admin-token";
const HELLO = { t: "hello", v: WIRE_VERSION, role: "client", token: TOKEN, codec: "json" };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(o: Partial<Parameters<typeof MemoryNode.start>[0]> = {}): Promise<MemoryNode> {
  const n = await MemoryNode.start({ id: "n1", token: TOKEN, adminToken: ADMIN, ...o });
  cleanups.push(() => n.close());
  return n;
}

async function raw(url: string): Promise<RawSocket> {
  const s = await RawSocket.open(url);
  cleanups.push(() => s.close());
  return s;
}

/** A well-behaved client still gets served: the node survived whatever came before. */
async function stillServes(n: MemoryNode): Promise<void> {
  const s = await raw(n.url);
  s.frame(HELLO);
  s.frame({ t: "req", req: { id: "ok", op: "put", key: "alive", value: "yes" } });
  expect((await s.next((f) => f.t === "rep")).rep).toMatchObject({ id: "ok", ok: true });
  s.close();
}

/** Expects the coded error frame and the close code that goes with it. */
async function refused(s: RawSocket, code: string): Promise<void> {
  expect(await s.next((f) => f.t === "error")).toMatchObject({ t: "error", code });
  const close = await s.waitClosed();
  const expected = { KV_UNAUTHORIZED: 4001, KV_VERSION_MISMATCH: 4002, KV_PROTOCOL: 4003 }[code];
  expect(close.code).toBe(expected);
}

describe("bad input at the endpoint", () => {
  it("refuses a wrong or missing token with KV_UNAUTHORIZED", async () => {
    const n = await node();
    for (const token of ["wrong", undefined, "", ADMIN, 42]) {
      const s = await raw(n.url);
      s.frame({ ...HELLO, token });
      await refused(s, "KV_UNAUTHORIZED");
    }
    await stillServes(n);
  });

  it("refuses another wire version with KV_VERSION_MISMATCH", async () => {
    const n = await node();
    for (const v of [WIRE_VERSION + 1, 0, "1", undefined]) {
      const s = await raw(n.url);
      s.frame({ ...HELLO, v });
      await refused(s, "KV_VERSION_MISMATCH");
    }
    await stillServes(n);
  });

  it("refuses a request, a peer message or an unknown frame before hello, and bad peer hellos, with KV_PROTOCOL", async () => {
    const n = await node();
    const before = [
      { t: "req", req: { id: "1", op: "get", key: "k" } },
      { t: "msg", m: {} },
      { t: "status", id: "s" },
      { t: "frobnicate" },
      { no: "type" },
      { t: "hello", v: WIRE_VERSION, role: "peer", token: TOKEN, codec: "json" }, // a peer without an id
      { t: "hello", v: WIRE_VERSION, role: "peer", id: "n1", token: TOKEN, codec: "json" }, // this node's own id
      [1, 2, 3],
      "just a string",
      null,
    ];
    for (const f of before) {
      const s = await raw(n.url);
      s.frame(f);
      await refused(s, "KV_PROTOCOL");
    }
    await stillServes(n);
  });

  it("refuses unknown frame types and peer messages on client connections after hello", async () => {
    const n = await node();
    for (const f of [{ t: "frobnicate" }, HELLO, { t: "msg", m: 1 }, { t: "welcome" }, {}, 7]) {
      const s = await raw(n.url);
      s.frame(HELLO);
      await s.next((x) => x.t === "welcome");
      s.frame(f);
      await refused(s, "KV_PROTOCOL");
    }
    expect(n.peerMessages).toEqual([]);
    await stillServes(n);
  });

  it("a client token (or the admin token) does not open a peer connection: KV_UNAUTHORIZED", async () => {
    const n = await node({ peers: { n2: "ws://127.0.0.1:9" } });
    for (const token of [TOKEN, ADMIN, MEMORY_NODE_PEER_TOKEN]) {
      // Even the peer token itself, sent as a token, is refused: a peer proves it holds the token, never sends it.
      const s = await raw(n.url);
      s.frame({ t: "hello", v: WIRE_VERSION, role: "peer", id: "n2", token, codec: "json" });
      await refused(s, "KV_UNAUTHORIZED");
    }
    await stillServes(n);
  });

  it("refuses a peer hello that is not a member, proves the wrong key or id, is stale, or is replayed", async () => {
    const n = await node({ peers: { n2: "ws://127.0.0.1:9" } });
    const hello = (o: { id?: string; key?: string; to?: string; ts?: number; nonce?: string } = {}) => {
      const id = o.id ?? "n2";
      const ts = o.ts ?? Date.now();
      const nonce = o.nonce ?? newNonce();
      return {
        t: "hello",
        v: WIRE_VERSION,
        role: "peer",
        id,
        codec: "json",
        ts,
        nonce,
        proof: peerProof(o.key ?? MEMORY_NODE_PEER_TOKEN, id, o.to ?? "n1", ts, nonce),
      };
    };
    const attempt = async (frame: object) => {
      const s = await raw(n.url);
      s.frame(frame);
      await s.next((f) => f.t === "welcome" || f.t === "error");
      return s;
    };
    // A good proof from a member is welcomed...
    const good = hello({ nonce: "nonce-1" });
    expect((await attempt(good)).frames[0]).toMatchObject({ t: "welcome", id: "n1" });
    // ...once: the same hello again is a replay.
    await refused(await attempt(good), "KV_UNAUTHORIZED");
    for (const bad of [
      hello({ id: "n9" }), // a valid proof, for a node that is not a member
      hello({ key: TOKEN }), // made with the client token
      hello({ to: "n3" }), // made for another node
      { ...hello(), id: "n3" }, // proof for n2, claiming n3 (not a member either)
      hello({ ts: Date.now() - 10 * 60_000 }), // stale
      { ...hello(), proof: undefined },
    ]) {
      const s = await attempt(bad);
      expect(s.frames[0]).toMatchObject({ t: "error", code: "KV_UNAUTHORIZED" });
      await refused(s, "KV_UNAUTHORIZED");
    }
    await stillServes(n);
  });

  it("answers a value over the 1 MiB limit KV_TOO_LARGE on the open connection (the frame limit is above it)", async () => {
    const n = await node();
    const s = await raw(n.url);
    s.frame(HELLO);
    await s.next((f) => f.t === "welcome");
    s.frame({ t: "req", req: { id: "1", op: "put", key: "k", value: "x".repeat(2 * 1024 * 1024) } });
    expect((await s.next((f) => f.t === "rep")).rep).toMatchObject({
      id: "1",
      ok: false,
      error: { code: "KV_TOO_LARGE" },
    });
    s.frame({ t: "req", req: { id: "2", op: "put", key: "k", value: "v" } });
    const two = await s.next((f) => f.t === "rep" && (f.rep as { id: string }).id === "2");
    expect(two.rep).toMatchObject({ ok: true });
    expect(s.closed).toBeUndefined();
  });

  it("refuses random bytes and truncated frames with KV_PROTOCOL (or ws's own close)", async () => {
    const n = await node();
    const hello = encodeFrame(HELLO, "msgpack") as Buffer;
    const inputs: [Buffer | string, boolean][] = [
      [randomBytes(64), true],
      [Buffer.from([0xc1]), true], // never-used msgpack byte
      [hello.subarray(0, hello.length - 3), true], // truncated msgpack
      [JSON.stringify(HELLO).slice(0, 20), false], // truncated JSON
      ["{]", false],
      [Buffer.alloc(0), true],
      [Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), true], // array32 claiming 4G elements
      [Buffer.from([0xc4, 0x03, 1, 2, 3]), true], // bin8: a Buffer is not plain data
      [Buffer.from([0xd6, 0xff, 0, 0, 0, 1]), true], // timestamp ext: a Date is not plain data
      ["[".repeat(100_000), false], // deep nesting
    ];
    for (const [data, binary] of inputs) {
      const s = await raw(n.url);
      s.bytes(data, binary);
      await refused(s, "KV_PROTOCOL");
    }
    // Invalid UTF-8 in a text frame is caught by ws itself (close 1007) before our decoder sees it.
    const s = await raw(n.url);
    s.bytes(Buffer.from([0xff, 0xfe, 0xfd]), false);
    expect((await s.waitClosed()).code).toBe(1007);
    await stillServes(n);
  });

  it("refuses an oversized frame before buffering it (close 1009)", async () => {
    const n = await node({ maxPayload: 64 * 1024 });
    const s = await raw(n.url);
    s.frame(HELLO);
    await s.next((f) => f.t === "welcome");
    s.frame({ t: "req", req: { id: "big", op: "put", key: "k", value: "x".repeat(100 * 1024) } });
    expect((await s.waitClosed()).code).toBe(CLOSE_CODES.TOO_BIG);
    await stillServes(n);
  });

  it("answers bad requests with their code and keeps the connection open", async () => {
    const n = await node();
    const s = await raw(n.url);
    s.frame(HELLO);
    const cases: [Record<string, unknown>, string][] = [
      [{ op: "explode", key: "k" }, "KV_UNKNOWN_OP"],
      [{ op: "get", key: "" }, "KV_INVALID_KEY"],
      [{ op: "get", key: 5 }, "KV_INVALID_KEY"],
      [{ op: "get", key: "k".repeat(2000) }, "KV_TOO_LARGE"],
      [{ op: "put", key: "k" }, "KV_INVALID_VALUE"],
      [{ op: "put", key: "k", value: { nested: true } }, "KV_INVALID_VALUE"],
      [{ op: "put", key: "k", value: "v".repeat(1024 * 1024 + 1) }, "KV_TOO_LARGE"],
      [{ op: "cas", key: "k", value: "v" }, "KV_INVALID_VALUE"],
      // Lone surrogates (JSON frames carry them as \ud800 escapes): not well-formed Unicode, refused, not replaced.
      [{ op: "put", key: "k", value: "a\ud800" }, "KV_INVALID_VALUE"],
      [{ op: "cas", key: "k", value: "v", expected: "\udc00" }, "KV_INVALID_VALUE"],
      [{ op: "get", key: "\ud800k" }, "KV_INVALID_KEY"],
      [{ op: "get", key: "k", options: { read: "psychic" } }, "KV_INVALID_ARGUMENT"],
      [{ op: "get", key: "k", options: "fast" }, "KV_INVALID_ARGUMENT"],
      [{ op: "put", key: "k", value: "v", session: { clientId: "c", seq: -1 } }, "KV_INVALID_ARGUMENT"],
      [{ op: "put", key: "k", value: "v", session: "mine" }, "KV_INVALID_ARGUMENT"],
    ];
    for (const [i, [req]] of cases.entries()) s.frame({ t: "req", req: { id: `r${i}`, ...req } });
    for (const [i, [, code]] of cases.entries()) {
      const rep = (await s.next((f) => f.t === "rep" && (f.rep as { id: string }).id === `r${i}`)).rep;
      expect(rep, JSON.stringify(cases[i]![0]).slice(0, 80)).toMatchObject({ ok: false, error: { code } });
    }
    expect(s.closed).toBeUndefined();
    // A request without a usable id cannot be answered: that is a protocol error.
    s.frame({ t: "req", req: { op: "get", key: "k" } });
    await refused(s, "KV_PROTOCOL");
    await stillServes(n);
  });

  it("closes connections that never say hello, and survives raw TCP garbage", async () => {
    const n = await node({ handshakeTimeoutMs: 100 });
    const idle = await raw(n.url);
    await refused(idle, "KV_PROTOCOL");
    await new Promise<void>((resolve) => {
      const sock = connect(n.port, "127.0.0.1", () => {
        sock.write(randomBytes(4096));
        sock.end();
      });
      sock.resume(); // Consume the 400 reply so 'close' can fire.
      sock.on("error", () => resolve());
      sock.on("close", () => resolve());
    });
    await stillServes(n);
  });

  it("closes a connection that sends requests but never reads its replies", async () => {
    const n = await node();
    const s = await raw(n.url);
    s.frame(HELLO);
    s.frame({ t: "req", req: { id: "big", op: "put", key: "big", value: "x".repeat(1024 * 1024) } });
    await s.next((f) => f.t === "rep");
    s.ws.pause(); // stop reading: replies pile up on the node's side
    for (let i = 0; i < 60; i++) s.frame({ t: "req", req: { id: `g${i}`, op: "get", key: "big" } });
    await waitFor(() => n.transport.stats().refused === 1, 10_000, "slow reader cut off");
    s.ws.resume();
    await s.waitClosed();
    expect(s.frames.filter((f) => f.t === "rep").length).toBeLessThan(61);
    await stillServes(n);
  });

  it("keeps serving a good client through a flood of 200 connections, holding at most 64 before hello", async () => {
    const n = await node();
    const flood: RawSocket[] = [];
    for (let i = 0; i < 200; i++) flood.push(await raw(n.url));
    // Half stay silent, half send garbage.
    flood.forEach((s, i) => {
      if (i % 2 === 0) s.bytes(randomBytes(32));
    });
    await stillServes(n);
    await waitFor(() => flood.filter((s, i) => i % 2 === 0 && s.closed !== undefined).length === 100);
    // The silent ones beyond the cap were closed oldest first with a coded refusal; the newest are still waiting.
    await waitFor(() => flood.filter((s) => s.closed === undefined).length <= 64);
    const evicted = flood.filter((s, i) => i % 2 === 1 && s.closed !== undefined);
    expect(evicted.length).toBeGreaterThan(0);
    for (const s of evicted) expect(s.closed!.code === 4004 || s.closed!.code === 4003).toBe(true);
    expect(flood.at(-1)!.closed).toBeUndefined();
  });

  it("refuses connections past maxConnections with KV_OVERLOADED and keeps serving those it holds", async () => {
    const n = await node({ maxConnections: 3 });
    const held: RawSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await raw(n.url);
      s.frame(HELLO);
      await s.next((f) => f.t === "welcome");
      held.push(s);
    }
    const extra = await raw(n.url);
    expect(await extra.next((f) => f.t === "error")).toMatchObject({ code: "KV_OVERLOADED" });
    expect((await extra.waitClosed()).code).toBe(4004);
    held[0]!.frame({ t: "req", req: { id: "1", op: "put", key: "k", value: "v" } });
    expect((await held[0]!.next((f) => f.t === "rep")).rep).toMatchObject({ ok: true });
    held[0]!.close();
    await waitFor(() => n.transport.stats().clients < 3);
    await stillServes(n);
  });
});
