import { MemoryStore, memoryEngine } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { memoryBrokenLaggingReplica } from "./broken/memory-broken.js";
import { findViolation, replayCommand, runSeed } from "./harness.js";
import { conformanceSuite, kvStoreSuite } from "./suite.js";

// The suite runs first against the one-node reference (STYLE.md: abstract-level's pattern).
kvStoreSuite({ describe, it, expect }, "MemoryStore", () => new MemoryStore());
conformanceSuite({ describe, it, expect }, { engine: memoryEngine });

describe("memory-broken-lagging-replica (a deliberately broken engine the suite must flag)", () => {
  it("is caught breaking a declared guarantee within 20 seeds, with a replay command", () => {
    const spec = { engine: memoryBrokenLaggingReplica, nodes: 2, faults: "all" as const, seeds: 20 };
    const run = findViolation(spec);
    expect(run, "no seed in 1..20 exposed the lagging replica").toBeDefined();
    expect(run!.violations.map((v) => v.guarantee)).toContain("linearizable");
    expect(replayCommand(spec, run!.seed)).toContain(`--seed ${run!.seed}`);
  }, 120_000);

  it("passes when clients never leave the first replica and nothing fails (the bug needs two replicas in play)", () => {
    // Every client on n1, no faults: reads always see the replica that took the write. This pins down that the
    // violations above come from the cross-replica path, not from the checker flagging everything.
    const run = runSeed(
      {
        engine: memoryBrokenLaggingReplica,
        nodes: 2,
        faults: "none",
        workload: { clients: 1, switchNodeRate: 0 },
      },
      1,
    );
    expect(run.violations).toEqual([]);
  }, 120_000);
});
