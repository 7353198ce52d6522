import { conformanceSuite } from "@consistency-lab/conformance";
import { describe, expect, it } from "vitest";
import { quorumEngine } from "./index.js";

const t = { describe, it, expect };
// Defaults: N=3, R=2, W=2, strict quorum, siblings, on five nodes (so some nodes forward and fallbacks exist).
conformanceSuite(t, { engine: quorumEngine });
// Sloppy quorum with blocking read repair: hints must not lose writes.
conformanceSuite(t, {
  engine: quorumEngine,
  options: { sloppy: true, readRepair: "blocking" },
  label: "sloppy, blocking read repair",
  seeds: 10,
});
// Strict quorum with blocking read repair adds monotonic reads.
conformanceSuite(t, {
  engine: quorumEngine,
  options: { readRepair: "blocking" },
  label: "blocking read repair",
  seeds: 10,
});
// Three nodes: every node is a replica of every key; Riak's blind writes (siblings).
conformanceSuite(t, {
  engine: quorumEngine,
  options: { blindWrites: "sibling" },
  nodes: 3,
  label: "3 nodes, blind writes as siblings",
  seeds: 8,
});
// LWW only promises convergence.
conformanceSuite(t, { engine: quorumEngine, options: { conflicts: "lww" }, label: "lww", seeds: 8 });
