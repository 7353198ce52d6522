import { describe, expect, it } from "vitest";
import { TraceHash } from "./trace-hash.js";

describe("TraceHash", () => {
  it("is FNV-1a 64: the empty digest is the offset basis", () => {
    expect(new TraceHash().hex()).toBe("cbf29ce484222325");
  });

  it("matches a BigInt FNV-1a 64 over the same 16-bit units", () => {
    const units = [0, 1, 0xffff, 0x1234, 42, 0x8000];
    let ref = 0xcbf29ce484222325n;
    for (const u of units) {
      ref ^= BigInt(u);
      ref = (ref * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    const h = new TraceHash();
    for (let i = 0; i < units.length; i += 2) h.u32((units[i]! | (units[i + 1]! << 16)) >>> 0);
    expect(h.hex()).toBe(ref.toString(16).padStart(16, "0"));
  });

  it("separates strings by length", () => {
    const a = new TraceHash();
    a.str("ab");
    a.str("c");
    const b = new TraceHash();
    b.str("a");
    b.str("bc");
    expect(a.hex()).not.toBe(b.hex());
  });
});
