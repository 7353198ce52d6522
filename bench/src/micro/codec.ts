/**
 * Micro-benchmark of the transport's frame codecs: JSON (text frames) vs msgpackr (binary frames), encode plus
 * decode of typical engine messages through the transport's own `encodeFrame`/`decodeFrame` (so the plain-data
 * check every decoded frame gets is included for both). The faster one is the transport's default codec
 * (DEFAULTS.codec); the figures are recorded in packages/transport-ws/README.md.
 *
 * Run: `pnpm turbo run build --filter=@consistency-lab/bench... && node bench/dist/micro/codec.js`
 */
import { type Codec, DEFAULTS, decodeFrame, encodeFrame } from "@consistency-lab/client";
import { Bench } from "tinybench";

function entries(n: number, valueBytes: number, from: number) {
  return Array.from({ length: n }, (_, i) => ({
    term: 7,
    index: from + i,
    cmd: {
      id: `3/${from + i}`,
      op: "put",
      key: `user:${1000 + i}`,
      value: "v".repeat(valueBytes),
      session: { clientId: "6f1c2a9e-4b7d-4e0f-9a51-0c3f2b8d7e11", seq: from + i },
    },
  }));
}

const append = (valueBytes: number) => ({
  t: "msg",
  m: {
    type: "append-request",
    term: 7,
    leader: "n1",
    prevIndex: 41,
    prevTerm: 7,
    entries: entries(3, valueBytes, 42),
    commit: 41,
  },
});

/** The messages measured: what a Raft cluster mostly sends, plus a client request and reply. */
const MESSAGES: Record<string, object> = {
  "append 3×64 B": append(64),
  "append 3×4 KiB": append(4096),
  "append-response": { t: "msg", m: { type: "append-response", term: 7, success: true, matchIndex: 44 } },
  heartbeat: {
    t: "msg",
    m: { type: "append-request", term: 7, leader: "n1", prevIndex: 44, prevTerm: 7, entries: [], commit: 44 },
  },
  "client put 64 B": {
    t: "req",
    req: {
      id: "17.1",
      op: "put",
      key: "user:1001",
      value: "v".repeat(64),
      session: { clientId: "c1", seq: 17 },
    },
  },
  "client reply": { t: "rep", rep: { id: "17.1", ok: true, meta: { node: "n1", term: 7, index: 45 } } },
};

const CODECS: Codec[] = ["json", "msgpack"];

const bench = new Bench({ name: "frame codec: encode + decode", time: 400, warmupTime: 100 });
const sizes: Record<string, Record<Codec, number>> = {};
for (const [name, msg] of Object.entries(MESSAGES)) {
  sizes[name] = { json: 0, msgpack: 0 };
  for (const codec of CODECS) {
    const binary = codec === "msgpack";
    const once = encodeFrame(msg, codec);
    sizes[name][codec] = Buffer.byteLength(once);
    bench.add(`${codec} ${name}`, () => {
      const enc = encodeFrame(msg, codec);
      decodeFrame(typeof enc === "string" ? Buffer.from(enc) : enc, binary);
    });
  }
}
await bench.run();

const hz = (name: string) => {
  const r = bench.tasks.find((t) => t.name === name)?.result as
    | { throughput?: { mean?: number }; period?: number }
    | undefined;
  return r?.throughput?.mean ?? (r?.period ? 1000 / r.period : 0);
};
console.log(`${bench.name} (ops/s, higher is better; bytes per frame)`);
console.log("| message | json ops/s | msgpack ops/s | msgpack/json | json B | msgpack B |");
console.log("|---|---:|---:|---:|---:|---:|");
let sumLogRatio = 0;
for (const name of Object.keys(MESSAGES)) {
  const j = hz(`json ${name}`);
  const m = hz(`msgpack ${name}`);
  sumLogRatio += Math.log(m / j);
  console.log(
    `| ${name} | ${Math.round(j).toLocaleString("en-US")} | ${Math.round(m).toLocaleString("en-US")} | ${(m / j).toFixed(2)}× | ${sizes[name]!.json} | ${sizes[name]!.msgpack} |`,
  );
}
const geo = Math.exp(sumLogRatio / Object.keys(MESSAGES).length);
const faster: Codec = geo >= 1 ? "msgpack" : "json";
console.log(
  `geometric mean msgpack/json: ${geo.toFixed(2)}× → faster: ${faster}; transport default: ${DEFAULTS.codec}`,
);
if (faster !== DEFAULTS.codec) console.log("the default codec is not the faster one on this machine");
