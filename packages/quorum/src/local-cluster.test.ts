import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvClient } from "@consistency-lab/client";
import { isKvError } from "@consistency-lab/kv";
import { type LocalCluster, startLocalCluster } from "@consistency-lab/node";
import { afterEach, describe, expect, it } from "vitest";
import { preferenceList, ringNew } from "./core/ring.js";
import { quorumEngine } from "./index.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function until(pred: () => boolean | Promise<boolean>, what: string, maxMs = 8000): Promise<void> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const liveAt = (c: LocalCluster, id: string) => (c.node(id).status() as { live?: number }).live ?? 0;

describe("quorum on a real cluster (loopback WebSockets, LevelDB)", () => {
  it("serves the KV interface, refuses keys without a write quorum, and repairs a returning node", async () => {
    const dir = await mkdtemp(join(tmpdir(), "clab-quorum-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const c = await startLocalCluster({ engine: quorumEngine, nodes: 5, dataDir: dir, logger: silent });
    cleanup.push(() => c.stop());
    const client = new KvClient({
      endpoints: [c.endpoints[0]!],
      token: c.token,
      timeoutMs: 4000,
      retries: 0,
    });
    cleanup.push(() => client.close());
    await until(() => liveAt(c, "n1") === 5, "n1 to see every peer");

    await client.put("x", "1");
    expect((await client.get("x")).value).toBe("1");
    expect((await client.cas("x", "1", "2")).swapped).toBe(true);
    expect((await client.cas("x", "1", "3")).swapped).toBe(false);
    await client.delete("x");
    expect((await client.get("x")).value).toBeNull();

    // Stop two nodes; a key with both among its primaries cannot reach W = 2 primaries (strict quorum).
    const ring = ringNew(c.ids, 8);
    await c.stopNode("n4");
    await c.stopNode("n5");
    await until(() => liveAt(c, "n1") === 3, "n1 to suspect n4 and n5");
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    const blocked = keys.find((k) => ["n4", "n5"].every((n) => preferenceList(ring, k, 3).includes(n)))!;
    const open = keys.find((k) => ["n4", "n5"].every((n) => !preferenceList(ring, k, 3).includes(n)))!;
    const half = keys.find((k) => {
      const p = preferenceList(ring, k, 3);
      return p.includes("n4") !== p.includes("n5");
    })!;
    const refused = await client.put(blocked, "v").then(
      () => undefined,
      (e: unknown) => (isKvError(e) ? e.code : String(e)),
    );
    expect(refused).toBe("KV_UNAVAILABLE");
    await client.put(open, "v-open");
    await client.put(half, "v-half");

    // The stopped primary of `half` comes back and anti-entropy gives it the value: an r=1 read coordinated at that
    // node answers from its own replica.
    const back = ["n4", "n5"].find((n) => preferenceList(ring, half, 3).includes(n))!;
    await c.startNode("n4");
    await c.startNode("n5");
    await until(() => liveAt(c, "n1") === 5, "n1 to see n4 and n5 again");
    const local = new KvClient({
      endpoints: [c.endpoints[c.ids.indexOf(back)]!],
      token: c.token,
      timeoutMs: 4000,
    });
    cleanup.push(() => local.close());
    await until(
      async () => (await local.get(half, { r: 1 }).catch(() => ({ value: null }))).value === "v-half",
      `${back} to hold the key written while it was down`,
    );
    expect((await client.get(open, { r: 3 })).value).toBe("v-open");
  }, 60_000);
});
