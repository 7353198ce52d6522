import type { HistoryEvent } from "@consistency-lab/kv";

/** GenerateOptions shape a generated history. */
export interface GenerateOptions {
  ops: number;
  keys: number;
  processes: number;
  /** Fraction of ops whose outcome is unknown (info), 0..1. */
  infoRate?: number;
  seed?: number;
  /** Mean op latency and mean think time, in abstract ticks. */
  latency?: number;
  think?: number;
  /** Relative weights of the ops; default read 0.5, write 0.3, cas 0.15, delete 0.05. */
  mix?: { read?: number; write?: number; cas?: number; delete?: number };
  /** Append a read of a value nobody wrote on the first key at the end: the history is then not linearizable. */
  corruptLastRead?: boolean;
}

/** xorshift32 is the generators' seeded PRNG (Marsaglia 2003): floats in [0, 1), the same sequence everywhere. */
function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/**
 * generateHistory simulates a linearizable register store: each process runs ops back to back; each op takes
 * effect at a random point inside its interval, in that order, on per-key registers with unique written values.
 * Info ops take effect or not (half each), possibly after their process gave up. Used by the bench and by tests
 * that need large histories; the result is linearizable unless corruptLastRead is set.
 */
export function generateHistory(o: GenerateOptions): HistoryEvent[] {
  const rnd = xorshift32(o.seed ?? 1);
  const latency = o.latency ?? 10;
  const think = o.think ?? 5;
  interface G {
    p: number;
    f: HistoryEvent["f"];
    key: string;
    value: unknown;
    call: number;
    lin: number;
    ret: number;
    info: boolean;
    applied: boolean;
    result?: unknown;
    swapped?: boolean;
  }
  const m = { read: 0.5, write: 0.3, cas: 0.15, delete: 0.05, ...o.mix };
  const total = m.read + m.write + m.cas + m.delete;
  const cut = [m.read / total, (m.read + m.write) / total, (m.read + m.write + m.cas) / total];
  const perProc = Math.ceil(o.ops / o.processes);
  const gen: G[] = [];
  let unique = 0;
  for (let p = 0; p < o.processes && gen.length < o.ops; p++) {
    let t = rnd() * think;
    for (let i = 0; i < perProc && gen.length < o.ops; i++) {
      const call = t;
      const dur = 1 + rnd() * 2 * latency;
      const ret = call + dur;
      const info = rnd() < (o.infoRate ?? 0);
      const r = rnd();
      const key = `k${Math.floor(rnd() * o.keys)}`;
      const f: HistoryEvent["f"] =
        r < cut[0]! ? "read" : r < cut[1]! ? "write" : r < cut[2]! ? "cas" : "delete";
      const value = f === "write" ? `v${++unique}` : f === "cas" ? [null, `v${++unique}`] : null;
      // An info op may take effect after its process gave up waiting.
      const lin = info ? call + rnd() * dur * 3 : call + rnd() * dur;
      gen.push({ p, f, key, value, call, lin, ret, info, applied: !info || rnd() < 0.5 });
      t = ret + rnd() * think;
    }
  }
  const state = new Map<string, string | null>();
  const lastWritten = new Map<string, string>();
  for (const g of [...gen].sort((a, b) => a.lin - b.lin)) {
    if (!g.applied) continue;
    const cur = state.get(g.key) ?? null;
    switch (g.f) {
      case "read":
        g.result = cur;
        break;
      case "write":
        state.set(g.key, g.value as string);
        lastWritten.set(g.key, g.value as string);
        break;
      case "delete":
        state.set(g.key, null);
        break;
      case "cas": {
        // Expect the current value most of the time, so that swaps happen.
        const v = g.value as [string | null, string];
        if (rnd() < 0.7) v[0] = cur;
        else v[0] = lastWritten.get(g.key) ?? null;
        g.swapped = cur === v[0];
        if (g.swapped) state.set(g.key, v[1]);
        break;
      }
    }
  }
  const events: { t: number; e: HistoryEvent }[] = [];
  for (const g of gen) {
    // Info reads do nothing; keep them simple.
    events.push({
      t: g.call,
      e: { process: g.p, type: "invoke", f: g.f, key: g.key, value: g.f === "read" ? null : g.value },
    });
    if (g.info) {
      events.push({ t: g.ret, e: { process: g.p, type: "info", f: g.f, key: g.key } });
      continue;
    }
    if (g.f === "read")
      events.push({
        t: g.ret,
        e: { process: g.p, type: "ok", f: "read", key: g.key, value: g.result ?? null },
      });
    else if (g.f === "cas")
      events.push({
        t: g.ret,
        e: { process: g.p, type: g.swapped ? "ok" : "fail", f: "cas", key: g.key, value: g.value },
      });
    else events.push({ t: g.ret, e: { process: g.p, type: "ok", f: g.f, key: g.key, value: g.value } });
  }
  events.sort((a, b) => a.t - b.t);
  const out = events.map((x) => ({ ...x.e, time: Math.round(x.t * 1e6) }));
  if (o.corruptLastRead) {
    const end = (events[events.length - 1]?.t ?? 0) + 1;
    out.push({
      process: "checker-probe",
      type: "invoke",
      f: "read",
      key: "k0",
      value: null,
      time: Math.round(end * 1e6),
    });
    out.push({
      process: "checker-probe",
      type: "ok",
      f: "read",
      key: "k0",
      value: "never-written",
      time: Math.round((end + 1) * 1e6),
    });
  }
  return out;
}

/** KvHistoryOptions shape a Jepsen-style kv history (generateKvHistory). */
export interface KvHistoryOptions {
  /** Client processes, each running ops back to back (10–100 in the bench). */
  processes: number;
  keys: number;
  ops: number;
  seed?: number;
  /** Mean op latency and mean think time, in abstract ticks. Default 10 and 5. */
  latency?: number;
  think?: number;
  /**
   * Fraction of ops that stall, as a client's request does while it retries across a leader change: such an op
   * lasts up to `stallFactor` × latency and overlaps most of the others on its key. Default 0.05.
   */
  stallRate?: number;
  /** Default 40. */
  stallFactor?: number;
  /**
   * Relative weights of the ops; default read 0.4, append 0.4, write (put) 0.2. Puts matter: appends a put
   * overwrites before anyone reads them may have taken effect in any order, which is what makes a search branch.
   */
  mix?: { read?: number; append?: number; write?: number };
  /** Fraction of ops whose outcome is unknown (info), 0..1. Default 0. */
  infoRate?: number;
  /**
   * Where the stale read of the violating twin sits, as a fraction of the history (0..1): the first read at or after
   * that point that can be made stale, else the last one before it. Default 1 (the last such read): the search then
   * has the whole key before it to get through, the hard case.
   */
  staleAt?: number;
}

/** KvHistoryTwins is a linearizable history and the same history with one read made stale. */
export interface KvHistoryTwins {
  linearizable: HistoryEvent[];
  violating: HistoryEvent[];
  /** The read made stale: its key, its position among the history's events (invoke), what it read in each twin. */
  stale: { key: string; invokeEvent: number; value: string | null; staleValue: string | null };
}

/** KvGenOp is one simulated op of generateKvHistory. */
interface KvGenOp {
  p: number;
  f: "read" | "write" | "append";
  key: string;
  value: string | null;
  call: number;
  /** When it took effect (if it did). */
  lin: number;
  ret: number;
  info: boolean;
  applied: boolean;
  /** The key's value just before the op took effect. */
  before: string | null;
  /** A read's result. */
  result: string | null;
}

/**
 * generateKvHistory simulates a linearizable kv store under a Jepsen- or Porcupine-style kv workload (get, put and
 * append on a few keys, unique values `x <process> <n> y`, as in Porcupine's `test_data/kv` histories): each process
 * runs ops back to back, a few of them stall, and each op takes effect at a random point inside its interval. The
 * violating twin is the same history with one read made stale: it returns the value its key held before an append
 * or put that completed before the read was invoked, which no order respecting real time can explain (see
 * `staleValueFor`). Seeded and deterministic; throws if the history has no read that can be made stale.
 */
export function generateKvHistory(o: KvHistoryOptions): KvHistoryTwins {
  const rnd = xorshift32(o.seed ?? 1);
  const latency = o.latency ?? 10;
  const think = o.think ?? 5;
  const stallRate = o.stallRate ?? 0.05;
  const stallFactor = o.stallFactor ?? 40;
  const m = { read: 0.4, append: 0.4, write: 0.2, ...o.mix };
  const total = m.read + m.append + m.write;
  const perProc = Math.ceil(o.ops / o.processes);
  const gen: KvGenOp[] = [];
  for (let p = 0; p < o.processes && gen.length < o.ops; p++) {
    let t = rnd() * think;
    for (let n = 0; n < perProc && gen.length < o.ops; n++) {
      const stalled = rnd() < stallRate;
      const dur = 1 + rnd() * 2 * latency * (stalled ? stallFactor : 1);
      const info = rnd() < (o.infoRate ?? 0);
      const r = rnd() * total;
      const f = r < m.read ? "read" : r < m.read + m.append ? "append" : "write";
      const key = String(Math.floor(rnd() * o.keys));
      const lin = info ? t + rnd() * dur * 3 : t + rnd() * dur;
      const value = f === "read" ? null : `x ${p} ${n} y`;
      gen.push({
        p,
        f,
        key,
        value,
        call: t,
        lin,
        ret: t + dur,
        info,
        applied: !info || rnd() < 0.5,
        before: null,
        result: null,
      });
      t += dur + rnd() * think;
    }
  }
  const state = new Map<string, string | null>();
  const order = [...gen].sort((a, b) => a.lin - b.lin);
  for (const g of order) {
    if (!g.applied) continue;
    const cur = state.get(g.key) ?? null;
    g.before = cur;
    if (g.f === "read") g.result = cur;
    else if (g.f === "write") state.set(g.key, g.value);
    else state.set(g.key, (cur ?? "") + g.value);
  }

  let pick: { g: KvGenOp; stale: string | null } | undefined;
  const reads = [...gen].filter((g) => g.f === "read" && !g.info).sort((a, b) => a.call - b.call);
  const from = Math.min(reads.length - 1, Math.floor((o.staleAt ?? 1) * reads.length));
  for (let i = from; i < reads.length && !pick; i++) {
    const stale = staleValueFor(reads[i]!, gen);
    if (stale !== undefined) pick = { g: reads[i]!, stale };
  }
  for (let i = from - 1; i >= 0 && !pick; i--) {
    const stale = staleValueFor(reads[i]!, gen);
    if (stale !== undefined) pick = { g: reads[i]!, stale };
  }
  if (!pick) throw new Error("generateKvHistory: no read can be made stale; use more ops or fewer keys");

  const events = (staleRead: KvGenOp | undefined, staleValue: string | null): HistoryEvent[] => {
    const evs: { t: number; seq: number; e: HistoryEvent }[] = [];
    for (const g of gen) {
      evs.push({
        t: g.call,
        seq: evs.length,
        e: { process: g.p, type: "invoke", f: g.f, key: g.key, value: g.f === "read" ? null : g.value },
      });
      if (g.info) {
        evs.push({ t: g.ret, seq: evs.length, e: { process: g.p, type: "info", f: g.f, key: g.key } });
        continue;
      }
      const value = g.f === "read" ? (g === staleRead ? staleValue : g.result) : g.value;
      evs.push({ t: g.ret, seq: evs.length, e: { process: g.p, type: "ok", f: g.f, key: g.key, value } });
    }
    evs.sort((a, b) => a.t - b.t || a.seq - b.seq);
    return evs.map((x) => ({ ...x.e, time: Math.round(x.t * 1e6) }));
  };
  const linearizable = events(undefined, null);
  const violating = events(pick.g, pick.stale);
  const g = pick.g;
  const invokeEvent = linearizable.findIndex(
    (e) => e.type === "invoke" && e.process === g.p && e.time === Math.round(g.call * 1e6),
  );
  return {
    linearizable,
    violating,
    stale: { key: g.key, invokeEvent, value: g.result, staleValue: pick.stale },
  };
}

/**
 * staleValueFor finds a value read `r` can be made to return so that no linearization explains it: the state of
 * r's key just before a determinate append or put `w` that completed before r was invoked. Sound because values
 * are unique and nothing deletes: that state is `put a` (or nothing) followed by a sequence of appends, and `w`,
 * which must precede r, would have to be linearized before `a` — ruled out by requiring that `a` completed before
 * `w` was invoked (or that there is no `a`: an append stays in the value until a put, and a put starts every later
 * value). Undefined when r has no such w.
 */
function staleValueFor(r: KvGenOp, gen: readonly KvGenOp[]): string | null | undefined {
  let best: KvGenOp | undefined;
  for (const w of gen) {
    if (w.key !== r.key || w.f === "read" || w.info || w.ret >= r.call) continue;
    if (w.before === r.result) continue;
    if (!best || w.lin > best.lin) best = w;
  }
  if (!best) return undefined;
  const stale = best.before;
  // The put that starts the stale value, if any, must have completed before best was invoked.
  const put =
    stale === null
      ? undefined
      : gen.find((g) => g.key === r.key && g.f === "write" && g.applied && stale.startsWith(g.value!));
  if (put && !(put.ret < best.call && !put.info)) return undefined;
  return stale;
}
