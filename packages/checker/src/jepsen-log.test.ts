import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HistoryError } from "./history-error.js";
import { jepsenLineEvent, parseJepsenLog, readJepsenLogFile } from "./jepsen-log.js";
import { registerModel } from "./kv-model.js";
import { checkLinearizableSync } from "./linearizable.js";

// Hand-written logs in the shape a Jepsen register test prints (`jepsen.util - PROCESS<TAB>TYPE<TAB>F<TAB>VALUE`).
const log = (...ops: string[]) => ops.map((o) => `INFO  jepsen.util - ${o.replaceAll(" ", "\t")}`).join("\n");

function errorOf(text: string): HistoryError {
  try {
    parseJepsenLog(text);
  } catch (e) {
    expect(e).toBeInstanceOf(HistoryError);
    return e as HistoryError;
  }
  throw new Error("expected a HistoryError");
}

describe("jepsenLineEvent", () => {
  it("reads process, type, f and the EDN value", () => {
    expect(jepsenLineEvent("INFO  jepsen.util - 12\t:invoke\t:cas\t[3 1]", 1)).toEqual({
      process: 12,
      type: "invoke",
      f: "cas",
      value: [3, 1],
    });
    expect(jepsenLineEvent("INFO  jepsen.util - 2\t:ok\t:read\tnil", 1)).toEqual({
      process: 2,
      type: "ok",
      f: "read",
      value: null,
    });
  });

  it("keeps a keyword result (:timed-out) as the error, not as a value", () => {
    expect(jepsenLineEvent("INFO  jepsen.util - 7\t:info\t:write\t:timed-out", 1)).toEqual({
      process: 7,
      type: "info",
      f: "write",
      error: "timed-out",
    });
  });

  it("accepts a timestamped logger prefix and fields separated by spaces", () => {
    expect(
      jepsenLineEvent("2017-03-01 12:00:00,123{GMT} INFO  [jepsen worker 3] jepsen.util - 3 :ok :write 4", 9),
    ).toEqual({ process: 3, type: "ok", f: "write", value: 4 });
    // Some logs have their tabs expanded to 8-column stops.
    expect(jepsenLineEvent("INFO  jepsen.util - 17  :fail   :read   :timed-out", 2)).toEqual({
      process: 17,
      type: "fail",
      f: "read",
      error: "timed-out",
    });
  });

  it("skips lines that are not client ops", () => {
    expect(jepsenLineEvent("", 1)).toBeUndefined();
    expect(jepsenLineEvent("INFO  jepsen.core - Running test", 1)).toBeUndefined();
    expect(jepsenLineEvent("INFO  jepsen.util - :nemesis\t:info\t:start\tnil", 1)).toBeUndefined();
  });
});

describe("parseJepsenLog", () => {
  it("pairs each process's invoke with its completion, with the log's line numbers", () => {
    const ops = parseJepsenLog(
      [
        "INFO  jepsen.core - Running test",
        log("0 :invoke :read nil", "1 :invoke :write 3", "1 :ok :write 3", "0 :ok :read 3"),
        log("2 :invoke :cas [3 4]", "2 :fail :cas [3 4]"),
      ].join("\n"),
    );
    expect(ops.map((o) => [o.process, o.f, o.type, o.value, o.key, o.invokeLine, o.completeLine])).toEqual([
      [0, "read", "ok", 3, "", 2, 5],
      [1, "write", "ok", 3, "", 3, 4],
      [2, "cas", "fail", [3, 4], "", 6, 7],
    ]);
    // A cas fail that carries its pair is the compare that did not match: no error, so it constrains.
    expect(ops[2]!.error).toBeUndefined();
  });

  it("an :info op stays indeterminate and the crashed client's thread comes back under a new process id", () => {
    const ops = parseJepsenLog(
      log("1 :invoke :write 2", "1 :info :write :timed-out", "6 :invoke :read nil", "6 :ok :read 2"),
    );
    expect(ops[0]).toMatchObject({
      process: 1,
      type: "info",
      error: "timed-out",
      ret: Number.POSITIVE_INFINITY,
    });
    expect(ops[1]).toMatchObject({ process: 6, type: "ok", value: 2 });
    // The timed-out write may have taken effect, so reading 2 is linearizable.
    expect(checkLinearizableSync(ops, { model: registerModel }).verdict).toBe("ok");
  });

  it("a read that failed with :timed-out constrains nothing", () => {
    const ops = parseJepsenLog(log("4 :invoke :read nil", "4 :fail :read :timed-out", "4 :invoke :read nil"));
    expect(ops[0]).toMatchObject({ type: "fail", error: "timed-out" });
    expect(ops[1]).toMatchObject({ type: "info" });
    expect(checkLinearizableSync(ops, { model: registerModel }).verdict).toBe("ok");
  });

  it("starts from an absent register (nil), so reading a value nobody wrote is a violation", () => {
    const fresh = parseJepsenLog(
      log("0 :invoke :read nil", "0 :ok :read nil", "1 :invoke :cas [0 1]", "1 :fail :cas [0 1]"),
    );
    expect(checkLinearizableSync(fresh, { model: registerModel }).verdict).toBe("ok");
    const stale = parseJepsenLog(
      log("0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :read nil", "1 :ok :read nil"),
    );
    expect(checkLinearizableSync(stale, { model: registerModel }).verdict).toBe("violation");
  });

  it("names the line of a malformed op", () => {
    expect(errorOf(log("0 :invoke :read nil", "0 :ok :frob 3")).line).toBe(2);
    expect(errorOf(log("0 :invoke :cas [1]")).message).toMatch(/line 1: a cas value must be a pair/);
    expect(errorOf(log("0 :invoke :write [1")).message).toMatch(/line 1: cannot read the value/);
    expect(errorOf(log("0 :started :read nil")).message).toMatch(/line 1: unknown type :started/);
    expect(errorOf(log("0 :invoke :write 1", "0 :ok :write :timed-out")).line).toBe(2);
    expect(errorOf(`\n\n${log("x :invoke :read nil")}`).line).toBe(3);
  });

  it("rejects what the JSON Lines parser rejects: a second invoke while one is in flight, a stray completion", () => {
    expect(errorOf(log("0 :invoke :read nil", "0 :invoke :write 1")).message).toMatch(
      /line 2: .*still in flight/,
    );
    expect(errorOf(log("3 :ok :write 1")).message).toMatch(/line 1: .*no op in flight/);
  });

  it("readJepsenLogFile streams a file the same way", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jepsen-log-"));
    const text = log("0 :invoke :write 1", "1 :invoke :read nil", "0 :ok :write 1", "1 :ok :read 1");
    writeFileSync(join(dir, "h.log"), `${text}\n`);
    expect(await readJepsenLogFile(join(dir, "h.log"))).toEqual(parseJepsenLog(text));
  });
});
