import { describe, expect, it } from "vitest";
import { formatTable, statusRows } from "./status.js";

describe("status rows", () => {
  it("shows role, term, leader, commit/last, lag behind the highest commit, ops and health", () => {
    const rows = statusRows([
      {
        id: "n1",
        role: "leader",
        leader: "n1",
        term: 3,
        commitIndex: 10,
        lastIndex: 10,
        opsServed: 7,
        endpoint: "ws://a:1",
      },
      {
        id: "n2",
        role: "follower",
        leader: "n1",
        term: 3,
        commitIndex: 8,
        lastIndex: 10,
        endpoint: "ws://a:2",
      },
      { id: "ws://a:3", role: "unreachable", endpoint: "ws://a:3", error: "KV_UNAVAILABLE" },
      { id: "n4", role: "candidate", leader: null, term: 4, endpoint: "ws://a:4" },
    ]);
    expect(rows[0]).toMatchObject({
      node: "n1",
      role: "leader",
      term: "3",
      commit: "10/10",
      lag: "0",
      ops: "7",
      health: "ok",
    });
    expect(rows[1]).toMatchObject({ node: "n2", lag: "2", health: "ok" });
    expect(rows[2]).toMatchObject({ health: "unreachable (KV_UNAVAILABLE)" });
    expect(rows[3]).toMatchObject({ node: "n4", health: "no leader" });
    const table = formatTable(rows).split("\n");
    expect(table[0]).toMatch(
      /^NODE\s+ENDPOINT\s+ROLE\s+TERM\/EPOCH\s+LEADER\s+COMMIT\/LAST\s+LAG\s+OPS\s+HEALTH$/,
    );
    expect(table).toHaveLength(5);
  });

  it("uses the engine's own lag and epoch when it reports them", () => {
    const [row] = statusRows([{ id: "n1", role: "replica", epoch: 2, lag: 40 }]);
    expect(row).toMatchObject({ term: "2", lag: "40", commit: "-" });
  });
});
