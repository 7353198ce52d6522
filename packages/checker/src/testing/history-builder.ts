import type { HistoryEvent } from "@consistency-lab/kv";
import type { Op } from "../op.js";
import { parseHistory } from "../parse-history.js";

/**
 * HistoryBuilder writes small histories for tests and benchmarks: `b.invoke(1, "write", "x", 1).ok(1)` in the
 * order events happened.
 */
export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  private time = 0;

  invoke(
    process: number | string,
    f: HistoryEvent["f"],
    key: string | undefined,
    value?: unknown,
    extra: Partial<HistoryEvent> = {},
  ): this {
    const e: HistoryEvent = {
      process,
      type: "invoke",
      f,
      value: value ?? null,
      time: ++this.time * 1_000_000,
      ...extra,
    };
    if (key !== undefined) e.key = key;
    this.events.push(e);
    return this;
  }

  complete(process: number | string, type: "ok" | "fail" | "info", extra: Partial<HistoryEvent> = {}): this {
    const inv = [...this.events].reverse().find((e) => e.process === process && e.type === "invoke");
    if (!inv) throw new Error(`no invoke for ${process}`);
    const e: HistoryEvent = { process, type, f: inv.f, time: ++this.time * 1_000_000, ...extra };
    if (inv.key !== undefined) e.key = inv.key;
    this.events.push(e);
    return this;
  }

  ok(process: number | string, extra: Partial<HistoryEvent> = {}): this {
    return this.complete(process, "ok", extra);
  }

  /** Complete a read with the value read. */
  read(process: number | string, value: unknown, extra: Partial<HistoryEvent> = {}): this {
    return this.complete(process, "ok", { value, ...extra });
  }

  fail(process: number | string, extra: Partial<HistoryEvent> = {}): this {
    return this.complete(process, "fail", extra);
  }

  info(process: number | string): this {
    return this.complete(process, "info");
  }

  /** A whole op with no overlap: invoke and complete at once. */
  op(
    process: number | string,
    f: HistoryEvent["f"],
    key: string | undefined,
    value: unknown,
    type: "ok" | "fail" | "info" = "ok",
    extra: Partial<HistoryEvent> = {},
  ): this {
    const result = f === "read" ? (type === "ok" ? { value } : {}) : {};
    this.invoke(process, f, key, f === "read" ? null : value, extra.meta ? { meta: extra.meta } : {});
    return this.complete(process, type, { ...result, ...extra });
  }

  ops(): Op[] {
    return parseHistory(this.events);
  }

  text(): string {
    return this.events.map((e) => JSON.stringify(e)).join("\n");
  }
}
