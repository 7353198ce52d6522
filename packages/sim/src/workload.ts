import {
  type AttemptDecision,
  ClientOp,
  type ClientReply,
  type ClientRequest,
  type HistoryEvent,
  type HistoryF,
  historyArgument,
  historyCompletion,
  KvError,
  nextBackoffMs,
  OP_TO_F,
  type RequestOptions,
  type Rng,
  type WriteRetry,
} from "@consistency-lab/kv";
import type { SimCluster } from "./sim-cluster.js";
import type { PlannedOp, WorkloadPlan, WorkloadSpec } from "./types.js";

/** keyName is the name of the i-th workload key. */
export function keyName(i: number): string {
  return `k${i}`;
}

/**
 * generatePlan draws every client's op list from `rng`. Written values are unique per key (`"<client>-<n>"`);
 * a cas leaves `expected` open so the client compares against the value it last saw of that key. With
 * `valueBytes`, values are padded with "." to that length (still unique: the prefix is).
 */
export function generatePlan(rng: Rng, spec: WorkloadSpec): WorkloadPlan {
  const weights: [PlannedOp["op"], number][] = [
    ["get", spec.mix.read ?? 0],
    ["put", spec.mix.write ?? 0],
    ["cas", spec.mix.cas ?? 0],
    ["delete", spec.mix.delete ?? 0],
  ];
  const total = weights.reduce((a, [, w]) => a + Math.max(0, w), 0);
  if (!(total > 0)) throw new TypeError("workload mix has no positive weight");
  const clients: PlannedOp[][] = [];
  for (let c = 0; c < spec.clients; c++) {
    const count = Math.floor(spec.ops / spec.clients) + (c < spec.ops % spec.clients ? 1 : 0);
    const ops: PlannedOp[] = [];
    for (let i = 0; i < count; i++) {
      let x = rng.next() * total;
      let op: PlannedOp["op"] = "get";
      for (const [o, w] of weights) {
        if (w <= 0) continue;
        op = o;
        if (x < w) break;
        x -= w;
      }
      const key = keyName(rng.int(Math.max(1, spec.keys)));
      if (op === "put" || op === "cas") ops.push({ op, key, value: padValue(`${c}-${i}`, spec.valueBytes) });
      else ops.push({ op, key });
    }
    clients.push(ops);
  }
  return { clients };
}

function padValue(v: string, bytes: number | undefined): string {
  return bytes === undefined || v.length >= bytes ? v : v.padEnd(bytes, ".");
}

interface ClientState {
  process: number;
  clientId: string;
  node: string;
  ops: PlannedOp[];
  next: number;
  seq: number;
  token: string | undefined;
  contexts: Map<string, string>;
  lastSeen: Map<string, string | null>;
  /** Number of the op in flight; 0 when idle. Stale callbacks compare against it. */
  inflight: number;
  opCount: number;
  done: boolean;
}

/** WorkloadRun is a running client workload. */
export interface WorkloadRun {
  /** True once every client has completed its last op. */
  isDone(): boolean;
}

/** WorkloadOptions configures `startWorkload`. */
export interface WorkloadOptions {
  cluster: SimCluster;
  plan: WorkloadPlan;
  spec: WorkloadSpec;
  requestOptions: RequestOptions | undefined;
  history: HistoryEvent[];
  rng: Rng;
  /** The engine's write-retry policy (EngineDefinition.writeRetry); default anywhere. */
  writeRetry?: WriteRetry;
}

/** nextBackoff is the real client's backoff (kv nextBackoffMs) at microsecond resolution, drawn from `rng`. */
function nextBackoff(rng: Rng, prev: number): number {
  return Math.round(nextBackoffMs(prev, () => rng.next()) * 1000) / 1000;
}

/** timeNs is the history time of virtual ms `ms`. */
export function timeNs(ms: number): number {
  return Math.round(ms * 1e6);
}

/** Completion is how an op ended: type, and the read value / siblings, error code and serving node. */
export interface Completion {
  type: "ok" | "fail" | "info";
  value?: unknown;
  values?: unknown[];
  error?: string;
  node?: string;
}

/**
 * completionEvent builds a completion in the order formatEvent writes fields. A read `ok` carries the value read
 * (or its siblings as `values`); every other completion repeats its invoke's arguments.
 */
export function completionEvent(
  process: number,
  f: HistoryF,
  key: string,
  invokeValue: unknown,
  ev: Completion,
  time: number,
  session: string,
  meta?: Record<string, unknown>,
): HistoryEvent {
  const e: HistoryEvent = { process, type: ev.type, f, key };
  if (ev.values !== undefined) e.values = ev.values;
  else e.value = ev.value !== undefined ? ev.value : invokeValue;
  e.time = time;
  if (ev.error !== undefined) e.error = ev.error;
  if (ev.node !== undefined) e.node = ev.node;
  e.session = session;
  if (meta !== undefined) e.meta = meta;
  return e;
}

/**
 * startWorkload starts one process per plan list. Each has one op in flight, thinks between ops, starts at node
 * `i mod N`, may move to a random node before an op, moves to another node after a timeout, follows KV_NOT_LEADER hints within the op's deadline
 * (the refusal is definite, so retrying with the same session seq is safe), and records ARCHITECTURE §4 events.
 */
export function startWorkload(o: WorkloadOptions): WorkloadRun {
  const { cluster: c, spec, history, rng } = o;
  const nodes = c.nodes;
  const clients: ClientState[] = o.plan.clients.map((ops, i) => ({
    process: i,
    clientId: `c${i}`,
    node: nodes[i % nodes.length]!,
    ops,
    next: 0,
    seq: 0,
    token: undefined,
    contexts: new Map(),
    lastSeen: new Map(),
    inflight: 0,
    opCount: 0,
    done: ops.length === 0,
  }));
  let remaining = clients.filter((cl) => !cl.done).length;

  const think = () => Math.round(rng.next() * 2 * spec.thinkMs * 1000) / 1000;

  const nextOp = (cl: ClientState) => {
    if (cl.next >= cl.ops.length) {
      cl.done = true;
      remaining--;
      return;
    }
    if (spec.switchNodeRate > 0 && rng.chance(spec.switchNodeRate)) cl.node = rng.pick(nodes);
    const p = cl.ops[cl.next++]!;
    const f: HistoryF = OP_TO_F[p.op];
    const expected =
      p.op === "cas" ? (p.expected !== undefined ? p.expected : (cl.lastSeen.get(p.key) ?? null)) : null;
    const value = historyArgument(p.op, p.value, expected);
    history.push({
      process: cl.process,
      type: "invoke",
      f,
      key: p.key,
      value,
      time: timeNs(c.now),
      session: cl.clientId,
    });
    const opNo = ++cl.opCount;
    cl.inflight = opNo;
    cl.seq++;
    let options = o.requestOptions;
    const ctx = p.op === "get" ? undefined : cl.contexts.get(p.key);
    if (ctx !== undefined) options = { ...(options ?? {}), context: ctx };
    const req: Omit<ClientRequest, "id"> = {
      op: p.op,
      key: p.key,
      session: { clientId: cl.clientId, seq: cl.seq },
    };
    if (p.value !== undefined && (p.op === "put" || p.op === "cas")) req.value = p.value;
    if (p.op === "cas") req.expected = expected;
    if (options !== undefined) req.options = options;
    const deadline = c.now + spec.deadlineMs;
    let currentId = "";
    /** True while an attempt is sent and unanswered. */
    let sent = false;
    // The real client's retry policy, shared with packages/client: the simulator retries exactly as it does.
    const attempt = new ClientOp({ op: p.op, sessions: true, writeRetry: o.writeRetry ?? "anywhere" });
    let appliedAt: string | undefined;
    let backoff = 0;

    const complete = (ev: Completion) => {
      cl.inflight = 0;
      history.push(completionEvent(cl.process, f, p.key, value, ev, timeNs(c.now), cl.clientId));
      c.after(think(), () => nextOp(cl));
    };

    const succeed = (reply: ClientReply, node: string) => {
      if (reply.context !== undefined) cl.contexts.set(p.key, reply.context);
      const done = historyCompletion(p.op, reply);
      if (done.type === "ok") {
        if (p.op === "get") {
          if (done.values === undefined) cl.lastSeen.set(p.key, done.value as string | null);
        } else cl.lastSeen.set(p.key, p.op === "delete" ? null : (p.value ?? null));
      }
      const ev: Completion = { type: done.type, node };
      if (done.values !== undefined) ev.values = done.values;
      else if (done.value !== undefined) ev.value = done.value;
      complete(ev);
    };

    const decide = (d: AttemptDecision, node: string) => {
      if (d.kind === "done") {
        succeed(d.reply, node);
        return;
      }
      if (d.kind === "end") {
        complete({ type: d.type, error: d.error.code, node });
        return;
      }
      if (attempt.maybeApplied && appliedAt === undefined) appliedAt = attempt.appliedAt;
      const t = d.target;
      if (t.to === "same" && appliedAt !== undefined) {
        cl.node = appliedAt;
        backoff = nextBackoff(rng, backoff);
      } else if (t.to === "hint" && t.node !== cl.node && nodes.includes(t.node)) {
        cl.node = t.node;
        backoff = 0;
      } else {
        cl.node = nodes[(nodes.indexOf(cl.node) + 1) % nodes.length]!;
        backoff = nextBackoff(rng, backoff);
      }
      if (c.now + backoff >= deadline) return; // the deadline timer ends the op
      if (backoff > 0) c.after(backoff, send);
      else send();
    };

    const onReply = (reply: ClientReply) => {
      if (cl.inflight !== opNo) return;
      sent = false;
      if (reply.token !== undefined) cl.token = reply.token;
      decide(attempt.replied(reply, cl.node), reply.meta?.node ?? cl.node);
    };

    const send = () => {
      if (cl.inflight !== opNo) return;
      if (cl.token !== undefined) req.session = { clientId: cl.clientId, seq: cl.seq, token: cl.token };
      sent = true;
      currentId = c.submit(cl.node, req, onReply);
    };

    c.at(deadline, () => {
      if (cl.inflight !== opNo) return;
      c.cancel(currentId);
      const d = sent
        ? attempt.sendFailed(new KvError("KV_TIMEOUT", "no reply before the deadline"), cl.node)
        : attempt.expired();
      complete(
        d.kind === "end"
          ? { type: d.type, error: d.error.code, node: cl.node }
          : { type: "info", error: "KV_TIMEOUT", node: cl.node },
      );
      // Like a client library failing over after a timeout: without it, clients bound to a dead node would
      // time out until a random switch, and liveness after a leader crash would hardly be exercised.
      if (nodes.length > 1) cl.node = rng.pick(nodes.filter((x) => x !== cl.node));
    });
    send();
  };

  for (const cl of clients) {
    if (cl.done) continue;
    c.after(Math.round(rng.next() * spec.thinkMs * 1000) / 1000, () => nextOp(cl));
  }
  return { isDone: () => remaining === 0 };
}
