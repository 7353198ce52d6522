import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientReply, type ClientRequest, type HistoryEvent, KvError } from "@consistency-lab/kv";
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

  it("records sibling reads as values and passes the causal context through", async () => {
    const n = await node({
      id: "n1",
      intercept: (req) =>
        req.op === "get"
          ? { id: req.id, ok: true, value: null, values: ["a", "b"], context: "ctx-1", meta: { node: "n1" } }
          : { id: req.id, ok: true, context: "ctx-2", meta: { node: "n1" } },
    });
    const events: HistoryEvent[] = [];
    const c = kv({ endpoints: [n.url], record: (e) => events.push(e) });
    const g = await c.get("k");
    expect(g).toMatchObject({ value: null, values: ["a", "b"], context: "ctx-1" });
    expect((await c.put("k", "c", { context: g.context! })).context).toBe("ctx-2");
    expect(events[1]).toMatchObject({ type: "ok", f: "read", key: "k", values: ["a", "b"] });
    expect(events[1]!.value).toBeUndefined();
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

describe("KvClient against awkward clusters", () => {
  it("follows KV_NOT_LEADER to the leader named in the hint, using the welcome's members map", async () => {
    const leader = await node({ id: "n2" });
    const follower = await node({
      id: "n1",
      peers: { n2: leader.url },
      intercept: (req) => ({
        id: req.id,
        ok: false,
        error: { code: "KV_NOT_LEADER", message: "ask n2", leader: "n2" },
      }),
    });
    const events: HistoryEvent[] = [];
    // Only the follower is configured: the leader's endpoint comes from the follower's welcome.
    const c = kv({ endpoints: [follower.url], record: (e) => events.push(e) });
    const w = await c.put("k", "v");
    expect(w.meta?.node).toBe("n2");
    expect((await c.get("k")).value).toBe("v");
    expect(leader.core.status().served).toBe(2);
    expect(events.filter((e) => e.type === "ok").map((e) => e.node)).toEqual(["n2", "n2"]);
  });

  it("with discover: false never leaves the endpoints it was given, even when a hint names another node", async () => {
    const leader = await node({ id: "n2" });
    const follower = await node({
      id: "n1",
      peers: { n2: leader.url },
      intercept: (req) => ({
        id: req.id,
        ok: false,
        error: { code: "KV_NOT_LEADER", message: "ask n2", leader: "n2" },
      }),
    });
    const events: HistoryEvent[] = [];
    const c = kv({
      endpoints: [follower.url],
      discover: false,
      timeoutMs: 300,
      record: (e) => events.push(e),
    });
    await expect(c.put("k", "v")).rejects.toMatchObject({ code: "KV_NOT_LEADER" });
    expect(leader.core.status().served).toBe(0);
    expect(events.at(-1)).toMatchObject({ type: "fail", error: "KV_NOT_LEADER" });
  });

  it("fails over from an unreachable endpoint to the next one", async () => {
    const n = await node({ id: "n1" });
    const c = kv({ endpoints: ["ws://127.0.0.1:1", n.url] });
    await c.put("k", "v");
    expect((await c.get("k")).value).toBe("v");
  });

  it("times out with KV_TIMEOUT and records info", async () => {
    const n = await node({ id: "n1", intercept: (req) => (req.key === "slow" ? "drop" : undefined) });
    const events: HistoryEvent[] = [];
    const c = kv({ endpoints: [n.url], timeoutMs: 200, record: (e) => events.push(e) });
    expect(await code(c.put("slow", "v"))).toBe("KV_TIMEOUT");
    expect(await code(c.get("slow"))).toBe("KV_TIMEOUT");
    expect(events.filter((e) => e.type !== "invoke").map((e) => [e.type, e.f, e.error])).toEqual([
      ["info", "write", "KV_TIMEOUT"],
      ["info", "read", "KV_TIMEOUT"],
    ]);
    await c.put("fast", "ok");
    expect((await c.get("fast")).value).toBe("ok");
    expectWellFormed(events);
  });

  it("ignores a reply that arrives after the deadline", async () => {
    const held: ((r: ClientReply) => void)[] = [];
    const n = await node({
      id: "n1",
      intercept: (req, reply) => {
        if (req.key !== "slow") return undefined;
        held.push(reply);
        return "drop";
      },
    });
    const c = kv({ endpoints: [n.url], timeoutMs: 150 });
    await c.put("k", "real");
    expect(await code(c.get("slow"))).toBe("KV_TIMEOUT");
    expect(held.length).toBe(1);
    held[0]!({ id: "ignored", ok: true, value: "late" });
    // The late reply reaches the client now; the next read must get its own answer, not the stale one.
    expect((await c.get("k")).value).toBe("real");
    expect((await c.get("k")).value).toBe("real");
  });

  it("retries a refused write with the same session seq, and carries the session token", async () => {
    const seen: ClientRequest[] = [];
    let refuse = 2;
    const n = await node({
      id: "n1",
      intercept: (req) => {
        seen.push(req);
        if (refuse-- > 0)
          return { id: req.id, ok: false, error: { code: "KV_UNAVAILABLE", message: "no quorum yet" } };
        return { id: req.id, ok: true, token: `tok-${seen.length}`, meta: { node: "n1" } };
      },
    });
    const c = kv({ endpoints: [n.url], clientId: "client-a" });
    await c.put("k", "v");
    expect(seen.map((r) => r.session?.seq)).toEqual([1, 1, 1]);
    expect(seen.map((r) => r.session?.clientId)).toEqual(["client-a", "client-a", "client-a"]);
    expect(c.sessionToken).toBe("tok-3");
    await c.get("k");
    expect(seen[3]!.session).toEqual({ clientId: "client-a", seq: 2, token: "tok-3" });
  });

  it("retries a write whose connection dropped at another node with the same seq; without sessions it is unknown", async () => {
    const seen: ClientRequest[] = [];
    const n2 = await node({
      id: "n2",
      intercept: (req) => {
        seen.push(req);
        return undefined;
      },
    });
    let n1: MemoryNode | undefined;
    n1 = await node({
      id: "n1",
      intercept: (req) => {
        seen.push(req);
        // The node dies with the write in flight: the client cannot know whether it was applied.
        setTimeout(() => void n1!.close(), 5);
        return "drop";
      },
    });
    const events: HistoryEvent[] = [];
    const c = kv({ endpoints: [n1.url, n2.url], clientId: "c1", record: (e) => events.push(e) });
    await c.put("k", "v");
    expect(seen.map((r) => [r.session?.clientId, r.session?.seq])).toEqual([
      ["c1", 1],
      ["c1", 1],
    ]);
    expect(events.at(-1)).toMatchObject({ type: "ok", node: "n2" });

    n1 = await node({
      id: "n1",
      intercept: () => {
        setTimeout(() => void n1!.close(), 5);
        return "drop";
      },
    });
    const noSessions = kv({ endpoints: [n1.url, n2.url], sessions: false, record: (e) => events.push(e) });
    expect(await code(noSessions.put("k", "w"))).toBe("KV_TIMEOUT");
    expect(events.at(-1)).toMatchObject({ type: "info", f: "write", error: "KV_TIMEOUT" });
    expect((await c.get("k")).value).toBe("v");
  });

  it("gives up on a definite refusal with its code and records fail with the error", async () => {
    const n = await node({
      id: "n1",
      intercept: (req) =>
        req.key === "busy"
          ? { id: req.id, ok: false, error: { code: "KV_UNAVAILABLE", message: "minority" } }
          : undefined,
    });
    const events: HistoryEvent[] = [];
    const c = kv({ endpoints: [n.url], timeoutMs: 10_000, retries: 3, record: (e) => events.push(e) });
    expect(await code(c.put("busy", "v"))).toBe("KV_UNAVAILABLE");
    expect(await code(c.get(""))).toBe("KV_INVALID_KEY");
    // Refused until the deadline: the last definite code, or KV_TIMEOUT if an attempt was in flight at the deadline.
    const short = kv({ endpoints: [n.url], timeoutMs: 200 });
    expect(["KV_UNAVAILABLE", "KV_TIMEOUT"]).toContain(await code(short.put("busy", "v")));
    expect(events.filter((e) => e.type === "fail").map((e) => e.error)).toEqual([
      "KV_UNAVAILABLE",
      "KV_INVALID_KEY",
    ]);
    expectWellFormed(events);
  });

  it("refuses what no node accepts before sending: an oversized value (KV_TOO_LARGE), a lone surrogate (KV_INVALID_VALUE)", async () => {
    const seen: string[] = [];
    const n = await node({
      id: "n1",
      intercept: (req) => {
        seen.push(req.key);
        return undefined;
      },
    });
    const events: HistoryEvent[] = [];
    const c = kv({ endpoints: [n.url], timeoutMs: 60_000, record: (e) => events.push(e) });
    expect(await code(c.put("big", "x".repeat(2 * 1024 * 1024)))).toBe("KV_TOO_LARGE");
    expect(await code(c.put("big", "é".repeat(600 * 1024)))).toBe("KV_TOO_LARGE"); // 1.2 MB in UTF-8
    expect(await code(c.put("bad", "\ud800"))).toBe("KV_INVALID_VALUE");
    expect(await code(c.cas("bad", "\udfff", "v"))).toBe("KV_INVALID_VALUE");
    expect(await code(c.put("\ud800", "v"))).toBe("KV_INVALID_KEY");
    expect(seen).toEqual([]);
    expect(events.filter((e) => e.type === "fail").map((e) => e.error)).toEqual([
      "KV_TOO_LARGE",
      "KV_TOO_LARGE",
      "KV_INVALID_VALUE",
      "KV_INVALID_VALUE",
      "KV_INVALID_KEY",
    ]);
    expectWellFormed(events);
    // The connection is still good for what is valid, a value at the limit included.
    await c.put("ok", "x".repeat(1024 * 1024));
    expect((await c.get("ok")).value?.length).toBe(1024 * 1024);
  });

  it("refuses a wrong token with KV_UNAUTHORIZED without retrying until the deadline", async () => {
    const n = await node({ id: "n1" });
    const c = kv({ endpoints: [n.url], token: "wrong", timeoutMs: 60_000 });
    expect(await code(c.get("k"))).toBe("KV_UNAUTHORIZED");
  });

  it("reports status of every endpoint, unreachable ones included", async () => {
    const n = await node({ id: "n1" });
    const c = kv({ endpoints: [n.url, "ws://127.0.0.1:1"], timeoutMs: 1000 });
    const s = await c.status();
    expect(s[0]).toMatchObject({ id: "n1", role: "single", endpoint: n.url });
    expect(s[1]).toMatchObject({ role: "unreachable", error: "KV_UNAVAILABLE" });
  });

  it("injects faults with the admin token only", async () => {
    const n = await node({ id: "n1", peers: { n2: "ws://127.0.0.1:1" } });
    const c = kv({ endpoints: [n.url] });
    await c.fault(n.url, { type: "partition", to: ["n2"] }, ADMIN);
    expect(n.transport.faults().links.n2!.partitioned).toBe(true);
    expect(await code(c.fault(n.url, { type: "heal" }, TOKEN))).toBe("KV_UNAUTHORIZED");
    expect(await code(c.fault(n.url, { type: "loss", rate: 2 }, ADMIN))).toBe("KV_INVALID_ARGUMENT");
    expect(n.transport.faults().links.n2!.partitioned).toBe(true);
    const rep = await c.admin(n.url, { id: "a1", command: "transfer-leader" }, ADMIN);
    expect(rep).toMatchObject({ id: "a1", ok: false, error: { code: "KV_NOT_SUPPORTED" } });

    const admin = await connectAdmin(n.url, ADMIN);
    cleanups.push(() => admin.close());
    expect(admin.nodeId).toBe("n1");
    await admin.fault({ type: "heal" });
    expect(n.transport.faults().links.n2!.partitioned).toBe(false);
    expect((await admin.status()).id).toBe("n1");
    expect(await code(connectAdmin(n.url, TOKEN))).toBe("KV_UNAUTHORIZED");
  });

  it("fails later operations with KV_CLOSED after close", async () => {
    const n = await node({ id: "n1" });
    const c = kv({ endpoints: [n.url] });
    await c.put("k", "v");
    await c.close();
    expect(await code(c.get("k"))).toBe("KV_CLOSED");
  });
});

describe("KvClient over TLS", () => {
  const hasOpenssl = (() => {
    try {
      execFileSync("openssl", ["version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  // Skipped only where openssl is missing (it makes the self-signed certificate); the reason is in the name.
  it.runIf(hasOpenssl)(
    "talks wss:// to a node whose certificate it trusts via tls.ca (needs openssl)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "clab-client-tls-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const cert = join(dir, "cert.pem");
      const key = join(dir, "key.pem");
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          key,
          "-out",
          cert,
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        { stdio: "ignore" },
      );
      const n = await node({ id: "n1", tls: { cert, key } });
      expect(n.url.startsWith("wss://")).toBe(true);
      const c = kv({ endpoints: [n.url], tls: { ca: cert } });
      await c.put("k", "over tls");
      expect((await c.get("k")).value).toBe("over tls");
      const untrusting = kv({ endpoints: [n.url], timeoutMs: 300 });
      expect(await code(untrusting.get("k"))).toBe("KV_UNAVAILABLE");
    },
  );
});
