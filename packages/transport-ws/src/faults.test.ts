import { KvError } from "@consistency-lab/kv";
import { afterEach, describe, expect, it } from "vitest";
import { applyFault, type FaultState, NO_FAULTS, parseFaultCommand, sampleDelay } from "./faults.js";
import { MemoryNode } from "./memory-node.js";
import { freePort, RawSocket, waitFor } from "./test-support.js";
import { WIRE_VERSION } from "./wire.js";

const TOKEN = "cluster-token";
const ADMIN = "admin-token";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("fault commands", () => {
  const peers = ["n2", "n3"];
  const empty: FaultState = { links: { n2: { ...NO_FAULTS }, n3: { ...NO_FAULTS } } };

  it("validates commands and names what is wrong by code", () => {
    const bad = [
      null,
      { type: "explode" },
      { type: "delay", ms: -1 },
      { type: "delay", ms: 5, dist: "pareto", jitterMs: 1 },
      { type: "loss", rate: 1.5 },
      { type: "loss", rate: 0.5, to: "n9" },
      { type: "partition", to: "n2" },
      { type: "partition", to: ["n2"], oneWay: "yes" },
    ];
    for (const b of bad) {
      expect(() => parseFaultCommand(b, "n1", peers), JSON.stringify(b)).toThrow(KvError);
    }
    expect(parseFaultCommand({ type: "partition", to: ["n1", "n2"], extra: 1 }, "n1", peers)).toEqual({
      type: "partition",
      to: ["n1", "n2"],
    });
  });

  it("sets delay, loss and one-way cuts per link; heal removes cuts and loss and keeps delay", () => {
    let s = applyFault(empty, { type: "delay", ms: 20, jitterMs: 5, dist: "exponential" }, "n1", peers);
    s = applyFault(s, { type: "loss", to: "n3", rate: 0.25 }, "n1", peers);
    s = applyFault(s, { type: "partition", to: ["n1", "n2"] }, "n1", peers);
    expect(s.links.n2).toEqual({ delayMs: 20, jitterMs: 5, dist: "exponential", loss: 0, partitioned: true });
    expect(s.links.n3).toEqual({
      delayMs: 20,
      jitterMs: 5,
      dist: "exponential",
      loss: 0.25,
      partitioned: false,
    });
    const healed = applyFault(s, { type: "heal" }, "n1", peers);
    expect(healed.links.n2).toEqual({
      delayMs: 20,
      jitterMs: 5,
      dist: "exponential",
      loss: 0,
      partitioned: false,
    });
    expect(healed.links.n3!.loss).toBe(0);
    expect(s.links.n2!.partitioned).toBe(true); // applyFault does not mutate its input
  });

  it("samples delay within the configured distribution", () => {
    const uniform = { ...NO_FAULTS, delayMs: 10, jitterMs: 4 };
    expect(sampleDelay(uniform, () => 0)).toBe(10);
    expect(sampleDelay(uniform, () => 0.5)).toBe(12);
    const exp = { ...uniform, dist: "exponential" as const };
    expect(sampleDelay(exp, () => 0)).toBe(10);
    expect(sampleDelay(exp, () => 1 - Math.exp(-1))).toBeCloseTo(14);
    expect(sampleDelay({ ...NO_FAULTS, delayMs: 7 })).toBe(7);
  });
});

describe("fault injection on live links", () => {
  async function trio() {
    const ports = [await freePort(), await freePort(), await freePort()];
    const ids = ["a", "b", "c"];
    const url = (i: number) => `ws://127.0.0.1:${ports[i]}`;
    const nodes: MemoryNode[] = [];
    for (let i = 0; i < 3; i++) {
      const peers = Object.fromEntries(ids.map((id, j) => [id, url(j)]).filter(([id]) => id !== ids[i]));
      const n = await MemoryNode.start({
        id: ids[i]!,
        token: TOKEN,
        adminToken: ADMIN,
        listen: { host: "127.0.0.1", port: ports[i]! },
        peers,
        backoffBaseMs: 10,
        backoffMaxMs: 100,
      });
      cleanups.push(() => n.close());
      nodes.push(n);
    }
    await waitFor(
      () => nodes.every((n) => n.transport.stats().peersConnected.length === 2),
      10_000,
      "links up",
    );
    return nodes as [MemoryNode, MemoryNode, MemoryNode];
  }

  it("partition drops messages on the cut link only; heal restores it", async () => {
    const [a, b, c] = await trio();
    a.transport.setFaults({ type: "partition", to: ["b"], oneWay: true });
    a.transport.send("b", "lost");
    a.transport.send("c", "to-c-1");
    b.transport.send("a", "b-to-a still works");
    await waitFor(() => c.peerMessages.length === 1 && a.peerMessages.length === 1);
    expect(a.transport.stats().dropped).toBe(1);
    a.transport.setFaults({ type: "heal" });
    a.transport.send("b", "after heal");
    a.transport.send("c", "to-c-2");
    await waitFor(() => b.peerMessages.length === 1 && c.peerMessages.length === 2);
    expect(b.peerMessages.map((m) => m.message)).toEqual(["after heal"]);
  });

  it("loss 1.0 drops everything, loss 0 nothing", async () => {
    const [a, b] = await trio();
    a.transport.setFaults({ type: "loss", to: "b", rate: 1 });
    for (let i = 0; i < 100; i++) a.transport.send("b", i);
    expect(a.transport.stats().dropped).toBe(100);
    a.transport.setFaults({ type: "loss", to: "b", rate: 0 });
    a.transport.send("b", "through");
    await waitFor(() => b.peerMessages.length === 1);
    expect(b.peerMessages[0]!.message).toBe("through");
  });

  it("delay holds messages back and keeps FIFO order; a cut while in flight drops them", async () => {
    const [a, b, c] = await trio();
    a.transport.setFaults({ type: "delay", to: "b", ms: 800 });
    for (let i = 0; i < 20; i++) a.transport.send("b", i);
    a.transport.send("c", "undelayed");
    // Ordering across links, not timing: the undelayed message overtakes all 20 delayed ones.
    await waitFor(() => c.peerMessages.length === 1);
    expect(b.peerMessages.length).toBe(0);
    await waitFor(() => b.peerMessages.length === 20);
    expect(b.peerMessages.map((m) => m.message)).toEqual([...Array(20).keys()]);
    a.transport.send("b", "in flight");
    a.transport.setFaults({ type: "partition", to: ["b"] });
    await waitFor(() => a.transport.stats().dropped === 1, 5000, "in-flight drop");
    expect(b.peerMessages.length).toBe(20);
  });

  it("keeps FIFO order when the delay is lowered while messages are held back", async () => {
    const [a, b] = await trio();
    a.transport.setFaults({ type: "delay", to: "b", ms: 300 });
    for (let i = 0; i < 5; i++) a.transport.send("b", i);
    a.transport.setFaults({ type: "delay", to: "b", ms: 0 });
    for (let i = 5; i < 10; i++) a.transport.send("b", i);
    await waitFor(() => b.peerMessages.length === 10);
    expect(b.peerMessages.map((m) => m.message)).toEqual([...Array(10).keys()]);
  });

  it("jitter delivers every message, possibly reordered", async () => {
    const [a, b] = await trio();
    a.transport.setFaults({ type: "delay", to: "b", ms: 1, jitterMs: 20, dist: "exponential" });
    for (let i = 0; i < 50; i++) a.transport.send("b", i);
    await waitFor(() => b.peerMessages.length === 50);
    expect(b.peerMessages.map((m) => m.message as number).sort((x, y) => x - y)).toEqual([
      ...Array(50).keys(),
    ]);
  });

  it("accepts fault frames only on admin connections", async () => {
    const [a, b] = await trio();
    const admin = await RawSocket.open(a.url);
    cleanups.push(() => admin.close());
    admin.frame({ t: "hello", v: WIRE_VERSION, role: "admin", token: ADMIN, codec: "json" });
    admin.frame({ t: "fault", id: "f1", cmd: { type: "partition", to: ["b"] } });
    expect((await admin.next((f) => f.t === "rep")).rep).toEqual({ id: "f1", ok: true, meta: { node: "a" } });
    expect(a.transport.faults().links.b!.partitioned).toBe(true);
    admin.frame({ t: "fault", id: "f2", cmd: { type: "loss", rate: 7 } });
    const bad = (await admin.next((f) => f.t === "rep" && (f.rep as { id: string }).id === "f2")).rep as {
      error: { code: string };
    };
    expect(bad.error.code).toBe("KV_INVALID_ARGUMENT");
    expect(admin.closed).toBeUndefined();

    // The cluster token opens client connections, never admin ones, and cannot inject faults.
    const asAdmin = await RawSocket.open(a.url);
    cleanups.push(() => asAdmin.close());
    asAdmin.frame({ t: "hello", v: WIRE_VERSION, role: "admin", token: TOKEN, codec: "json" });
    expect(await asAdmin.next()).toMatchObject({ t: "error", code: "KV_UNAUTHORIZED" });
    expect((await asAdmin.waitClosed()).code).toBe(4001);

    const asClient = await RawSocket.open(a.url);
    cleanups.push(() => asClient.close());
    asClient.frame({ t: "hello", v: WIRE_VERSION, role: "client", token: TOKEN, codec: "json" });
    asClient.frame({ t: "fault", id: "f3", cmd: { type: "heal" } });
    expect(await asClient.next((f) => f.t === "error")).toMatchObject({ code: "KV_UNAUTHORIZED" });
    expect((await asClient.waitClosed()).code).toBe(4001);
    expect(a.transport.faults().links.b!.partitioned).toBe(true);
    void b;
  });
});
