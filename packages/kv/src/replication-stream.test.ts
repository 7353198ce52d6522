import { describe, expect, it } from "vitest";
import type { VersionVector } from "./clocks/version-vector.js";
import {
  indexPositions,
  ReplicationStream,
  type Shipment,
  type StreamOptions,
  type StreamSource,
  vectorPositions,
} from "./replication-stream.js";
import { deepClone, fingerprint } from "./state.js";

/** A log of strings shipped by index: the size of an entry is its length. */
function logSource(log: string[]): StreamSource<number, string> {
  return {
    ...indexPositions,
    entriesAfter: (_peer, from) => log.slice(from),
    sizeOf: (e) => e.length,
    advance: (from, entries) => from + entries.length,
  };
}

const spans = (ss: Shipment<number, string>[]) => ss.map((s) => `${s.to}:${s.from}+${s.entries.length}`);

function stream(options: Partial<StreamOptions> = {}, probe?: number) {
  return new ReplicationStream<number>(
    { peers: ["a", "b"], acked: 0, now: 0, ...(probe === undefined ? {} : { probe }) },
    { resendMs: 100, ...options },
  );
}

describe("ReplicationStream: shipping", () => {
  it("ships new entries to every peer from where the last batch ended", () => {
    const log = ["x"];
    const s = stream();
    expect(spans(s.ship(logSource(log)))).toEqual(["a:0+1", "b:0+1"]);
    log.push("y", "z");
    expect(s.ship(logSource(log)).map((x) => x.entries)).toEqual([
      ["y", "z"],
      ["y", "z"],
    ]);
    expect(s.ship(logSource(log))).toEqual([]);
  });

  it("bounds every batch in entries and in bytes; an entry over the byte budget goes alone", () => {
    const log = ["aaaa", "bbbb", "cccc", "d", "e", "f", "g", "hhhhhhhhhhhh", "i"];
    const s = stream({ maxEntries: 3, maxBytes: 8, maxInFlight: 100 });
    const out = s.ship(logSource(log), "a");
    expect(out.map((x) => x.entries)).toEqual([
      ["aaaa", "bbbb"],
      ["cccc", "d", "e"],
      ["f", "g"],
      ["hhhhhhhhhhhh"],
      ["i"],
    ]);
    for (const b of out) expect(b.bytes <= 8 || b.entries.length === 1).toBe(true);
  });

  it("keeps at most maxInFlight batches beyond the acknowledged position; each ack lets the next go", () => {
    const log = Array.from({ length: 20 }, (_, i) => `e${i}`);
    const src = logSource(log);
    const s = stream({ maxEntries: 2, maxInFlight: 3 });
    expect(spans(s.ship(src, "a"))).toEqual(["a:0+2", "a:2+2", "a:4+2"]);
    expect(s.ship(src, "a")).toEqual([]);
    // A cumulative ack covering two batches opens two slots; a duplicate or stale ack opens none.
    expect(spans(s.ack("a", 4, src))).toEqual(["a:6+2", "a:8+2"]);
    expect(s.ack("a", 4, src)).toEqual([]);
    expect(s.ack("a", 2, src)).toEqual([]);
    expect(s.acked("a")).toBe(4);
  });

  it("catches a peer far behind up by acknowledgements alone, without waiting for the resend timer", () => {
    const log = Array.from({ length: 500 }, (_, i) => `e${i}`);
    const src = logSource(log);
    const s = stream({ maxEntries: 16, maxInFlight: 2 });
    const wire = s.ship(src, "a");
    let held = 0;
    while (wire.length > 0) {
      const b = wire.shift()!;
      if (b.from === held) held += b.entries.length;
      wire.push(...s.ack("a", held, src));
    }
    expect(held).toBe(500);
    expect(s.progress("a")).toMatchObject({ acked: 500, sent: 500, inFlight: [] });
  });
});

describe("ReplicationStream: resend timer", () => {
  it("resends one batch from the acknowledged position after resendMs without progress", () => {
    const log = ["a", "b", "c", "d"];
    const src = logSource(log);
    const s = stream({ maxEntries: 1, maxInFlight: 2 });
    expect(spans(s.ship(src, "a"))).toEqual(["a:0+1", "a:1+1"]);
    expect(spans(s.ack("a", 1, src))).toEqual(["a:2+1"]); // progress at t=0 restarts the timer
    expect(s.tick(99, src).filter((x) => x.to === "a")).toEqual([]);
    // Both in flight are taken as lost: one batch from 1, the window opens again with its ack.
    expect(spans(s.tick(100, src).filter((x) => x.to === "a"))).toEqual(["a:1+1"]);
    expect(spans(s.ack("a", 2, src))).toEqual(["a:2+1", "a:3+1"]);
  });

  it("does not resend to a peer that has everything, unless heartbeats are on", () => {
    const src = logSource(["x"]);
    const quiet = stream();
    quiet.ship(src);
    quiet.ack("a", 1, src);
    quiet.ack("b", 1, src);
    expect(quiet.tick(500, src)).toEqual([]);
    const beating = stream({ heartbeat: true });
    beating.ship(src);
    beating.ack("a", 1, src);
    expect(spans(beating.tick(500, src))).toEqual(["a:1+0", "b:0+1"]);
    expect(beating.progress("a")!.inFlight).toEqual([]);
  });

  it("fires after resendTicks ticks even when the clock stands still", () => {
    const src = logSource(["x"]);
    const s = stream({ resendTicks: 3 });
    s.tick(1000, src);
    expect(s.tick(1000, src)).toEqual([]);
    expect(s.tick(1000, src)).toEqual([]);
    expect(spans(s.tick(1000, src))).toEqual(["a:0+1", "b:0+1"]);
  });

  it("a first batch to a peer with nothing outstanding starts its timer; later ones do not", () => {
    const log: string[] = [];
    const src = logSource(log);
    const s = stream({ resendTicks: 1000 });
    s.tick(1000, src); // due at once, nothing to send: the timer restarts at 1000
    s.tick(1050, src);
    log.push("x");
    s.ship(src, "a"); // the window was empty: the timer restarts at 1050
    log.push("y");
    s.tick(1100, src);
    s.ship(src, "a"); // pipelined behind x: the timer keeps running from 1050
    expect(s.tick(1149, src).filter((x) => x.to === "a")).toEqual([]);
    expect(spans(s.tick(1150, src).filter((x) => x.to === "a"))).toEqual(["a:0+2"]);
  });
});

describe("ReplicationStream: probing and refusals", () => {
  it("probes one batch at a time; a refusal moves the probe, an ack ends probing", () => {
    const log = ["a", "b", "c", "d", "e"];
    const src = logSource(log);
    const s = stream({ maxEntries: 10 }, 3);
    expect(spans(s.ship(src, "a"))).toEqual(["a:3+2"]);
    log.push("f");
    expect(s.ship(src, "a")).toEqual([]); // the probe is out
    expect(spans(s.retry("a", 2, src))).toEqual(["a:2+4"]);
    expect(s.ship(src, "a")).toEqual([]);
    expect(s.ack("a", 6, src)).toEqual([]);
    expect(s.progress("a")).toMatchObject({ acked: 6, probe: null, inFlight: [] });
    log.push("g");
    expect(spans(s.ship(src, "a"))).toEqual(["a:6+1"]);
    // While probing, a resend goes from the probe point, not from an acknowledged 0.
    expect(spans(s.tick(1000, src).filter((x) => x.to === "b"))).toEqual(["b:3+4"]);
  });

  it("a refusal after acknowledgements restarts from the later of the hint and the acknowledged position", () => {
    const log = ["a", "b", "c", "d", "e", "f"];
    const src = logSource(log);
    const s = stream({ maxEntries: 2 });
    s.ship(src, "a");
    s.ack("a", 2, src);
    expect(spans(s.retry("a", 1, src))).toEqual(["a:2+2", "a:4+2"]);
    s.rewind("a", 1);
    expect(s.acked("a")).toBe(1);
    expect(spans(s.retry("a", 1, src))).toEqual(["a:1+2", "a:3+2", "a:5+1"]);
  });
});

describe("ReplicationStream: version-vector positions", () => {
  // Two origins' sequences, shipped by vector; the round says which origin goes first.
  const logs: Record<string, string[]> = { p: ["p1", "p2", "p3"], q: ["q1", "q2", "q3"] };
  const src: StreamSource<VersionVector, { o: string; seq: number }> = {
    ...vectorPositions,
    *entriesAfter(_peer, from, round) {
      const origins = Object.keys(logs);
      for (let i = 0; i < origins.length; i++) {
        const o = origins[(round + i) % origins.length]!;
        for (let seq = (from[o] ?? 0) + 1; seq <= logs[o]!.length; seq++) yield { o, seq };
      }
    },
    sizeOf: () => 1,
    advance: (from, entries) => {
      const out = { ...from };
      for (const e of entries) out[e.o] = Math.max(out[e.o] ?? 0, e.seq);
      return out;
    },
  };

  it("rotates the first origin per batch and is acknowledged by a vector", () => {
    const s = new ReplicationStream<VersionVector>(
      { peers: ["a"], acked: {}, now: 0 },
      { resendMs: 100, maxEntries: 2, maxInFlight: 2 },
    );
    const out = s.ship(src);
    expect(out.map((b) => b.entries.map((e) => `${e.o}${e.seq}`))).toEqual([
      ["p1", "p2"],
      ["q1", "q2"],
    ]);
    expect(s.progress("a")!.sent).toEqual({ p: 2, q: 2 });
    // An ack covering only the first batch frees one slot.
    const next = s.ack("a", { p: 2 }, src);
    expect(next.map((b) => b.entries.map((e) => `${e.o}${e.seq}`))).toEqual([["p3", "q3"]]);
    expect(s.ack("a", { p: 3, q: 3 }, src)).toEqual([]);
    expect(s.progress("a")!.inFlight).toEqual([]);
  });
});

describe("ReplicationStream: plain data", () => {
  it("clones into an independent stream with the same fingerprint that ships the same batches", () => {
    const log = ["a", "b", "c"];
    const src = logSource(log);
    const s = stream({ maxEntries: 1, maxInFlight: 2 });
    s.ship(src);
    s.ack("a", 1, src);
    const c = deepClone(s);
    expect(c).toBeInstanceOf(ReplicationStream);
    expect(fingerprint(c)).toBe(fingerprint(s));
    expect(c.tick(100, src)).toEqual(s.tick(100, src));
    expect(c.ack("b", 2, src)).toEqual(s.ack("b", 2, src));
    expect(fingerprint(c)).toBe(fingerprint(s));
    c.ack("a", 3, src);
    expect(s.acked("a")).toBe(1);
    expect(fingerprint(c)).not.toBe(fingerprint(s));
  });
});
