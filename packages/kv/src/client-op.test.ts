import { describe, expect, it } from "vitest";
import { ClientOp } from "./client-op.js";
import { KvError } from "./errors.js";

describe("ClientOp", () => {
  it("a cas whose retry fails its compare after an attempt that may have swapped ends unknown, not failed", () => {
    // The first attempt's connection drops after the node may have applied it; the retry's compare then fails
    // against that attempt's own value. Recording `fail` would say the swap certainly never happened.
    const op = new ClientOp({ op: "cas", sessions: true });
    expect(op.sendFailed(new KvError("KV_ABORTED", "connection closed"), "n1").kind).toBe("retry");
    const d = op.replied({ id: "1.2", ok: true, swapped: false }, "n2");
    expect(d.kind).toBe("end");
    if (d.kind === "end") {
      expect(d.type).toBe("info");
      expect(d.error.code).toBe("KV_TIMEOUT");
    }
  });

  it("a cas answered swapped after such a retry is done (a session table replayed the first reply)", () => {
    const op = new ClientOp({ op: "cas", sessions: true });
    op.sendFailed(new KvError("KV_ABORTED", "connection closed"), "n1");
    expect(op.replied({ id: "1.2", ok: true, swapped: true }, "n1").kind).toBe("done");
  });

  it("a cas whose only attempts were certainly refused keeps its definite compare failure", () => {
    const op = new ClientOp({ op: "cas", sessions: true });
    expect(op.connectFailed(new KvError("KV_UNAVAILABLE", "refused")).kind).toBe("retry");
    const d = op.replied({ id: "1.2", ok: true, swapped: false }, "n2");
    expect(d).toEqual({ kind: "done", reply: { id: "1.2", ok: true, swapped: false } });
  });

  it("a put that may have applied and then times out ends unknown", () => {
    const op = new ClientOp({ op: "put", sessions: true });
    const d = op.sendFailed(new KvError("KV_TIMEOUT", "no reply"), "n1");
    expect(d.kind === "end" && d.type).toBe("info");
  });
});
