import type { Guarantee } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { checkCausal } from "./causal.js";
import { checkGuarantees } from "./guarantees.js";
import type { Op } from "./op.js";
import { HistoryBuilder } from "./testing/history-builder.js";

const verdict = (ops: Op[], g: Guarantee) => checkGuarantees(ops, [g])[0]!;
const FINAL = { meta: { final: true } };

describe("sequential", () => {
  it("accepts a stale read that process order allows but real time does not", () => {
    const b = new HistoryBuilder().op(1, "write", "x", 1).op(2, "read", "x", null);
    expect(verdict(b.ops(), "linearizable").verdict).toBe("violation");
    expect(verdict(b.ops(), "sequential").verdict).toBe("ok");
  });

  it("rejects a process that reads its own write and then the old value", () => {
    const b = new HistoryBuilder().op(1, "write", "x", 1).op(1, "read", "x", 1).op(1, "read", "x", null);
    const r = verdict(b.ops(), "sequential");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("process");
  });

  it("rejects histories that are sequential per key but not across keys", () => {
    // p1: w x=1; r y=absent.  p2: w y=1; r x=absent.  Each key alone is fine; together there is a cycle.
    const b = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "y", 1)
      .op(1, "read", "y", null)
      .op(2, "read", "x", null);
    const r = verdict(b.ops(), "sequential");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("not compositional");
  });
});

describe("causal (Bouajjani et al. bad patterns)", () => {
  it("ThinAirRead", () => {
    const bad = new HistoryBuilder().op(1, "read", "x", 5);
    const r = verdict(bad.ops(), "causal");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("ThinAirRead");
    const good = new HistoryBuilder().op(2, "write", "x", 5).op(1, "read", "x", 5);
    expect(verdict(good.ops(), "causal").verdict).toBe("ok");
  });

  it("CyclicCO: each process reads the other's later write before writing its own", () => {
    const b = new HistoryBuilder();
    b.invoke(1, "read", "x").invoke(2, "read", "y");
    b.read(1, 1).read(2, 1);
    b.op(1, "write", "y", 1).op(2, "write", "x", 1);
    const r = verdict(b.ops(), "causal");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("CyclicCO");
  });

  it("WriteCOInitRead: reading the initial value after a causally earlier write", () => {
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "write", "y", 1)
      .op(2, "read", "y", 1)
      .op(2, "read", "x", null);
    const r = verdict(bad.ops(), "causal");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("WriteCOInitRead");
    // Without the read of y, p2 has no causal link to p1's write of x: the initial value is allowed.
    const good = new HistoryBuilder().op(1, "write", "x", 1).op(1, "write", "y", 1).op(2, "read", "x", null);
    expect(verdict(good.ops(), "causal").verdict).toBe("ok");
  });

  it("WriteCORead: reading a value overwritten in the causal past", () => {
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "write", "x", 2)
      .op(2, "read", "x", 2)
      .op(2, "read", "x", 1);
    const r = verdict(bad.ops(), "causal");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("WriteCORead");
    const good = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(3, "write", "x", 2)
      .op(2, "read", "x", 2)
      .op(2, "read", "x", 1);
    expect(verdict(good.ops(), "causal").verdict).toBe("ok");
  });

  it("CyclicCF: CC allows two sessions to order concurrent writes differently, CCv does not", () => {
    const b = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(3, "read", "x", 1)
      .op(3, "read", "x", 2)
      .op(4, "read", "x", 2)
      .op(4, "read", "x", 1);
    expect(verdict(b.ops(), "causal").verdict).toBe("ok");
    const r = verdict(b.ops(), "causalConvergence");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("CyclicCF");
    const good = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(3, "read", "x", 1)
      .op(3, "read", "x", 2)
      .op(4, "read", "x", 2);
    expect(verdict(good.ops(), "causalConvergence").verdict).toBe("ok");
  });

  it("siblings: each returned value is read-from", () => {
    const good = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(3, "read", "x", null, "ok", { values: [1, 2] });
    expect(verdict(good.ops(), "causal").verdict).toBe("ok");
    // A sibling that p1 itself overwrote is not concurrent: WriteCORead.
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "write", "x", 2)
      .op(3, "read", "x", null, "ok", { values: [1, 2] });
    expect(verdict(bad.ops(), "causal").verdict).toBe("violation");
  });

  it("an info write is not program-ordered before its process's later ops", () => {
    const b = new HistoryBuilder()
      .invoke(1, "write", "x", 1)
      .info(1)
      .op(1, "read", "x", null)
      .op(2, "read", "x", 1)
      .op(2, "write", "y", 1)
      .op(1, "read", "y", null);
    expect(verdict(b.ops(), "causal").verdict).toBe("ok");
  });

  it("reads of absent after several deletes: attributed when a source fits, violation when none can", () => {
    const good = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "delete", "x", null)
      .op(2, "write", "x", 2)
      .op(2, "delete", "x", null)
      .op(3, "read", "x", null)
      .op(3, "read", "x", 2);
    const r = verdict(good.ops(), "causal");
    expect(r.verdict).toBe("ok");
    expect(r.reason).toContain("attributed");
    // p3 has seen both deletes overwritten (by x=3, after reading 2 and 1's successors): absent cannot be explained.
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "delete", "x", null)
      .op(1, "write", "x", 3)
      .op(2, "delete", "x", null)
      .op(2, "write", "x", 4)
      .op(3, "read", "x", 3)
      .op(3, "read", "x", 4)
      .op(3, "read", "x", null);
    const rb = verdict(bad.ops(), "causal");
    expect(rb.verdict).toBe("violation");
    expect(rb.examples[0]).toContain("every delete");
  });

  it("CCv with siblings: a write hidden by a returned sibling is not arbitrated against the others", () => {
    // p1 overwrites 1 with 3; a replica returns siblings [3, 2] after seeing 1 → 3: no cycle.
    const good = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "write", "x", 3)
      .op(2, "write", "x", 2)
      .op(3, "read", "x", null, "ok", { values: [3, 2] })
      .op(4, "read", "x", null, "ok", { values: [2, 3] });
    expect(verdict(good.ops(), "causalConvergence").verdict).toBe("ok");
    // Two readers each see both writes but return opposite single values: no arbitration fits both.
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(3, "read", "x", null, "ok", { values: [1, 2] })
      .op(3, "read", "x", 1)
      .op(4, "read", "x", null, "ok", { values: [1, 2] })
      .op(4, "read", "x", 2);
    expect(verdict(bad.ops(), "causal").verdict).toBe("ok");
    expect(verdict(bad.ops(), "causalConvergence").verdict).toBe("violation");
  });

  it("CCv with siblings allows for what a failed cas may have observed (the history does not record it)", () => {
    const build = (casFirst: boolean) => {
      const b = new HistoryBuilder().op(1, "write", "x", 1);
      if (casFirst) b.op(2, "cas", "x", [9, 8], "fail");
      return b
        .op(2, "write", "x", 2)
        .op(4, "write", "x", 3)
        .op(5, "read", "x", 1)
        .op(5, "read", "x", null, "ok", { values: [2, 3] })
        .op(6, "read", "x", 2)
        .op(6, "read", "x", 1)
        .ops();
    };
    expect(verdict(build(false), "causalConvergence").verdict).toBe("violation");
    expect(verdict(build(true), "causalConvergence").verdict).toBe("ok");
  });

  it("answers unknown when written values are not unique, unless the history is linearizable", () => {
    const b = new HistoryBuilder().op(1, "write", "x", 1).op(2, "write", "x", 1).op(3, "read", "x", 1);
    const r = checkCausal(b.ops(), false);
    expect(r.verdict).toBe("unknown");
    expect(r.reason).toContain("unique");
    const viaGuarantees = verdict(b.ops(), "causal");
    expect(viaGuarantees.verdict).toBe("ok");
    expect(viaGuarantees.reason).toContain("linearizable");
    // Not linearizable (the read of 2 comes after 3 was written by the same process): stays unknown.
    const c = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "x", 1)
      .op(1, "write", "x", 3)
      .op(1, "read", "x", 1);
    expect(verdict(c.ops(), "causal").verdict).toBe("unknown");
  });
});

describe("session guarantees", () => {
  it("readYourWrites", () => {
    const bad = new HistoryBuilder().op(2, "write", "x", 0).op(1, "write", "x", 1).op(1, "read", "x", 0);
    expect(verdict(bad.ops(), "readYourWrites").verdict).toBe("violation");
    // Another process's concurrent write may be ordered after ours.
    const good = new HistoryBuilder()
      .invoke(2, "write", "x", 0)
      .op(1, "write", "x", 1)
      .ok(2)
      .op(1, "read", "x", 0);
    expect(verdict(good.ops(), "readYourWrites").verdict).toBe("ok");
  });

  it("monotonicReads", () => {
    const bad = new HistoryBuilder()
      .op(2, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(1, "read", "x", 2)
      .op(1, "read", "x", 1);
    const r = verdict(bad.ops(), "monotonicReads");
    expect(r.verdict).toBe("violation");
    expect(r.count).toBe(1);
    const good = new HistoryBuilder()
      .op(2, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(1, "read", "x", 1)
      .op(1, "read", "x", 2);
    expect(verdict(good.ops(), "monotonicReads").verdict).toBe("ok");
  });

  it("monotonicWrites: a process's writes are seen in its order", () => {
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "write", "y", 1)
      .op(2, "read", "y", 1)
      .op(2, "read", "x", null);
    expect(verdict(bad.ops(), "monotonicWrites").verdict).toBe("violation");
    expect(verdict(bad.ops(), "monotonicReads").verdict).toBe("ok");
    const good = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "write", "y", 1)
      .op(2, "read", "y", 1)
      .op(2, "read", "x", 1);
    expect(verdict(good.ops(), "monotonicWrites").verdict).toBe("ok");
  });

  it("writesFollowReads: a write is ordered after what its writer had read", () => {
    const bad = new HistoryBuilder()
      .op(3, "write", "x", 1)
      .op(1, "read", "x", 1)
      .op(1, "write", "y", 1)
      .op(2, "read", "y", 1)
      .op(2, "read", "x", null);
    expect(verdict(bad.ops(), "writesFollowReads").verdict).toBe("violation");
    const good = new HistoryBuilder()
      .op(3, "write", "x", 1)
      .op(1, "read", "x", 1)
      .op(1, "write", "y", 1)
      .op(2, "read", "y", 1)
      .op(2, "read", "x", 1);
    expect(verdict(good.ops(), "writesFollowReads").verdict).toBe("ok");
  });

  it("siblings count as having seen every returned value", () => {
    const b = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(1, "read", "x", null, "ok", { values: [2, 1] });
    expect(verdict(b.ops(), "readYourWrites").verdict).toBe("ok");
  });
});

describe("convergence, lost writes, cas atomicity", () => {
  it("convergence: final reads agree / disagree", () => {
    const good = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "read", "x", 1, "ok", FINAL)
      .op(3, "read", "x", 1, "ok", FINAL);
    expect(verdict(good.ops(), "convergence").verdict).toBe("ok");
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1, "ok", { node: "n1" })
      .op(2, "read", "x", 1, "ok", { ...FINAL, node: "n1" })
      .op(3, "read", "x", null, "ok", { ...FINAL, node: "n2" });
    const r = verdict(bad.ops(), "convergence");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("n2");
  });

  it("convergence without final reads uses the last reads after the last write, and is unknown without them", () => {
    const bad = new HistoryBuilder().op(1, "write", "x", 1).op(2, "read", "x", 1).op(3, "read", "x", null);
    expect(verdict(bad.ops(), "convergence").verdict).toBe("violation");
    const none = new HistoryBuilder().op(1, "write", "x", 1);
    expect(verdict(none.ops(), "convergence").verdict).toBe("unknown");
  });

  it("noLostWrites", () => {
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "write", "x", 2)
      .op(3, "read", "x", 1, "ok", FINAL);
    const r = verdict(bad.ops(), "noLostWrites");
    expect(r.verdict).toBe("violation");
    expect(r.examples[0]).toContain("lost write");
    const concurrent = new HistoryBuilder()
      .invoke(1, "write", "x", 1)
      .op(2, "write", "x", 2)
      .ok(1)
      .op(3, "read", "x", 1, "ok", FINAL);
    expect(verdict(concurrent.ops(), "noLostWrites").verdict).toBe("ok");
    const deleted = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(2, "delete", "x", null)
      .op(3, "read", "x", null, "ok", FINAL);
    expect(verdict(deleted.ops(), "noLostWrites").verdict).toBe("ok");
    const vanished = new HistoryBuilder().op(1, "write", "x", 1).op(3, "read", "x", null, "ok", FINAL);
    expect(verdict(vanished.ops(), "noLostWrites").verdict).toBe("violation");
  });

  it("casAtomic: two swaps from one occurrence of a value", () => {
    const bad = new HistoryBuilder()
      .op(1, "write", "x", 0)
      .op(2, "cas", "x", [0, 1])
      .op(3, "cas", "x", [0, 2]);
    const r = verdict(bad.ops(), "casAtomic");
    expect(r.verdict).toBe("violation");
    expect(r.count).toBe(1);
    const reinstated = new HistoryBuilder()
      .op(1, "write", "x", 0)
      .op(2, "cas", "x", [0, 1])
      .op(1, "write", "x", 0)
      .op(3, "cas", "x", [0, 2]);
    expect(verdict(reinstated.ops(), "casAtomic").verdict).toBe("ok");
    const absent = new HistoryBuilder().op(2, "cas", "x", [null, 1]).op(3, "cas", "x", [null, 2]);
    expect(verdict(absent.ops(), "casAtomic").verdict).toBe("violation");
  });
});
