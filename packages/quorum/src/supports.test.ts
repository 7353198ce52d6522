import { declaredGuarantees, resolveOptions } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { quorumEngine } from "./index.js";

const declared = (raw: Record<string, string | number | boolean>) =>
  declaredGuarantees(quorumEngine.supports(resolveOptions(quorumEngine.options, raw)));

describe("quorum supports", () => {
  it("declares the architecture's minimum for the defaults (N=3, R=2, W=2, strict, siblings)", () => {
    expect(declared({})).toEqual(["readYourWrites", "convergence", "noLostWrites"]);
    const s = quorumEngine.supports(resolveOptions(quorumEngine.options, {}));
    expect(s).toMatchObject({
      linearizable: false,
      casAtomic: false,
      conflicts: "siblings",
      availability: "majority",
    });
  });

  it("never declares linearizability or atomic cas, whatever the quorum sizes", () => {
    const raws: Record<string, string | number>[] = [
      { r: 3, w: 3 },
      { readRepair: "blocking", r: 3, w: 1 },
    ];
    for (const raw of raws) {
      expect(declared(raw)).not.toContain("linearizable");
      expect(declared(raw)).not.toContain("casAtomic");
    }
  });

  it("drops read-your-writes when R + W <= N, under a sloppy quorum, or with LWW", () => {
    expect(declared({ r: 1, w: 1 })).not.toContain("readYourWrites");
    expect(declared({ r: 1, w: 2 })).not.toContain("readYourWrites");
    expect(declared({ sloppy: true })).not.toContain("readYourWrites");
    expect(declared({ conflicts: "lww" })).not.toContain("readYourWrites");
  });

  it("adds monotonic reads only with blocking read repair on a strict overlapping quorum", () => {
    expect(declared({ readRepair: "blocking" })).toContain("monotonicReads");
    expect(declared({})).not.toContain("monotonicReads");
    expect(declared({ readRepair: "blocking", sloppy: true })).not.toContain("monotonicReads");
  });

  it("keeps no-lost-writes for siblings only, and convergence only with anti-entropy", () => {
    expect(declared({ conflicts: "lww" })).toEqual(["convergence"]);
    expect(declared({ antiEntropyMs: 0 })).not.toContain("convergence");
    expect(declared({ antiEntropyMs: 0, r: 1, w: 1 })).not.toContain("noLostWrites");
    expect(declared({ antiEntropyMs: 0 })).toContain("noLostWrites");
    expect(quorumEngine.supports(resolveOptions(quorumEngine.options, { sloppy: true })).availability).toBe(
      "all",
    );
  });
});
