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

/**
 * generateHistory simulates a linearizable register store: each process runs ops back to back; each op takes
 * effect at a random point inside its interval, in that order, on per-key registers with unique written values.
 * Info ops take effect or not (half each), possibly after their process gave up. Used by the bench and by tests
 * that need large histories; the result is linearizable unless corruptLastRead is set.
 */
export function generateHistory(o: GenerateOptions): HistoryEvent[] {
  let s = (o.seed ?? 1) >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
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
