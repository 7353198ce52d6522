/**
 * Fuzz run of the WebSocket endpoint: at least 100,000 random and mutated frames received by a live node (a MemoryNode:
 * WsTransport + the reference engine) on loopback, from many concurrent connections — random bytes, invalid
 * UTF-8, truncated and bit-flipped encodings of valid frames, structurally valid frames with wrong field types,
 * oversized frames, requests before hello, wrong tokens, peer and admin sessions. Afterwards a well-behaved
 * client must still be served. Prints the counts; exits 1 if the node stopped serving or threw.
 *
 * Not part of `pnpm test` (it takes tens of seconds). Run:
 *   pnpm turbo run build --filter=@consistency-lab/bench... && node bench/dist/reliability/fuzz.js
 * Env: FUZZ_SEED (default 1), FUZZ_FRAMES (default 100000), FUZZ_MAX_MS (default 180000).
 */

import {
  decodeFrame,
  encodeFrame,
  KvClient,
  MemoryNode,
  WebSocket,
  WIRE_VERSION,
} from "@consistency-lab/client";
import { Rng } from "@consistency-lab/kv";

const SEED = Number(process.env.FUZZ_SEED ?? 1);
const TARGET = Number(process.env.FUZZ_FRAMES ?? 100_000);
const MAX_MS = Number(process.env.FUZZ_MAX_MS ?? 180_000);
const WORKERS = 16;
const TOKEN = "fuzz-cluster-token";
const ADMIN = "fuzz-admin-token";
const MAX_PAYLOAD = 256 * 1024;

const rng = new Rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;

let uncaught = 0;
process.on("uncaughtException", (e) => {
  uncaught++;
  console.error("uncaught:", e);
});
process.on("unhandledRejection", (e) => {
  uncaught++;
  console.error("unhandled rejection:", e);
});

// --- generators ---------------------------------------------------------------------------------------------

const KEYS = [
  "t",
  "v",
  "role",
  "token",
  "codec",
  "id",
  "req",
  "op",
  "key",
  "value",
  "expected",
  "options",
  "session",
  "cmd",
  "command",
  "args",
  "type",
  "to",
  "ms",
  "rate",
  "jitterMs",
  "dist",
  "m",
  "clientId",
  "seq",
  "read",
  "r",
  "w",
  "__proto__",
  "constructor",
  "toString",
  "length",
];
const STRINGS = [
  "",
  "hello",
  "req",
  "msg",
  "status",
  "admin",
  "fault",
  "rep",
  "welcome",
  "error",
  "get",
  "put",
  "delete",
  "cas",
  "client",
  "peer",
  "json",
  "msgpack",
  TOKEN,
  ADMIN,
  "partition",
  "heal",
  "delay",
  "loss",
  "*",
  "n1",
  "\u0000",
  "\ud800",
  "💥",
  "x".repeat(2000),
];

function randomString(): string {
  if (rng.chance(0.5)) return pick(STRINGS);
  const n = rng.int(40);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.9) ? 32 + rng.int(95) : rng.int(0x10000));
  return s;
}

function randomValue(depth = 0): unknown {
  const k = rng.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return pick([
        0,
        1,
        -1,
        2 ** 31,
        2 ** 53 + 2,
        -(2 ** 63),
        1.5,
        1e308,
        WIRE_VERSION,
        WIRE_VERSION + 1,
        rng.int(1000),
      ]);
    case 3:
    case 4:
      return randomString();
    case 5:
      return Array.from({ length: rng.int(5) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(6); i > 0; i--)
        Object.defineProperty(o, pick(KEYS), {
          value: randomValue(depth + 1),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      return o;
    }
  }
}

let reqNo = 0;
function validRequest(): object {
  const id = `q${++reqNo}`;
  const op = pick(["get", "put", "delete", "cas"]);
  const key = pick(["a", "b", "c", `k${rng.int(100)}`]);
  const req: Record<string, unknown> = { id, op, key };
  if (op === "put" || op === "cas") req.value = randomString();
  if (op === "cas") req.expected = rng.chance(0.3) ? null : randomString();
  if (rng.chance(0.3)) req.session = { clientId: "fuzzer", seq: rng.int(1000) };
  if (rng.chance(0.2)) req.options = { read: pick(["linearizable", "lease", "stale", "bogus"]) };
  return { t: "req", req };
}

function template(): Record<string, unknown> {
  switch (rng.int(8)) {
    case 0:
      return {
        t: "hello",
        v: WIRE_VERSION,
        role: pick(["client", "admin", "peer"]),
        id: "n9",
        token: pick([TOKEN, ADMIN, "nope"]),
        codec: pick(["json", "msgpack"]),
      };
    case 1:
    case 2:
      return validRequest() as Record<string, unknown>;
    case 3:
      return { t: "status", id: `s${rng.int(100)}` };
    case 4:
      return { t: "admin", cmd: { id: `a${rng.int(100)}`, command: "transfer-leader", args: { to: "n2" } } };
    case 5:
      return {
        t: "fault",
        id: "f",
        cmd: pick([
          { type: "heal" },
          { type: "loss", to: "p2", rate: 0.5 },
          { type: "partition", to: ["p2"] },
          { type: "delay", ms: 5, jitterMs: 2, dist: "exponential" },
        ]),
      };
    case 6:
      return { t: "msg", m: randomValue() };
    default:
      return { t: randomString(), [pick(KEYS)]: randomValue() };
  }
}

/** mutateObject changes, removes or adds one field somewhere in a frame (type confusion, missing fields). */
function mutateObject(o: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  const keys = Object.keys(out);
  const r = rng.int(4);
  if (r === 0 && keys.length > 0) delete out[pick(keys)];
  else if (r === 1 || keys.length === 0) out[pick(KEYS)] = randomValue();
  else {
    const k = pick(keys);
    const v = out[k];
    out[k] =
      v !== null && typeof v === "object" && !Array.isArray(v) && depth < 3 && rng.chance(0.6)
        ? mutateObject(v as Record<string, unknown>, depth + 1)
        : randomValue();
  }
  return out;
}

/** mutateBytes flips, truncates, inserts or duplicates bytes of an encoded frame. */
function mutateBytes(b: Buffer): Buffer {
  const buf = Buffer.from(b);
  switch (rng.int(5)) {
    case 0:
      for (let i = 1 + rng.int(4); i > 0 && buf.length > 0; i--) buf[rng.int(buf.length)]! ^= 1 << rng.int(8);
      return buf;
    case 1:
      return buf.subarray(0, rng.int(Math.max(1, buf.length)));
    case 2: {
      const at = rng.int(buf.length + 1);
      return Buffer.concat([buf.subarray(0, at), randomBytes(1 + rng.int(8)), buf.subarray(at)]);
    }
    case 3: {
      // Interesting msgpack headers: huge lengths, ext types, reserved byte.
      const at = rng.int(buf.length + 1);
      const hdr = pick([
        [0xc1],
        [0xdd, 0xff, 0xff, 0xff, 0xff],
        [0xdf, 0x7f, 0xff, 0xff, 0xff],
        [0xdb, 0xff, 0xff, 0xff, 0xf0],
        [0xc7, 0xff, 0x01],
        [0xd4, 0x72, 0x00],
        [0xd6, 0xff, 0, 0, 0, 0],
        [0xc4, 0x02, 1, 2],
        [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      ]);
      return Buffer.concat([buf.subarray(0, at), Buffer.from(hdr), buf.subarray(at)]);
    }
    default:
      return Buffer.concat([buf, buf.subarray(rng.int(Math.max(1, buf.length)))]);
  }
}

function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

type Frame = { data: Buffer | string; binary: boolean; kind: string };

function encoded(o: unknown, codec: "json" | "msgpack"): Frame {
  const e = encodeFrame(o, codec);
  return { data: e, binary: codec === "msgpack", kind: "" };
}

function fuzzFrame(): Frame {
  const codec = rng.chance(0.5) ? "msgpack" : "json";
  const r = rng.next();
  // Mutated requests mostly earn a coded reply on an open connection, so the session goes on to the next frame.
  if (rng.chance(0.35)) {
    const req = validRequest() as { t: string; req: Record<string, unknown> };
    return { ...encoded({ t: "req", req: mutateObject(req.req) }, codec), kind: "mutated-request" };
  }
  if (r < 0.3) return { ...encoded(mutateObject(template()), codec), kind: "mutated-object" };
  if (r < 0.55) {
    const e = encoded(template(), codec);
    return {
      data: mutateBytes(Buffer.from(e.data)),
      binary: rng.chance(0.85) ? e.binary : !e.binary,
      kind: "mutated-bytes",
    };
  }
  if (r < 0.68) return { data: randomBytes(rng.int(300)), binary: true, kind: "random-bytes" };
  if (r < 0.75) return { data: randomBytes(rng.int(100)), binary: false, kind: "random-text" };
  if (r < 0.752)
    return {
      data: Buffer.alloc(MAX_PAYLOAD + 1 + rng.int(1024), 0x61),
      binary: rng.chance(0.5),
      kind: "oversized",
    };
  if (r < 0.85) return { ...encoded(randomValue(), codec), kind: "random-value" };
  return { ...encoded(validRequest(), codec), kind: "valid-request" };
}

// --- the run ------------------------------------------------------------------------------------------------

const counts = {
  frames: 0,
  connections: 0,
  connectFailures: 0,
  welcomes: 0,
  repOk: 0,
  repError: {} as Record<string, number>,
  errorFrames: {} as Record<string, number>,
  closeCodes: {} as Record<string, number>,
  kinds: {} as Record<string, number>,
};
const inc = (o: Record<string, number>, k: string) => {
  o[k] = (o[k] ?? 0) + 1;
};

const node = await MemoryNode.start({
  id: "n1",
  token: TOKEN,
  adminToken: ADMIN,
  maxPayload: MAX_PAYLOAD,
  handshakeTimeoutMs: 1000,
  peers: { p2: "ws://127.0.0.1:9" },
  backoffBaseMs: 1000,
  backoffMaxMs: 5000,
});
node.onPeerMessage = () => {
  node.peerMessages.length = 0;
};
const url = node.url;
const started = Date.now();
console.log(`fuzz: seed ${SEED}, target ${TARGET} frames at ${url}, ${WORKERS} concurrent connections`);

async function session(): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
  counts.connections++;
  let lastActivity = Date.now();
  let closed = false;
  ws.on("message", (data, isBinary) => {
    lastActivity = Date.now();
    let f: Record<string, unknown>;
    try {
      f = (decodeFrame(data as Buffer, isBinary) as Record<string, unknown>) ?? {};
    } catch {
      f = { t: "undecodable" };
    }
    if (f.t === "welcome") counts.welcomes++;
    else if (f.t === "rep") {
      const rep = f.rep as { ok?: boolean; error?: { code?: string } };
      if (rep?.ok) counts.repOk++;
      else inc(counts.repError, String(rep?.error?.code));
    } else if (f.t === "error") inc(counts.errorFrames, String(f.code));
  });
  const done = new Promise<void>((resolve) => {
    ws.on("close", (code) => {
      closed = true;
      inc(counts.closeCodes, String(code));
      resolve();
    });
    ws.on("error", () => {
      // 'close' follows.
    });
  });
  const opened = await new Promise<boolean>((resolve) => {
    ws.once("open", () => resolve(true));
    ws.once("close", () => resolve(false));
  });
  if (!opened) {
    counts.connectFailures++;
    return;
  }
  const frames: Frame[] = [];
  const p = rng.next();
  if (p < 0.55)
    frames.push({
      ...encoded({ t: "hello", v: WIRE_VERSION, role: "client", token: TOKEN, codec: "json" }, "json"),
      kind: "hello",
    });
  else if (p < 0.62)
    frames.push({
      ...encoded({ t: "hello", v: WIRE_VERSION, role: "admin", token: ADMIN, codec: "msgpack" }, "msgpack"),
      kind: "hello",
    });
  else if (p < 0.7)
    frames.push({
      ...encoded(
        { t: "hello", v: WIRE_VERSION, role: "peer", id: "p2", token: TOKEN, codec: "json" },
        "json",
      ),
      kind: "hello",
    });
  else if (p < 0.8) frames.push({ ...encoded(mutateObject(template()), "json"), kind: "bad-hello" });
  for (let i = 1 + rng.int(12); i > 0; i--) frames.push(fuzzFrame());
  const written: Promise<void>[] = [];
  for (const f of frames) {
    if (closed || ws.readyState !== WebSocket.OPEN) break;
    counts.frames++;
    inc(counts.kinds, f.kind);
    written.push(new Promise((resolve) => ws.send(f.data, { binary: f.binary }, () => resolve())));
  }
  await Promise.all(written);
  lastActivity = Date.now();
  // Wait for the node to answer or close: until 20 ms pass without a frame (at most 2 s), then hang up.
  const deadline = Date.now() + 2000;
  while (!closed && Date.now() < deadline && Date.now() - lastActivity < 20)
    await new Promise((r) => setTimeout(r, 5));
  if (!closed) ws.terminate();
  await done;
}

// The target counts frames the node actually received: frames written after the node closed a connection (its
// answer to the first fatal frame) never reach it and do not count.
const received = () => node.transport.stats().framesIn;
async function worker(): Promise<void> {
  while (received() < TARGET && Date.now() - started < MAX_MS) await session();
}
await Promise.all(Array.from({ length: WORKERS }, worker));
const elapsed = (Date.now() - started) / 1000;

// A well-behaved client afterwards.
const client = new KvClient({ endpoints: [url], token: TOKEN, timeoutMs: 5000 });
let healthy = false;
try {
  await client.put("after-fuzz", "still serving");
  healthy = (await client.get("after-fuzz")).value === "still serving";
} catch (e) {
  console.error("well-behaved client failed:", e);
}
await client.close();
const stats = node.transport.stats();
await node.close();

const sorted = (o: Record<string, number>) =>
  Object.fromEntries(Object.entries(o).sort((a, b) => b[1] - a[1]));
console.log(
  `frames sent: ${counts.frames} in ${elapsed.toFixed(1)} s (${Math.round(counts.frames / elapsed)}/s) over ${counts.connections} connections (${counts.connectFailures} failed to open)`,
);
console.log("frame kinds:", sorted(counts.kinds));
console.log(
  `frames received by the node: ${stats.framesIn} (target ${TARGET}); connections refused or errored: ${stats.refused}; welcomes ${counts.welcomes}; replies ok ${counts.repOk}`,
);
console.log("coded replies (connection kept open):", sorted(counts.repError));
console.log("error frames (then closed):", sorted(counts.errorFrames));
console.log("close codes:", sorted(counts.closeCodes));
console.log(`uncaught exceptions: ${uncaught}; rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
console.log(`well-behaved client after fuzz: ${healthy ? "ok" : "FAILED"}`);
process.exit(healthy && uncaught === 0 && stats.framesIn >= TARGET ? 0 : 1);
