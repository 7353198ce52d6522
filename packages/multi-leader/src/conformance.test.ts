import { conformanceSuite } from "@consistency-lab/conformance";
import { describe, expect, it } from "vitest";
import { multiLeaderEngine } from "./index.js";

const api = { describe, it, expect };

// Defaults: all-to-all, LWW by HLC. Declares convergence (and availability "all", conflicts "lww").
conformanceSuite(api, { engine: multiLeaderEngine, nodes: 3 });

// Siblings: nothing acknowledged is discarded, and sessions that pass their token get the four session guarantees.
conformanceSuite(api, {
  engine: multiLeaderEngine,
  nodes: 3,
  options: { conflicts: "siblings" },
  label: "siblings",
});

// Ring and star topologies, each with another conflict rule.
conformanceSuite(api, {
  engine: multiLeaderEngine,
  nodes: 5,
  options: { topology: "ring", conflicts: "lww-lamport" },
  label: "ring, lamport",
});
conformanceSuite(api, {
  engine: multiLeaderEngine,
  nodes: 5,
  options: { topology: "star", conflicts: "siblings" },
  label: "star, siblings",
});
