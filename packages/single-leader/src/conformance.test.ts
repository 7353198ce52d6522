import { conformanceSuite } from "@consistency-lab/conformance";
import { describe, expect, it } from "vitest";
import { singleLeaderEngine } from "./index.js";

const api = { describe, it, expect };

// Defaults: leader reads, w: majority, manual failover. Declares linearizable: the simulator crashes, pauses and
// partitions nodes but never promotes, so no failover happens (the condition is in the manifest's notes).
conformanceSuite(api, { engine: singleLeaderEngine, nodes: 3 });

// Follower reads with session tokens: session guarantees, no linearizability.
conformanceSuite(api, {
  engine: singleLeaderEngine,
  nodes: 3,
  options: { readFrom: "follower" },
  label: "follower reads",
});

// Automatic failover with w: majority: failovers happen under faults; no lost writes, atomic cas, convergence.
conformanceSuite(api, {
  engine: singleLeaderEngine,
  nodes: 3,
  options: { failover: "auto", failoverTimeoutMs: 150 },
  label: "auto failover",
});

// Automatic failover with async followers and w: 1: declares only convergence.
conformanceSuite(api, {
  engine: singleLeaderEngine,
  nodes: 5,
  options: { failover: "auto", followers: "async", w: "1", failoverTimeoutMs: 150 },
  label: "auto failover, async, w=1",
});

// Synchronous followers: every follower holds a write before it is acknowledged.
conformanceSuite(api, {
  engine: singleLeaderEngine,
  nodes: 3,
  options: { followers: "sync" },
  label: "sync followers",
});
