import { MAX_MESSAGE_BYTES, utf8Bytes } from "@consistency-lab/kv";
import { describe, expect, it } from "vitest";
import { entrySize, RaftLog } from "./log.js";
import type { Entry } from "./messages.js";

const put = (index: number, value: string): Entry => ({
  index,
  term: 1,
  cmd: { kind: "kv", op: "put", key: `k${index}`, value },
});

describe("RaftLog.slice", () => {
  it("sizes entries in UTF-8 bytes, so values of 3-byte characters do not make a batch 3x over its budget", () => {
    const v = "€".repeat(300_000); // 900,000 bytes, 300,000 UTF-16 units
    expect(entrySize(put(1, v))).toBeGreaterThanOrEqual(utf8Bytes(v));
    const log = new RaftLog();
    log.append([1, 2, 3, 4].map((i) => put(i, v)));
    const batch = log.slice(1, 4, 64, 1024 * 1024);
    expect(batch.map((x) => x.index)).toEqual([1]);
    expect(batch.reduce((n, x) => n + entrySize(x), 0)).toBeLessThan(MAX_MESSAGE_BYTES);
  });

  it("takes at least one entry even when it is over the byte budget, and stops at the count", () => {
    const log = new RaftLog();
    log.append([put(1, "x".repeat(5000)), put(2, "y"), put(3, "z")]);
    expect(log.slice(1, 3, 64, 100).map((x) => x.index)).toEqual([1]);
    expect(log.slice(2, 3, 64, 1000).map((x) => x.index)).toEqual([2, 3]);
    expect(log.slice(1, 3, 1, 1 << 20).map((x) => x.index)).toEqual([1]);
  });
});
