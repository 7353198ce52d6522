import {
  type AdminCommand,
  type ClientReply,
  type ClientRequest,
  type EngineCore,
  type Envelope,
  errorReply,
  KvError,
  type NodeId,
  type PersistOp,
  type Ready,
} from "@consistency-lab/kv";
import type { LoggerLike } from "./node-transport.js";

/** DriverIo is how the driver reaches the outside: durable storage and the peer network. */
export interface DriverIo {
  /** Resolves once the batch is durable (LevelStorage: one `batch(..., { sync: true })`). */
  persist(ops: PersistOp[]): Promise<void>;
  send(to: NodeId, message: unknown): void;
}

/** DriverCounters are what the status endpoint reports about served traffic. */
export interface DriverCounters {
  /** Client requests answered with ok. */
  opsOk: number;
  /** Client requests answered with an error. */
  opsFailed: number;
  /** Ready batches persisted. */
  batches: number;
  /** Records written. */
  records: number;
  /** Requests waiting for their reply now. */
  pending: number;
}

type ReplyFn = (r: ClientReply) => void;

/** Default cap on requests waiting for a reply; past it new requests get KV_OVERLOADED (bounded queue). */
export const DEFAULT_MAX_PENDING = 10_000;

/**
 * Driver runs one engine core against wall-clock inputs. It owns the ordering contract of ARCHITECTURE §2:
 * per Ready, release `sendEarly`, then make `persist` durable, then release `send` and `replies`. Readies are
 * processed strictly one after another (etcd-io/raft's node loop does the same): while a batch is being
 * persisted, new inputs accumulate in the core and come out together in the next Ready (group commit), and
 * nothing from a later Ready is released before an earlier Ready's persist is durable.
 *
 * Request ids from the wire are only unique per connection, so the driver gives each request a node-unique id
 * on the way into the core and restores the client's id on the reply.
 */
export class Driver {
  readonly counters: DriverCounters = { opsOk: 0, opsFailed: 0, batches: 0, records: 0, pending: 0 };
  private readonly waiting = new Map<string, { clientId: string; reply: ReplyFn; admin: boolean }>();
  private nextId = 0;
  private lastNow: number;
  private draining: Promise<void> | null = null;
  private scheduled = false;
  /** An input arrived while a drain was running; re-check once it ends. */
  private dirty = false;
  private stopping = false;
  private failed: Error | null = null;

  constructor(
    readonly core: EngineCore<unknown>,
    private readonly io: DriverIo,
    private readonly log: LoggerLike,
    private readonly onFatal: (err: Error) => void,
    private readonly maxPending = DEFAULT_MAX_PENDING,
    now = Date.now(),
  ) {
    this.lastNow = now;
  }

  /** peerMessage feeds one message from a peer. A core that throws on it is logged, not fatal: bad wire data. */
  peerMessage(from: NodeId, message: unknown): void {
    if (this.stopping) return;
    this.keepClockFresh();
    try {
      this.core.step(from, message);
    } catch (e) {
      this.log.warn({ from, err: errorInfo(e) }, "core rejected a peer message");
    }
    this.schedule();
  }

  /**
   * tickEveryMs is the period of the node's timer. Input is delivered to the core with its clock at most this old:
   * when a tick is due (an event-loop stall, a GC pause) the driver ticks first, so a core may trust `now` to within
   * one period (Raft lease reads rely on it).
   */
  tickEveryMs = 10;
  private lastTickWall = 0;

  private keepClockFresh(): void {
    const now = Date.now();
    if (now - this.lastTickWall >= this.tickEveryMs) this.tick(now);
  }

  /** clientRequest feeds one client request; `reply` is called exactly once, after its effects are durable. */
  clientRequest(req: ClientRequest, reply: ReplyFn): void {
    if (this.refuse(req.id, reply)) return;
    this.keepClockFresh();
    const id = this.track(req.id, reply, false);
    try {
      this.core.request({ ...req, id });
    } catch (e) {
      this.log.error({ err: errorInfo(e), op: req.op }, "core threw on a client request");
      this.answer(
        errorReply(id, new KvError("KV_INVALID_ARGUMENT", `request refused: ${errorInfo(e).message}`)),
      );
    }
    this.schedule();
  }

  /** adminCommand passes an operator command to `core.admin`, or answers KV_NOT_SUPPORTED. */
  adminCommand(cmd: AdminCommand, reply: ReplyFn): void {
    if (this.refuse(cmd.id, reply)) return;
    if (typeof this.core.admin !== "function") {
      reply(
        errorReply(cmd.id, new KvError("KV_NOT_SUPPORTED", "this engine has no admin commands"), {
          node: this.core.id,
        }),
      );
      return;
    }
    const id = this.track(cmd.id, reply, true);
    try {
      this.core.admin({ ...cmd, id });
    } catch (e) {
      this.answer(
        errorReply(id, new KvError("KV_INVALID_ARGUMENT", `admin command refused: ${errorInfo(e).message}`)),
      );
    }
    this.schedule();
  }

  /** tick advances the core's clock to wall-clock time, never backwards. */
  tick(now = Date.now()): void {
    if (this.stopping) return;
    this.lastTickWall = now;
    this.lastNow = Math.max(this.lastNow, now);
    try {
      this.core.tick(this.lastNow);
    } catch (e) {
      this.fail(new Error(`core threw on tick: ${errorInfo(e).message}`, { cause: e }));
      return;
    }
    this.schedule();
  }

  /**
   * stop refuses new inputs and resolves once the Ready in flight (and whatever the core already produced) is
   * persisted and released.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    while (this.draining || this.scheduled) await (this.draining ?? new Promise((r) => setImmediate(r)));
  }

  /** idle resolves when no Ready is being processed or scheduled (tests). */
  async idle(): Promise<void> {
    while (this.draining || this.scheduled) await (this.draining ?? new Promise((r) => setImmediate(r)));
  }

  private refuse(id: string, reply: ReplyFn): boolean {
    const meta = { node: this.core.id };
    if (this.stopping || this.failed) {
      reply(errorReply(id, new KvError("KV_UNAVAILABLE", "node is stopping"), meta));
      return true;
    }
    if (this.waiting.size >= this.maxPending) {
      this.counters.opsFailed++;
      reply(
        errorReply(id, new KvError("KV_OVERLOADED", `more than ${this.maxPending} requests waiting`), meta),
      );
      return true;
    }
    return false;
  }

  private track(clientId: string, reply: ReplyFn, admin: boolean): string {
    const id = `r${++this.nextId}`;
    this.waiting.set(id, { clientId, reply, admin });
    this.counters.pending = this.waiting.size;
    return id;
  }

  /**
   * schedule starts a drain on the next turn of the event loop, so inputs that arrive together (a burst of
   * requests, several peer messages) share one Ready and one synced batch.
   */
  private schedule(): void {
    if (this.failed) return;
    if (this.draining) {
      this.dirty = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.draining) return;
      this.dirty = false;
      this.draining = this.drain().finally(() => {
        this.draining = null;
        if (this.dirty) {
          this.dirty = false;
          this.schedule();
        }
      });
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.failed) return;
      let rd: Ready<unknown>;
      try {
        rd = this.core.ready();
      } catch (e) {
        this.fail(new Error(`core threw in ready(): ${errorInfo(e).message}`, { cause: e }));
        return;
      }
      if (isEmpty(rd)) return;
      // Raft thesis §10.2.1: the core marks what may leave before its own append is durable.
      this.sendAll(rd.sendEarly);
      if (rd.persist.length > 0) {
        try {
          await this.io.persist(rd.persist);
        } catch (e) {
          // A failed synced write means we can no longer promise durability: stop serving rather than ack.
          this.fail(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        this.counters.batches++;
        this.counters.records += rd.persist.length;
      }
      this.sendAll(rd.send);
      for (const r of rd.replies) this.answer(r);
    }
  }

  private sendAll(envs: Envelope<unknown>[] | undefined): void {
    if (!envs) return;
    for (const e of envs) {
      try {
        this.io.send(e.to, e.message);
      } catch (err) {
        this.log.warn({ to: e.to, err: errorInfo(err) }, "send failed");
      }
    }
  }

  private answer(r: ClientReply): void {
    const w = this.waiting.get(r.id);
    if (!w) {
      this.log.warn({ id: r.id }, "core replied to an unknown request id");
      return;
    }
    this.waiting.delete(r.id);
    this.counters.pending = this.waiting.size;
    if (!w.admin) {
      if (r.ok) this.counters.opsOk++;
      else this.counters.opsFailed++;
    }
    try {
      w.reply({ ...r, id: w.clientId });
    } catch (e) {
      this.log.warn({ err: errorInfo(e) }, "reply callback threw");
    }
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.log.error({ err: errorInfo(err) }, "node failed; refusing further work");
    // Outcome of waiting requests is unknown to their clients: they time out (KV_TIMEOUT) on their side.
    this.onFatal(err);
  }
}

function isEmpty(rd: Ready<unknown>): boolean {
  return (
    rd.persist.length === 0 &&
    rd.send.length === 0 &&
    rd.replies.length === 0 &&
    !(rd.sendEarly && rd.sendEarly.length > 0)
  );
}

/** errorInfo turns anything thrown into loggable plain data. */
export function errorInfo(e: unknown): { message: string; code?: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" ? { message: e.message, code } : { message: e.message };
  }
  return { message: String(e) };
}
