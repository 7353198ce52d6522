import { type ClientRequest, type HistoryEvent, KvError } from "@consistency-lab/kv";
import { MemoryNode } from "@consistency-lab/transport-ws";
import { afterEach, describe, expect, it } from "vitest";
import { connectAdmin } from "./admin-client.js";
import { type ClientOptions, KvClient } from "./kv-client.js";

const TOKEN = "cluster-token";
const ADMIN = "admin-token";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(
  o: Partial<Parameters<typeof MemoryNode.start>[0]> & { id: string },
): Promise<MemoryNode> {
  const n = await MemoryNode.start({ token: TOKEN, adminToken: ADMIN, ...o });
  cleanups.push(() => n.close());
  return n;
}

function kv(o: Partial<ClientOptions> & { endpoints: string[] }): KvClient {
  const c = new KvClient({ token: TOKEN, timeoutMs: 2000, ...o });
  cleanups.push(() => c.close());
  return c;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KvError) return e.code;
    throw e;
  }
  throw new Error("expected a KvError");
}

/** Checks §4 well-formedness of one process's events: invoke, then exactly one completion, in time order. */
function expectWellFormed(events: HistoryEvent[]): void {
  let open: HistoryEvent | undefined;
  let lastTime = -1;
  for (const e of events) {
    expect(typeof e.time).toBe("number");
    expect(e.time!).toBeGreaterThanOrEqual(lastTime);
    lastTime = e.time!;
    if (e.type === "invoke") {
      expect(open).toBeUndefined();
      open = e;
    } else {
      expect(open).toBeDefined();
      expect(e.f).toBe(open!.f);
      expect(e.key).toBe(open!.key);
      expect(e.process).toBe(open!.process);
      open = undefined;
    }
  }
  expect(open).toBeUndefined();
}

describe("KvClient", () => {
  it("puts, gets, cas-es and deletes against a node, recording a well-formed history", async () => {
    const n = await node({ id: "n1" });
    const events: HistoryEvent[] = [];
    const c = kv({ endpoints: [n.url], record: (e) => events.push(e), process: 7 });
    await c.put("k", "v1");
    expect((await c.get("k")).value).toBe("v1");
    expect((await c.cas("k", "v1", "v2")).swapped).toBe(true);
    expect((await c.cas("k", "nope", "v3")).swapped).toBe(false);
    expect((await c.cas("new", null, "x")).swapped).toBe(true);
    await c.delete("k");
    const g = await c.get("k");
    expect(g.value).toBeNull();
    expect(g.meta?.node).toBe("n1");
    expectWellFormed(events);
    const completions = events.filter((e) => e.type !== "invoke").map(({ time, session, ...e }) => e);
    expect(completions).toEqual([
      { process: 7, type: "ok", f: "write", key: "k", value: "v1", node: "n1" },
      { process: 7, type: "ok", f: "read", key: "k", value: "v1", node: "n1" },
      { process: 7, type: "ok", f: "cas", key: "k", value: ["v1", "v2"], node: "n1" },
      { process: 7, type: "fail", f: "cas", key: "k", value: ["nope", "v3"], node: "n1" },
      { process: 7, type: "ok", f: "cas", key: "new", value: [null, "x"], node: "n1" },
      { process: 7, type: "ok", f: "delete", key: "k", value: null, node: "n1" },
      { process: 7, type: "ok", f: "read", key: "k", value: null, node: "n1" },
    ]);
    expect(events[0]).toMatchObject({
      type: "invoke",
      f: "write",
      key: "k",
      value: "v1",
      session: c.clientId,
    });
  });

  it("runs concurrent calls one at a time, in call order", async () => {
    const n = await node({ id: "n1" });
    const events: HistoryEvent[] = [];
    const c = kv({ endpoints: [n.url], record: (e) => events.push(e) });
    await Promise.all([...Array(20).keys()].map((i) => c.put("k", String(i))));
    expect((await c.get("k")).value).toBe("19");
    expectWellFormed(events);
  });
});
