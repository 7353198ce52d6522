import { KvClient } from "@consistency-lab/client";
import type { HistoryEvent, KvStore, RequestOptions } from "@consistency-lab/kv";

export type BenchOp = "get" | "put" | "cas";

/** A client made for one load, recording its history when asked. */
export interface LoadClient {
  store: KvStore;
  close(): Promise<void>;
}

export interface ClusterAccess {
  endpoints: string[];
  token: string;
  adminToken: string;
}

let clientSerial = 0;

/**
 * makeClient connects a KvClient to some endpoints, recording history events into `history` when given. Every
 * client gets a fresh session id: a session's sequence numbers only go up (Raft thesis §6.3), so reusing an id
 * with a new client would look like a replay of old requests.
 */
export function makeClient(
  c: Pick<ClusterAccess, "token">,
  endpoints: string[],
  o: {
    timeoutMs: number;
    process: number;
    history?: HistoryEvent[];
    clientId?: string;
    pinned?: boolean;
    /** Mark recorded events as the closing reads after quiescence (checker: convergence, lost writes). */
    final?: boolean;
    /** Retries after the first attempt (default: until the deadline). */
    retries?: number;
  },
): KvClient {
  return new KvClient({
    endpoints,
    token: c.token,
    timeoutMs: o.timeoutMs,
    ...(o.retries !== undefined ? { retries: o.retries } : {}),
    // A pinned client is on one side of a partition: it never follows a leader hint to a node it was not given.
    ...(o.pinned ? { discover: false } : {}),
    process: o.process,
    clientId: o.clientId ?? `bench-${process.pid}-${++clientSerial}-${o.process}`,
    ...(o.history
      ? {
          record: (e: HistoryEvent) =>
            o.history!.push(o.final ? { ...e, meta: { ...e.meta, final: true } } : e),
        }
      : {}),
  });
}

export interface LoadResult {
  latencies: number[];
  ok: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

/** uniqueValue makes a unique value of about `bytes` bytes (unique values let the checker tell writes apart). */
export function uniqueValue(tag: string, bytes: number): string {
  return tag.length >= bytes ? tag : tag + ".".repeat(bytes - tag.length);
}

/**
 * runLoad drives `clients` closed-loop clients (each one op in flight) for `durationMs` and returns latencies of the
 * completed ops. put writes unique values; get reads keys written beforehand; cas swaps a client's own key from the
 * value it last wrote, so every cas is a real read-compare-write.
 */
/**
 * optionsFor keeps the request options that apply to an op: read options go with gets, write concern with writes,
 * so a variant like "lease reads" changes its reads and leaves its writes as they were.
 */
export function optionsFor(
  op: BenchOp | "delete",
  o: RequestOptions | undefined,
): RequestOptions | undefined {
  if (!o) return undefined;
  const { read, readFrom, maxStalenessMs, r, w, ...rest } = o;
  const out: RequestOptions = { ...rest };
  if (op === "get") Object.assign(out, dropUndefined({ read, readFrom, maxStalenessMs, r }));
  else if (op === "cas") Object.assign(out, dropUndefined({ r, w }));
  else Object.assign(out, dropUndefined({ w }));
  return Object.keys(out).length ? out : undefined;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export async function runLoad(o: {
  clients: KvStore[];
  op: BenchOp;
  durationMs: number;
  keys: number;
  valueBytes: number;
  requestOptions?: RequestOptions;
  tag: string;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let timeouts = 0;
  const started = performance.now();
  const end = started + o.durationMs;
  await Promise.all(
    o.clients.map(async (store, ci) => {
      let n = 0;
      const ownKey = `cas-${o.tag}-${ci}`;
      let current: string | null = null;
      if (o.op === "cas") {
        current = uniqueValue(`${o.tag}-c${ci}-init`, o.valueBytes);
        try {
          await store.put(ownKey, current, optionsFor("put", o.requestOptions));
        } catch {
          current = null;
        }
      }
      while (performance.now() < end) {
        const key = `k${(ci * 7919 + n) % o.keys}`;
        const t0 = performance.now();
        try {
          if (o.op === "get") await store.get(key, optionsFor("get", o.requestOptions));
          else if (o.op === "put")
            await store.put(
              key,
              uniqueValue(`${o.tag}-c${ci}-${n}`, o.valueBytes),
              optionsFor("put", o.requestOptions),
            );
          else {
            const next = uniqueValue(`${o.tag}-c${ci}-${n}`, o.valueBytes);
            const r = await store.cas(ownKey, current, next, optionsFor("cas", o.requestOptions));
            if (r.swapped) current = next;
            else current = (await store.get(ownKey)).value;
          }
          latencies.push(performance.now() - t0);
          ok++;
        } catch (e) {
          if ((e as { code?: string }).code === "KV_TIMEOUT") timeouts++;
          else errors++;
        }
        n++;
      }
    }),
  );
  return { latencies, ok, errors, timeouts, seconds: (performance.now() - started) / 1000 };
}
