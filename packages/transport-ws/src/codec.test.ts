import { describe, expect, it } from "vitest";
import { tokenEquals } from "./auth.js";
import { codecOf, DecodeError, decodeFrame, encodeFrame } from "./codec.js";
import { ProtocolError, parseHello, parseRequest } from "./frame-validation.js";
import { WIRE_VERSION } from "./wire.js";

const sample = {
  t: "msg",
  m: {
    type: "append-request",
    term: 3,
    prev: [10, 2],
    entries: [{ i: 11, v: "x".repeat(64) }],
    big: 2 ** 40,
    neg: -1.5,
    none: null,
  },
};

describe("codec", () => {
  it.each(["json", "msgpack"] as const)("round-trips plain data with %s", (codec) => {
    const enc = encodeFrame(sample, codec);
    expect(typeof enc === "string").toBe(codec === "json");
    expect(decodeFrame(Buffer.from(enc), codec === "msgpack")).toEqual(sample);
    expect(codecOf(codec === "msgpack")).toBe(codec);
  });

  it("decodes a large 64-bit integer as a number, not a BigInt", () => {
    expect(decodeFrame(Buffer.from([0xcf, 0, 0, 1, 0, 0, 0, 0, 0]), true)).toBe(2 ** 40);
  });

  it("rejects what is not plain data or cannot be decoded", () => {
    const bad: [Buffer, boolean][] = [
      [Buffer.from("{"), false],
      [Buffer.from("NaN"), false],
      [Buffer.from([0xc1]), true],
      [Buffer.from([0xc4, 1, 0]), true], // bin: a Buffer
      [Buffer.from([0xd6, 0xff, 0, 0, 0, 0]), true], // timestamp: a Date
      [Buffer.from([0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]), true], // float64 Infinity
      [Buffer.from("[".repeat(70) + "]".repeat(70)), false], // deeper than MAX_DEPTH
    ];
    for (const [data, binary] of bad)
      expect(() => decodeFrame(data, binary), data.toString("hex")).toThrow(DecodeError);
  });

  it("keeps a __proto__ key from the wire as plain data without changing prototypes", () => {
    const f = decodeFrame(Buffer.from('{"t":"req","__proto__":{"polluted":true}}'), false) as Record<
      string,
      unknown
    >;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(f)).toBe(Object.prototype);
  });
});

describe("frame validation", () => {
  it("accepts a hello and fills the codec from the frame when absent", () => {
    expect(
      parseHello({ t: "hello", v: WIRE_VERSION, role: "peer", id: "n2", token: "x" }, "msgpack"),
    ).toEqual({
      t: "hello",
      v: WIRE_VERSION,
      role: "peer",
      id: "n2",
      token: "x",
      codec: "msgpack",
    });
  });

  it("refuses a peer hello without an id, an unknown role and a wrong version by code", () => {
    const code = (f: unknown) => {
      try {
        parseHello(f, "json");
      } catch (e) {
        return (e as ProtocolError).code;
      }
      return "accepted";
    };
    expect(code({ t: "hello", v: WIRE_VERSION, role: "peer", token: "x" })).toBe("KV_PROTOCOL");
    expect(code({ t: "hello", v: WIRE_VERSION, role: "root", token: "x" })).toBe("KV_PROTOCOL");
    expect(code({ t: "hello", v: 99, role: "client", token: "x" })).toBe("KV_VERSION_MISMATCH");
  });

  it("copies only known request fields", () => {
    const req = parseRequest({
      id: "1",
      op: "put",
      key: "k",
      value: "v",
      junk: 1,
      options: { read: "lease", evil: true },
      session: { clientId: "c", seq: 3, token: "t", x: 1 },
    });
    expect(req).toEqual({
      id: "1",
      op: "put",
      key: "k",
      value: "v",
      options: { read: "lease" },
      session: { clientId: "c", seq: 3, token: "t" },
    });
    expect(() => parseRequest({ op: "get", key: "k" })).toThrow(ProtocolError);
  });

  it("compares tokens exactly", () => {
    expect(tokenEquals("secret", "secret")).toBe(true);
    expect(tokenEquals("secret ", "secret")).toBe(false);
    expect(tokenEquals(undefined, "secret")).toBe(false);
    expect(tokenEquals("", "")).toBe(false);
  });
});
