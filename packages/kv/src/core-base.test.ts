import { describe, expect, it } from "vitest";
import { CoreBase } from "./core-base.js";
import type { NodeStatus } from "./engine.js";
import { KvError } from "./errors.js";
import type { ClientReply, ClientRequest } from "./types.js";

class Counter extends CoreBase<{ n: number }> {
  readonly id = "n1";
  data = new Map<string, string>();
  dirty = new Set<string>();
  handled = 0;

  step(from: string, message: { n: number }): void {
    this.out.to(from, { n: message.n + 1 });
  }
  tick(_now: number): void {}
  status(): NodeStatus {
    return { id: this.id, role: "replica" };
  }
  protected meta(): ClientReply["meta"] {
    return { node: this.id };
  }
  protected override checkRequest(req: ClientRequest): void {
    if (req.key === "forbidden") throw new KvError("KV_INVALID_ARGUMENT", "not this key");
  }
  protected handleRequest(req: ClientRequest): void {
    this.handled++;
    if (req.op === "put") {
      this.data.set(req.key, req.value!);
      this.dirty.add(req.key);
    }
    this.out.reply({ id: req.id, ok: true });
  }
  protected override beforeReady(): void {
    for (const k of this.dirty) this.out.put(`k/${k}`, this.data.get(k));
    this.dirty.clear();
  }
}

describe("CoreBase", () => {
  it("answers a request the KV interface refuses with its code, without calling the handler", () => {
    const c = new Counter();
    c.request({ id: "1", op: "put", key: "", value: "v" } as ClientRequest);
    c.request({ id: "2", op: "get", key: "forbidden" });
    const rd = c.ready();
    expect(rd.replies.map((r) => r.error?.code)).toEqual(["KV_INVALID_KEY", "KV_INVALID_ARGUMENT"]);
    expect(rd.replies[0]!.meta).toEqual({ node: "n1" });
    expect(c.handled).toBe(0);
  });

  it("hands a good request to the handler and writes batched state before the outbox is taken", () => {
    const c = new Counter();
    c.request({ id: "1", op: "put", key: "a", value: "x" });
    c.step("n2", { n: 1 });
    const rd = c.ready();
    expect(rd.persist).toEqual([{ type: "put", key: "k/a", value: "x" }]);
    expect(rd.send).toEqual([{ to: "n2", message: { n: 2 } }]);
    expect(rd.replies).toEqual([{ id: "1", ok: true }]);
    expect(c.ready()).toEqual({ persist: [], send: [], replies: [] });
  });

  it("clones into an independent core with the same fingerprint", () => {
    const a = new Counter();
    a.request({ id: "1", op: "put", key: "a", value: "x" });
    const b = a.clone();
    expect(b).toBeInstanceOf(Counter);
    expect(b.fingerprint()).toBe(a.fingerprint());
    expect(b.ready()).toEqual(a.ready());
    b.request({ id: "2", op: "put", key: "b", value: "y" });
    expect(b.fingerprint()).not.toBe(a.fingerprint());
    expect(a.data.has("b")).toBe(false);
  });
});
