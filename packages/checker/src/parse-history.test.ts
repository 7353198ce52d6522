import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HistoryError } from "./history-error.js";
import { parseHistory, readHistoryFile } from "./parse-history.js";

const lines = (...events: unknown[]) =>
  events.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).join("\n");

function errorLine(text: string): number {
  try {
    parseHistory(text);
  } catch (e) {
    expect(e).toBeInstanceOf(HistoryError);
    return (e as HistoryError).line;
  }
  throw new Error("expected a HistoryError");
}

describe("parseHistory", () => {
  it("pairs invokes with completions, keeps invoke arguments and the read value", () => {
    const ops = parseHistory(
      lines(
        { process: 3, type: "invoke", f: "cas", key: "x", value: [1, 2], time: 1200000 },
        { process: 1, type: "invoke", f: "read", key: "x", time: 1300000 },
        { process: 3, type: "ok", f: "cas", key: "x", value: null, time: 1900000 },
        { process: 1, type: "ok", f: "read", key: "x", value: 2, node: "n2" },
        "",
        { process: 1, type: "invoke", f: "read", key: "x" },
        { process: 1, type: "ok", f: "read", key: "x", values: ["a", "b"], meta: { final: true } },
      ),
    );
    expect(ops).toHaveLength(3);
    expect(ops[0]).toMatchObject({
      f: "cas",
      value: [1, 2],
      type: "ok",
      call: 0,
      ret: 2,
      callNs: 1200000,
      retNs: 1900000,
      invokeLine: 1,
      completeLine: 3,
    });
    expect(ops[1]).toMatchObject({ f: "read", value: 2, node: "n2", invokeLine: 2, completeLine: 4 });
    expect(ops[2]).toMatchObject({ values: ["a", "b"], final: true, invokeLine: 6 });
  });

  it("treats an invoke with no completion as info that never returns", () => {
    const ops = parseHistory(lines({ process: 1, type: "invoke", f: "write", value: 1 }));
    expect(ops[0]).toMatchObject({ type: "info", key: "", ret: Number.POSITIVE_INFINITY });
  });

  it("lets a process invoke again after an info", () => {
    const ops = parseHistory(
      lines(
        { process: 1, type: "invoke", f: "write", value: 1 },
        { process: 1, type: "info", f: "write", value: 1 },
        { process: 1, type: "invoke", f: "read" },
        { process: 1, type: "ok", f: "read", value: 1 },
      ),
    );
    expect(ops.map((o) => o.type)).toEqual(["info", "ok"]);
    expect(ops[0]!.ret).toBe(Number.POSITIVE_INFINITY);
  });

  it("names the line of bad JSON", () => {
    expect(errorLine(lines({ process: 1, type: "invoke", f: "read" }, "{not json"))).toBe(2);
  });

  it("names the line of an unknown type or f", () => {
    expect(errorLine(lines({ process: 1, type: "begin", f: "read" }))).toBe(1);
    expect(
      errorLine(lines({ process: 1, type: "invoke", f: "read" }, { process: 1, type: "ok", f: "scan" })),
    ).toBe(2);
  });

  it("names the line of a completion with no invoke", () => {
    expect(
      errorLine(
        lines({ process: 1, type: "invoke", f: "read" }, { process: 2, type: "ok", f: "read", value: 1 }),
      ),
    ).toBe(2);
  });

  it("names the line of a second op in flight for one process", () => {
    expect(
      errorLine(
        lines({ process: 1, type: "invoke", f: "read" }, "", {
          process: 1,
          type: "invoke",
          f: "write",
          value: 2,
        }),
      ),
    ).toBe(3);
  });

  it("names the line of a cas whose value is not a pair", () => {
    expect(errorLine(lines({ process: 1, type: "invoke", f: "cas", value: 3 }))).toBe(1);
    expect(errorLine(lines({ process: 1, type: "invoke", f: "cas", value: [1, 2, 3] }))).toBe(1);
  });

  it("rejects a completion whose f differs from the invoke", () => {
    expect(
      errorLine(lines({ process: 1, type: "invoke", f: "read" }, { process: 1, type: "ok", f: "write" })),
    ).toBe(2);
  });

  it("streams a file line by line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clab-parse-"));
    const file = join(dir, "h.jsonl");
    writeFileSync(
      file,
      `${lines({ process: 1, type: "invoke", f: "write", value: 1 }, { process: 1, type: "ok", f: "write", value: 1 })}\n`,
    );
    expect(await readHistoryFile(file)).toHaveLength(1);
    writeFileSync(file, lines({ process: 1, type: "invoke", f: "write", value: 1 }, "nope"));
    await expect(readHistoryFile(file)).rejects.toMatchObject({ name: "HistoryError", line: 2 });
  });
});
