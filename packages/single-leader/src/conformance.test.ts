import {
  caughtUpAfterHeal,
  conformanceSuite,
  findViolation,
  loadScenario,
  replayCommand,
  scenarioHolds,
  scenarioSpec,
} from "@consistency-lab/conformance";
import { describe, expect, it } from "vitest";
import { singleLeaderBrokenRetryTwice, singleLeaderEngine } from "./index.js";

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

// Found by a real kill -9 first: a write whose reply was lost in the leader's crash is retried by its client after
// the restart; without exactly-once sessions the leader applied it a second time, over a later write. The scenario
// restarts the leader under load with a syncing disk, so it fails on that code and guards the fix.
describe("scenario leader-restart.json (testdata/scenarios)", () => {
  const sc = loadScenario(new URL("../testdata/scenarios/leader-restart.json", import.meta.url));
  it("the correct engine keeps every declared guarantee", () => {
    scenarioHolds({ expect }, scenarioSpec(singleLeaderEngine, sc), [1, 2, 3, 4, 5, 6]);
  }, 600_000);
  it("single-leader-broken-retry-twice violates linearizability within 30 workload seeds", () => {
    const spec = { ...scenarioSpec(singleLeaderBrokenRetryTwice, sc), seeds: 30 };
    const run = findViolation(spec);
    expect(run, "no seed in 1..30 exposed single-leader-broken-retry-twice").toBeDefined();
    expect(run!.violations.map((v) => v.guarantee)).toContain("linearizable");
    expect(replayCommand(spec, run!.seed)).toContain("--engine single-leader-broken-retry-twice");
  }, 600_000);
});

// Found on real processes first: a follower partitioned while 64 KiB values were written never caught up after the
// heal, because append batches of 64 entries (4 MiB) were over the transport's 2 MiB frame limit and dropped. The
// simulator drops oversized messages like the transport, so this fails on counted batches (n3 held 0 of 40 keys
// after recovery, 42 appends dropped) and passes with batches bounded in bytes.
describe("scenario large-value-catch-up.json (testdata/scenarios)", () => {
  const sc = loadScenario(new URL("../testdata/scenarios/large-value-catch-up.json", import.meta.url));
  it("the partitioned follower holds every key after the heal, and no append is over the frame limit", () => {
    caughtUpAfterHeal({ expect }, scenarioSpec(singleLeaderEngine, sc), [1, 2, 3], 40);
  }, 600_000);
});
