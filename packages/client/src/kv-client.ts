import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  type AdminCommand,
  type AttemptDecision,
  type CasResult,
  ClientOp,
  type ClientReply,
  type ClientRequest,
  type GetResult,
  type HistoryEvent,
  type HistoryF,
  historyArgument,
  historyCompletion,
  KvError,
  type KvOp,
  type KvStore,
  type NodeId,
  type NodeStatus,
  nextBackoffMs,
  OP_TO_F,
  type RequestOptions,
  toResult,
  validateRequest,
  type WriteResult,
  type WriteRetry,
} from "@consistency-lab/kv";
import type { Codec, FaultCommand } from "@consistency-lab/transport-ws";
import { WireConnection } from "./wire-connection.js";

/** ClientOptions configure a KvClient. */
export interface ClientOptions {
  /** Node endpoints, e.g. ["ws://127.0.0.1:7101", …]; tried in order until one serves. */
  endpoints: string[];
  /** Cluster token. */
  token: string;
  /** Deadline of each operation in ms (default 5000); past it the op fails with KV_TIMEOUT. */
  timeoutMs?: number;
  /** Most attempts per operation (default: unlimited until the deadline). */
  retries?: number;
  /** Stable client id for sessions (default: a random UUID). */
  clientId?: string;
  /** Send `session {clientId, seq, token}` with every request (default true). */
  sessions?: boolean;
  /** Receives ARCHITECTURE §4 history events (invoke/ok/fail/info) for every operation. */
  record?: (e: HistoryEvent) => void;
  /** The history `process` of this client (default: clientId). */
  process?: number | string;
  /** wss: path of the PEM CA file that signed the nodes' certificates. */
  tls?: { ca?: string };
  /** Frame codec (default: the transport's default, msgpack). */
  codec?: Codec;
  /**
   * Follow KV_NOT_LEADER hints to members outside `endpoints` (learned from the welcome); default true. With false
   * the client talks only to the endpoints it was given — a client on one side of a partition that cannot reach
   * the rest of the cluster.
   */
  discover?: boolean;
}

function nowNs(): number {
  return Number(process.hrtime.bigint());
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * KvClient is the KvStore of a cluster over WebSocket, for any engine. It finds the leader (following
 * KV_NOT_LEADER hints through the id → endpoint map of the welcome), retries definite refusals until the deadline,
 * retries writes with the same session `{clientId, seq}` so engines with sessions apply them once (Raft thesis
 * §6.3), carries the session token of the last reply (session guarantees), and can record the history it sees.
 *
 * A KvClient is ONE process of the history and one session: its operations run one at a time in call order
 * (concurrent calls queue), which is what sequence numbers, session guarantees and the history format assume. Use
 * one KvClient per concurrent worker. Each op's deadline counts from when it starts, not from when it was queued.
 *
 * Outcome rules: an op fails with KV_TIMEOUT (recorded `info`) when the deadline passes while an attempt that may
 * have taken effect is unanswered; if every attempt was refused with a definite code it fails with the last code
 * (recorded `fail` with `error`).
 */
export class KvClient implements KvStore {
  readonly clientId: string;
  private readonly endpoints: string[];
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly sessions: boolean;
  private readonly ca: Buffer | undefined;
  private readonly conns = new Map<string, Promise<WireConnection>>();
  private readonly adminConns = new Map<string, Promise<WireConnection>>();
  private members: Record<NodeId, string> = {};
  private preferred: string | undefined;
  private rr = 0;
  private seq = 0;
  private callNo = 0;
  private token: string | undefined;
  /** Where a maybe-applied write may be retried: the engine says so in every node's welcome. */
  private writeRetry: WriteRetry = "anywhere";
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: ClientOptions) {
    if (!Array.isArray(opts.endpoints) || opts.endpoints.length === 0) {
      throw new TypeError("endpoints must be a non-empty array");
    }
    if (typeof opts.token !== "string") throw new TypeError("token must be a string");
    this.endpoints = [...opts.endpoints];
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxAttempts = opts.retries === undefined ? Number.POSITIVE_INFINITY : Math.max(1, opts.retries + 1);
    this.clientId = opts.clientId ?? randomUUID();
    this.sessions = opts.sessions ?? true;
    this.ca = opts.tls?.ca ? readFileSync(opts.tls.ca) : undefined;
  }

  /** sessionToken is the token of the last reply that carried one (sent back with every request). */
  get sessionToken(): string | undefined {
    return this.token;
  }

  async get(key: string, options?: RequestOptions): Promise<GetResult> {
    return toResult("get", await this.enqueue("get", { key, ...(options ? { options } : {}) }));
  }

  async put(key: string, value: string, options?: RequestOptions): Promise<WriteResult> {
    return toResult("put", await this.enqueue("put", { key, value, ...(options ? { options } : {}) }));
  }

  async delete(key: string, options?: RequestOptions): Promise<WriteResult> {
    return toResult("delete", await this.enqueue("delete", { key, ...(options ? { options } : {}) }));
  }

  async cas(
    key: string,
    expected: string | null,
    value: string,
    options?: RequestOptions,
  ): Promise<CasResult> {
    return toResult(
      "cas",
      await this.enqueue("cas", { key, expected, value, ...(options ? { options } : {}) }),
    );
  }

  private enqueue(op: KvOp, fields: Omit<ClientRequest, "id" | "op">): Promise<ClientReply> {
    const run = this.tail.then(() => this.run(op, fields));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private record(e: Omit<HistoryEvent, "process" | "time">): void {
    if (!this.opts.record) return;
    const ev: HistoryEvent = { process: this.opts.process ?? this.clientId, ...e, time: nowNs() };
    if (this.sessions) ev.session = this.clientId;
    try {
      this.opts.record(ev);
    } catch {
      // A recorder bug must not change the outcome of the operation.
    }
  }

  private async run(op: KvOp, fields: Omit<ClientRequest, "id" | "op">): Promise<ClientReply> {
    if (this.closed) throw new KvError("KV_CLOSED", "client is closed");
    const f: HistoryF = OP_TO_F[op];
    const seq = ++this.seq;
    const deadline = performance.now() + this.timeoutMs;
    const argValue = op === "get" ? undefined : historyArgument(op, fields.value, fields.expected);
    this.record({
      type: "invoke",
      f,
      key: fields.key,
      ...(argValue !== undefined ? { value: argValue } : {}),
    });
    // What no node would accept is refused here, before anything is sent (recorded as a definite fail): an
    // oversized value gets KV_TOO_LARGE at once instead of a closed connection and retries until KV_TIMEOUT, and a
    // lone surrogate gets KV_INVALID_VALUE instead of being turned into U+FFFD by the UTF-8 encoding on the wire.
    try {
      validateRequest({ id: "", op, ...fields } as ClientRequest);
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      this.record({
        type: "fail",
        f,
        key: fields.key,
        ...(argValue !== undefined ? { value: argValue } : {}),
        error: e.code,
      });
      throw e;
    }
    const attempt = new ClientOp({ op, sessions: this.sessions, writeRetry: this.writeRetry });
    let url = this.preferred ?? this.endpoints[this.rr % this.endpoints.length]!;
    /** The endpoint that may hold an earlier attempt of this write. */
    let appliedUrl: string | undefined;
    let backoff = 0;

    const finish = (d: AttemptDecision): ClientReply => {
      if (d.kind === "done") return d.reply;
      if (d.kind !== "end") throw new TypeError("finish takes a final decision");
      this.record({
        type: d.type,
        f,
        key: fields.key,
        ...(argValue !== undefined ? { value: argValue } : {}),
        error: d.type === "info" ? "KV_TIMEOUT" : d.error.code,
      });
      throw d.error;
    };

    while (true) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || attempt.attempts >= this.maxAttempts) return finish(attempt.expired());
      if (this.closed) return finish(attempt.end(new KvError("KV_CLOSED", "client closed")));
      if (backoff > 0) {
        // An attempt sent with no time left could only end as KV_TIMEOUT; stopping here keeps the last definite
        // refusal as the (certain) outcome.
        if (backoff >= remaining) return finish(attempt.expired());
        await sleep(backoff);
      }
      let d: AttemptDecision | undefined;
      let conn: WireConnection | undefined;
      try {
        conn = await this.connection(url, deadline - performance.now());
      } catch (e) {
        d = attempt.connectFailed(e instanceof KvError ? e : new KvError("KV_UNAVAILABLE", String(e)));
      }
      if (conn !== undefined) {
        attempt.writeRetry = this.writeRetry;
        const id = `${seq}.${attempt.attempts + 1}`;
        const req: ClientRequest = { id, op, ...fields };
        if (this.sessions) {
          req.session = { clientId: this.clientId, seq };
          if (this.token !== undefined) req.session.token = this.token;
        }
        try {
          const reply = WireConnection.reply(
            await conn.call({ t: "req", req }, id, deadline - performance.now()),
          );
          if (reply.token !== undefined) this.token = reply.token;
          d = attempt.replied(reply, url);
        } catch (e) {
          d = attempt.sendFailed(e instanceof KvError ? e : new KvError("KV_ABORTED", String(e)), url);
        }
        if (attempt.maybeApplied && appliedUrl === undefined) appliedUrl = attempt.appliedAt;
      }
      d ??= attempt.expired();
      if (d.kind === "done") {
        this.preferred = url;
        this.recordOk(op, f, fields, argValue, d.reply, conn?.nodeId ?? url);
        return d.reply;
      }
      if (d.kind === "end") return finish(d);
      const t = d.target;
      if (t.to === "same" && appliedUrl !== undefined) {
        url = appliedUrl;
        backoff = this.nextBackoff(backoff);
        continue;
      }
      if (t.to === "hint") {
        const hinted = this.members[t.node] ?? conn?.members[t.node];
        const reachable =
          hinted !== undefined && (this.opts.discover !== false || this.endpoints.includes(hinted));
        if (reachable && hinted !== url) {
          url = hinted;
          backoff = 0;
          continue;
        }
      }
      url = this.next(url);
      backoff = this.nextBackoff(backoff);
    }
  }

  private recordOk(
    op: KvOp,
    f: HistoryF,
    fields: Omit<ClientRequest, "id" | "op">,
    argValue: unknown,
    reply: ClientReply,
    servedBy: NodeId,
  ): void {
    if (!this.opts.record) return;
    const node = reply.meta?.node ?? servedBy;
    const c = historyCompletion(op, reply);
    const ev: Omit<HistoryEvent, "process" | "time"> = { type: c.type, f, key: fields.key, node };
    if (c.values !== undefined) ev.values = c.values;
    else if (c.value !== undefined) ev.value = c.value;
    else if (argValue !== undefined) ev.value = argValue;
    this.record(ev);
  }

  private nextBackoff(prev: number): number {
    return nextBackoffMs(prev, Math.random);
  }

  private next(url: string): string {
    const i = this.endpoints.indexOf(url);
    this.rr = i >= 0 ? i + 1 : this.rr + 1;
    this.preferred = undefined;
    return this.endpoints[this.rr % this.endpoints.length]!;
  }

  private connection(url: string, timeoutMs: number): Promise<WireConnection> {
    return this.cachedConnection(this.conns, url, "client", this.opts.token, timeoutMs);
  }

  private cachedConnection(
    cache: Map<string, Promise<WireConnection>>,
    url: string,
    role: "client" | "admin",
    token: string,
    timeoutMs: number,
  ): Promise<WireConnection> {
    // Admin connections are per token too: a connection opened with one token must not serve another's calls.
    const key = role === "admin" ? `${url}\n${token}` : url;
    const cached = cache.get(key);
    if (cached) {
      return cached.then((c) => {
        if (c.isOpen) return c;
        if (cache.get(key) === cached) cache.delete(key);
        return this.cachedConnection(cache, url, role, token, timeoutMs);
      });
    }
    const opening = WireConnection.open(url, {
      role,
      token,
      timeoutMs: Math.max(1, timeoutMs),
      ...(this.opts.codec ? { codec: this.opts.codec } : {}),
      ...(this.ca ? { ca: this.ca } : {}),
    }).then((c) => {
      Object.assign(this.members, c.members);
      if (role === "client") this.writeRetry = c.writeRetry;
      return c;
    });
    cache.set(key, opening);
    opening.catch(() => {
      if (cache.get(key) === opening) cache.delete(key);
    });
    return opening;
  }

  /**
   * status asks every endpoint (or just `endpoint`) for its NodeStatus. An unreachable node is reported as
   * `{ id: endpoint, role: "unreachable", error }` rather than failing the whole call.
   */
  async status(endpoint?: string): Promise<NodeStatus[]> {
    const urls = endpoint ? [endpoint] : this.endpoints;
    return Promise.all(
      urls.map(async (url) => {
        try {
          const conn = await this.connection(url, this.timeoutMs);
          const id = `status.${++this.callNo}`;
          const s = WireConnection.status(await conn.call({ t: "status", id }, id, this.timeoutMs));
          return { ...s, endpoint: url };
        } catch (e) {
          const code = e instanceof KvError ? e.code : "KV_UNAVAILABLE";
          return { id: url, role: "unreachable", endpoint: url, error: code } as NodeStatus;
        }
      }),
    );
  }

  /** admin sends an operator command to one node with the admin token and resolves with its reply. */
  async admin(endpoint: string, cmd: AdminCommand, adminToken: string): Promise<ClientReply> {
    const conn = await this.cachedConnection(this.adminConns, endpoint, "admin", adminToken, this.timeoutMs);
    return WireConnection.reply(await conn.call({ t: "admin", cmd }, cmd.id, this.timeoutMs));
  }

  /** fault changes the injected faults of one node's outgoing links (admin token); rejects with a KvError. */
  async fault(endpoint: string, cmd: FaultCommand, adminToken: string): Promise<void> {
    const conn = await this.cachedConnection(this.adminConns, endpoint, "admin", adminToken, this.timeoutMs);
    const id = `fault.${++this.callNo}`;
    const rep = WireConnection.reply(await conn.call({ t: "fault", id, cmd }, id, this.timeoutMs));
    if (rep.error) throw KvError.from(rep.error);
  }

  /** close closes every connection; later operations fail with KV_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.conns.values(), ...this.adminConns.values()];
    this.conns.clear();
    this.adminConns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
}
