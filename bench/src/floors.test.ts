import { describe, expect, it } from "vitest";
import { floorMs } from "./floors.js";

describe("floorMs", () => {
  it("charges one majority round trip to consensus writes and linearizable reads", () => {
    expect(floorMs("raft", {}, {}, "put", 20)).toBe(40);
    expect(floorMs("raft", {}, {}, "get", 20)).toBe(40);
    expect(floorMs("raft", {}, { read: "lease" }, "get", 20)).toBe(0);
  });
  it("lets local-accept paths go free", () => {
    expect(floorMs("causal", {}, {}, "put", 50)).toBe(0);
    expect(floorMs("multi-leader", {}, {}, "put", 50)).toBe(0);
    expect(floorMs("quorum", { r: 1, w: 1 }, {}, "put", 50)).toBe(0);
    expect(floorMs("quorum", {}, {}, "put", 50)).toBe(100);
    expect(floorMs("quorum", {}, {}, "cas", 10)).toBe(40);
  });
});
