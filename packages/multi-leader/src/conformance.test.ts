import {
  caughtUpAfterHeal,
  conformanceSuite,
  loadScenario,
  scenarioSpec,
} from "@consistency-lab/conformance";
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

// Found on real processes first: a node partitioned while 64 KiB values were written never caught up after the
// heal, because retransmissions of 64 updates per origin (4 MiB) were over the transport's 2 MiB frame limit and
// dropped. The simulator drops oversized messages like the transport, so this fails on counted batches (n3 held 17
// of 40 keys after recovery, 76 messages dropped) and passes with batches bounded in bytes.
describe("scenario large-value-catch-up.json (testdata/scenarios)", () => {
  const sc = loadScenario(new URL("../testdata/scenarios/large-value-catch-up.json", import.meta.url));
  it("every node holds every key after the heal, and no message is over the frame limit", () => {
    // Only convergence is declared; a short limit for the undeclared checks keeps the run quick.
    caughtUpAfterHeal(
      { expect },
      { ...scenarioSpec(multiLeaderEngine, sc), timeLimitMs: 500 },
      [1, 2, 3],
      40,
    );
  }, 600_000);
});
