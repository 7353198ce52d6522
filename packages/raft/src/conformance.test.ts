import { conformanceSuite, defaultSeeds, findViolation, replayCommand } from "@consistency-lab/conformance";
import { describe, expect, it } from "vitest";
import { raftBrokenEarlyCommit, raftBrokenStaleRead, raftEngine } from "./index.js";

// The ONE shared suite: KV semantics, durability across crash-restart, and every guarantee raftSupports declares,
// under `--faults all`. The guarantees are declared once, in raftSupports; nothing is restated here.
conformanceSuite({ describe, it, expect }, { engine: raftEngine, nodes: 3 });
// Other option sets: a smaller CI sample (the full count under CLAB_SOAK).
const seeds = defaultSeeds(6, 200);
conformanceSuite({ describe, it, expect }, { engine: raftEngine, nodes: 5, seeds, label: "5 nodes" });
conformanceSuite(
  { describe, it, expect },
  { engine: raftEngine, options: { batch: false, maxInflightMsgs: 2 }, seeds, label: "no batching, small window" },
);
conformanceSuite({ describe, it, expect }, { engine: raftEngine, options: { snapshotEvery: 5 }, seeds, label: "snapshot every 5" });
conformanceSuite({ describe, it, expect }, { engine: raftEngine, options: { read: "stale" }, seeds: defaultSeeds(1, 100), label: "read=stale" });
conformanceSuite({ describe, it, expect }, { engine: raftEngine, options: { read: "lease" }, seeds: defaultSeeds(3, 100), label: "read=lease" });

// The teaching variants the checker finds under random faults within 100 seeds. The other two
// (no-persist-vote, figure8) need fault timings random schedules rarely produce; core/raft.test.ts reproduces
// each by hand (see the README).
describe("deliberately broken variants are caught", () => {
  for (const engine of [raftBrokenStaleRead, raftBrokenEarlyCommit]) {
    it(`${engine.name} violates a declared guarantee within 100 seeds`, () => {
      const spec = { engine, faults: "all" as const, seeds: 100 };
      const run = findViolation(spec);
      expect(run, `no seed in 1..100 exposed ${engine.name}`).toBeDefined();
      expect(run!.violations.length).toBeGreaterThan(0);
      expect(replayCommand(spec, run!.seed)).toContain(`--engine ${engine.name}`);
    }, 600_000);
  }
});
