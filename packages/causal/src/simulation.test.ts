import type { ClientReply, ClientRequest } from "@consistency-lab/kv";
import { isTimeout, SimCluster } from "@consistency-lab/sim";
import { describe, expect, it } from "vitest";
import { causalEngine } from "./index.js";

type Req = Omit<ClientRequest, "id">;

/** call sends one request through the simulated network and fails the test (naming the seed) on a timeout. */
function call(c: SimCluster, seed: number, node: string, req: Req, deadlineMs = 2_000): ClientReply {
  const r = c.request(node, req, { deadlineMs });
  if (isTimeout(r)) throw new Error(`seed ${seed}: ${node} did not answer ${JSON.stringify(req)}`);
  return r;
}

const values = (r: ClientReply) => r.values ?? (r.value == null ? [] : [r.value]);
const dumps = (c: SimCluster) => c.nodes.map((n) => Object.fromEntries(c.core(n)!.dump!()));

describe("causal engine in a simulated cluster", () => {
  it("both sides of a partition accept writes; after heal every node converges to the siblings", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const c = new SimCluster({
        engine: causalEngine,
        nodes: 5,
        seed,
        network: { loss: 0.05, dup: 0.05, reorder: 0.1 },
      });
      c.runFor(100);
      call(c, seed, "n1", { op: "put", key: "k", value: "before" });
      c.quiesce(5_000);
      c.partition([
        ["n1", "n2"],
        ["n3", "n4", "n5"],
      ]);
      expect(call(c, seed, "n1", { op: "put", key: "k", value: "left" }).ok).toBe(true);
      expect(call(c, seed, "n4", { op: "put", key: "k", value: "right" }).ok).toBe(true);
      expect(call(c, seed, "n5", { op: "put", key: "other", value: "r" }).ok).toBe(true);
      c.runFor(1_000);
      // Each side sees only its own write: available, not linearizable.
      expect(values(call(c, seed, "n2", { op: "get", key: "k" }))).toEqual(["left"]);
      expect(values(call(c, seed, "n3", { op: "get", key: "k" }))).toEqual(["right"]);
      c.heal();
      // Writes dropped during the partition come back on the resend timer, which quiesce cannot see coming.
      c.runFor(1_000);
      expect(c.quiesce(10_000), `seed ${seed}: did not quiesce`).toBe(true);
      const d = dumps(c);
      for (const x of d) expect(x, `seed ${seed}`).toEqual({ k: ["left", "right"], other: ["r"] });
      for (const n of c.nodes) expect(c.status(n)).toMatchObject({ unacked: 0, buffered: 0 });
    }
  });

  it("a session moving to a node on the other side of a partition waits, then is refused; after heal it is served", () => {
    const seed = 7;
    const c = new SimCluster({ engine: causalEngine, options: { sessionWaitMs: 300 }, nodes: 3, seed });
    c.runFor(100);
    c.partition([["n1"], ["n2", "n3"]]);
    const put = call(c, seed, "n1", {
      op: "put",
      key: "x",
      value: "mine",
      session: { clientId: "c", seq: 1 },
    });
    const session = { clientId: "c", seq: 2, token: put.token! };
    const refused = call(c, seed, "n2", { op: "get", key: "x", session });
    expect(refused.error?.code).toBe("KV_UNAVAILABLE");
    // Submitted while partitioned, answered once the write arrives after the heal.
    let got: ClientReply | undefined;
    c.submit("n3", { op: "get", key: "x", session: { ...session, seq: 3 } }, (r) => {
      got = r;
    });
    c.after(100, () => c.heal());
    c.runUntil(() => got !== undefined, 2_000);
    expect(got).toMatchObject({ ok: true, value: "mine" });
  });

  it("acknowledged writes survive crashes of their node before replication", () => {
    const seed = 11;
    const c = new SimCluster({ engine: causalEngine, nodes: 3, seed, persistLatencyMs: 2 });
    c.runFor(100);
    c.partition([["n1"], ["n2", "n3"]]);
    for (let i = 0; i < 5; i++)
      expect(call(c, seed, "n1", { op: "put", key: `k${i}`, value: `v${i}` }).ok).toBe(true);
    c.crash("n1");
    c.heal();
    c.runFor(500);
    expect(values(call(c, seed, "n2", { op: "get", key: "k0" }))).toEqual([]);
    c.restart("n1");
    c.runFor(1_000);
    expect(c.quiesce(10_000)).toBe(true);
    for (let i = 0; i < 5; i++)
      expect(values(call(c, seed, "n3", { op: "get", key: `k${i}` }))).toEqual([`v${i}`]);
  });

  it("is deterministic: the same seed gives the same trace", () => {
    const run = () => {
      const c = new SimCluster({
        engine: causalEngine,
        nodes: 3,
        seed: 99,
        network: { loss: 0.1, reorder: 0.2 },
      });
      for (let i = 0; i < 20; i++)
        c.request(c.nodes[i % 3]!, { op: "put", key: `k${i % 4}`, value: `v${i}` });
      c.quiesce(10_000);
      return c.traceHash();
    };
    expect(run()).toBe(run());
  });
});
