import { describe, expect, it } from "vitest";
import { checkLinearizableSync } from "./linearizable.js";
import { renderReport } from "./report.js";
import { HistoryBuilder } from "./testing/history-builder.js";

describe("renderReport", () => {
  it("is one self-contained page that marks the failing op and carries the model states", () => {
    const b = new HistoryBuilder()
      .op(1, "write", "x", 1)
      .op(1, "write", "x", 2)
      .op(2, "read", "x", 1)
      .op(1, "write", "y", "</script>");
    const ops = b.ops();
    const r = checkLinearizableSync(ops, { keepLinearization: true });
    const html = renderReport(ops, r);
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html.match(/<\/script>/g)).toHaveLength(1);
    const data = JSON.parse(html.slice(html.indexOf("const D = ") + 10, html.indexOf(";\nconst app")));
    expect(data.verdict).toBe("violation");
    const x = data.perKey.find((k: { key: string }) => k.key === "x");
    expect(x.ops.filter((o: { bad?: boolean }) => o.bad).map((o: { label: string }) => o.label)).toEqual([
      "p2 read x → 1",
    ]);
    expect(x.ops.find((o: { lin?: number }) => o.lin === 2).state).toBe("2");
  });
});
