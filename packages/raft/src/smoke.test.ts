import { describe, expect, it } from "vitest";
import { Network } from "./testing/network.js";

describe("smoke", () => {
  it("elects and replicates", () => {
    const net = new Network(3);
    const l = net.elect();
    const id = net.request(l, { op: "put", key: "x", value: "1" });
    net.runFor(100);
    expect(net.reply(id)?.ok).toBe(true);
    const g = net.request(l, { op: "get", key: "x" });
    net.runFor(100);
    expect(net.reply(g)?.value).toBe("1");
    for (const c of net.cores.values()) expect(c.dump().get("x")).toEqual(["1"]);
  });
});
