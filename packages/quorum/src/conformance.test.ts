import { conformanceSuite } from "@consistency-lab/conformance";
import { describe, expect, it } from "vitest";
import { quorumEngine } from "./index.js";

// Defaults: N=3, R=2, W=2, strict quorum, siblings, on five nodes (so some nodes forward and fallbacks exist).
conformanceSuite({ describe, it, expect }, { engine: quorumEngine });
// Sloppy quorum with blocking read repair: hints must not lose writes; blocking repair adds monotonic reads.
conformanceSuite(
  { describe, it, expect },
  {
    engine: quorumEngine,
    options: { sloppy: true, readRepair: "blocking" },
    label: "sloppy, blocking read repair",
    seeds: 12,
  },
);
// Strict quorum with blocking read repair on three nodes: every node is a replica of every key.
conformanceSuite(
  { describe, it, expect },
  {
    engine: quorumEngine,
    options: { readRepair: "blocking" },
    nodes: 3,
    label: "3 nodes, blocking read repair",
    seeds: 12,
  },
);
// LWW only promises convergence.
conformanceSuite(
  { describe, it, expect },
  { engine: quorumEngine, options: { conflicts: "lww" }, label: "lww", seeds: 8 },
);
