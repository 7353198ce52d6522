import { describe, expect, it } from "vitest";
import { parseEndpoints, parseHostPort, parsePeers } from "./config.js";

describe("config parsing", () => {
  it("parses HOST:PORT forms", () => {
    expect(parseHostPort("127.0.0.1:7101")).toEqual({ host: "127.0.0.1", port: 7101 });
    expect(parseHostPort(":7101")).toEqual({ host: "127.0.0.1", port: 7101 });
    expect(parseHostPort("7101")).toEqual({ host: "127.0.0.1", port: 7101 });
    expect(parseHostPort("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(() => parseHostPort("host:99999")).toThrow(TypeError);
    expect(() => parseHostPort("host")).toThrow(TypeError);
  });

  it("parses peers and refuses malformed ones", () => {
    expect(parsePeers("n2=ws://127.0.0.1:7102, n3=ws://127.0.0.1:7103/")).toEqual({
      n2: "ws://127.0.0.1:7102",
      n3: "ws://127.0.0.1:7103",
    });
    expect(parsePeers("")).toEqual({});
    expect(() => parsePeers("n2")).toThrow(TypeError);
    expect(() => parsePeers("n2=http://x:1")).toThrow(TypeError);
    expect(() => parsePeers("n2=ws://a:1,n2=ws://b:2")).toThrow(TypeError);
  });

  it("parses endpoint lists", () => {
    expect(parseEndpoints("ws://a:1,wss://b:2")).toEqual(["ws://a:1", "wss://b:2"]);
    expect(() => parseEndpoints(" , ")).toThrow(TypeError);
  });
});
