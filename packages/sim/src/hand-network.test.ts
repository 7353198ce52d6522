import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { HandNetwork } from "./hand-network.js";
import { echoEngine, transcriptTests } from "./testing.js";

describe("HandNetwork", () => {
  it("delivers FIFO, drops on cut links and keeps a crashed node's disk", () => {
    const n = new HandNetwork({ engine: echoEngine });
    n.request("n1", { op: "put", key: "a", value: "1" });
    expect(n.inflight.map((w) => w.to)).toEqual(["n2", "n3"]);
    n.cutLink("n1", "n3");
    n.settle();
    expect(n.core("n2").dump!().get("a")).toEqual(["1"]);
    expect(n.core("n3").dump!().has("a")).toBe(false);
    n.crash("n1");
    n.restart("n1");
    expect(n.core("n1").dump!().get("a")).toEqual(["1"]);
  });

  it("clone branches the network: both halves answer the same inputs alike and independently", () => {
    const a = new HandNetwork({ engine: echoEngine });
    a.request("n1", { op: "put", key: "a", value: "1" });
    const b = a.clone();
    expect(b.inflight).toEqual(a.inflight);
    b.settle();
    a.settle();
    for (const id of a.ids) expect(b.core(id).fingerprint!()).toBe(a.core(id).fingerprint!());
    b.request("n1", { op: "put", key: "a", value: "2" });
    b.settle();
    expect(a.core("n2").dump!().get("a")).toEqual(["1"]);
    expect(b.core("n2").dump!().get("a")).toEqual(["2"]);
    expect(b.core("n2").fingerprint!()).not.toBe(a.core("n2").fingerprint!());
  });
});

transcriptTests({ describe, it, expect }, fileURLToPath(new URL("../testdata", import.meta.url)), {
  engine: echoEngine,
});
