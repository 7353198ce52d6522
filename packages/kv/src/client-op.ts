import { isDefinite, KvError, type KvErrorCode } from "./errors.js";
import type { HistoryType } from "./history.js";
import type { ClientReply, KvOp } from "./types.js";

/**
 * RETRYABLE_CODES are refusals a different node (or the same one a moment later) may not give: a client retries
 * them until its deadline. Every other code ends the operation.
 */
export const RETRYABLE_CODES: ReadonlySet<KvErrorCode> = new Set<KvErrorCode>([
  "KV_NOT_LEADER",
  "KV_UNAVAILABLE",
  "KV_OVERLOADED",
  "KV_CLOSED",
  "KV_ABORTED",
]);

/** Connection-level refusals that no retry can fix (a wrong token stays wrong). */
const FATAL_CONNECT: ReadonlySet<KvErrorCode> = new Set<KvErrorCode>([
  "KV_UNAUTHORIZED",
  "KV_VERSION_MISMATCH",
  "KV_PROTOCOL",
]);

/**
 * WriteRetry says where a client may retry a write whose earlier attempt may have taken effect:
 * - `anywhere`: the engine deduplicates retries cluster-wide (a replicated session table: Raft thesis §6.3), or a
 *   duplicate is harmless to what it declares;
 * - `same-node`: the engine deduplicates per node only (a leaderless store cannot know what another node
 *   accepted), so the retry must go back to the node that may hold the first attempt. A second copy of the write
 *   at another node would be a different write, not in the causal past of the client's later operations.
 */
export type WriteRetry = "anywhere" | "same-node";

/** AttemptTarget is where the next attempt goes. */
export type AttemptTarget =
  | { to: "hint"; node: string }
  | { to: "next" }
  /** Back to the node that may hold an earlier attempt of this write (WriteRetry `same-node`). */
  | { to: "same" };

/** AttemptDecision is what a client does after one attempt. */
export type AttemptDecision =
  | { kind: "done"; reply: ClientReply }
  | { kind: "retry"; target: AttemptTarget }
  /** The op ended without success: `error` is what to throw, `type` how the history records it. */
  | { kind: "end"; type: "fail" | "info"; error: KvError };

/** ClientOpOptions configure one ClientOp. */
export interface ClientOpOptions {
  op: KvOp;
  /** Requests carry `session {clientId, seq}`, so engines with sessions apply a retried write once. */
  sessions: boolean;
  writeRetry?: WriteRetry;
}

/**
 * ClientOp is the retry policy of ONE client operation across its attempts, written once and used by the real
 * `KvClient` and the simulator's clients alike, so the simulator exercises exactly the retries a real client makes
 * (a run that passes in simulation and fails on real processes because of a retry the simulator never made is the
 * kind of gap this closes). It holds no timers and does no I/O: the caller sends, waits and asks what next.
 *
 * Outcome rules: the op ends `info` (KV_TIMEOUT: outcome unknown) once an attempt of a write may have taken effect
 * and no success followed, or when a refusal was itself indefinite; it ends `fail` with the last definite code
 * when every attempt was certainly refused.
 */
export class ClientOp {
  /** True once an attempt of this write may have reached a node without a known outcome. */
  maybeApplied = false;
  /** The node that may hold an earlier attempt (for WriteRetry `same-node`). */
  appliedAt: string | undefined;
  /** The last refusal seen. */
  last: KvError | undefined;
  attempts = 0;
  /** Where a maybe-applied write may be retried; a client may learn it only from its first connection. */
  writeRetry: WriteRetry;
  private readonly isWrite: boolean;

  constructor(private readonly o: ClientOpOptions) {
    this.isWrite = o.op !== "get";
    this.writeRetry = o.writeRetry ?? "anywhere";
  }

  /** connectFailed is an attempt that never reached a node (connection refused, handshake refused). */
  connectFailed(err: KvError): AttemptDecision {
    this.attempts++;
    if (FATAL_CONNECT.has(err.code)) return this.end(err);
    // A connect timeout says nothing new; keep the last real refusal as the likely outcome.
    if (err.code !== "KV_TIMEOUT") this.last = err;
    return this.retry(undefined);
  }

  /**
   * sendFailed is an attempt that was sent and got no reply: the connection dropped (KV_ABORTED), the call's own
   * time ran out (KV_TIMEOUT), or the send itself failed (KV_CLOSED).
   */
  sendFailed(err: KvError, node: string | undefined): AttemptDecision {
    this.attempts++;
    if (this.isWrite && !err.definite) this.markMaybe(node);
    if (err.code === "KV_TIMEOUT") return this.end(err);
    this.last = err;
    return this.retry(undefined);
  }

  /** replied is an attempt answered by `node`. */
  replied(reply: ClientReply, node: string | undefined): AttemptDecision {
    this.attempts++;
    if (reply.ok) {
      // A compare that fails on a retry proves nothing when an earlier attempt may have swapped: that attempt's own
      // value would fail this compare. Unless the engine answered the retry from its session table (the first
      // attempt's reply, swapped), the outcome is unknown, and `fail` would say the write certainly never happened.
      if (this.o.op === "cas" && reply.swapped !== true && this.maybeApplied)
        return this.end(
          new KvError(
            "KV_TIMEOUT",
            "outcome unknown: an earlier attempt may have swapped, and the retry's compare failed",
          ),
        );
      return { kind: "done", reply };
    }
    if (reply.error === undefined)
      return this.end(new KvError("KV_PROTOCOL", "reply has neither ok nor error"));
    const err = KvError.from(reply.error);
    if (this.isWrite && !isDefinite(err.code)) this.markMaybe(node);
    this.last = err;
    return this.retry(err.code === "KV_NOT_LEADER" ? err.leader : undefined);
  }

  /**
   * expired ends the op when its deadline passed (or no attempt is left): the last definite refusal if nothing
   * may have applied, else unknown.
   */
  expired(): AttemptDecision {
    return this.end(
      this.last !== undefined && !this.maybeApplied
        ? this.last
        : new KvError("KV_TIMEOUT", "deadline passed"),
    );
  }

  private markMaybe(node: string | undefined): void {
    if (!this.maybeApplied) this.appliedAt = node;
    this.maybeApplied = true;
  }

  private retry(hint: string | undefined): AttemptDecision {
    const err = this.last;
    if (err !== undefined && !RETRYABLE_CODES.has(err.code)) return this.end(err);
    // Without sessions a retry of a write whose first attempt may have applied could apply it twice.
    if (this.isWrite && this.maybeApplied && !this.o.sessions) return this.end(err ?? this.timeout());
    if (
      this.isWrite &&
      this.maybeApplied &&
      this.writeRetry === "same-node" &&
      this.appliedAt !== undefined
    ) {
      return { kind: "retry", target: { to: "same" } };
    }
    if (hint !== undefined) return { kind: "retry", target: { to: "hint", node: hint } };
    return { kind: "retry", target: { to: "next" } };
  }

  private timeout(): KvError {
    return new KvError("KV_TIMEOUT", "outcome unknown");
  }

  /** end turns a final error into the op's outcome: `info` when it may have applied, else `fail`. */
  end(err: KvError): AttemptDecision {
    if (this.maybeApplied || !err.definite) {
      const t =
        err.code === "KV_TIMEOUT"
          ? err
          : new KvError("KV_TIMEOUT", `outcome unknown: ${err.message}`, { cause: err });
      return { kind: "end", type: "info", error: t };
    }
    return { kind: "end", type: "fail", error: err };
  }
}

/**
 * nextBackoffMs is the pause before a client's next attempt: 10, 20, 40 … 200 ms, each with equal jitter (half
 * fixed, half drawn from `random`, a uniform [0, 1) source). Elections take a few hundred ms; polling faster only
 * adds load.
 */
export function nextBackoffMs(prev: number, random: () => number): number {
  const base = prev === 0 ? 10 : Math.min(200, prev * 2);
  return base / 2 + (random() * base) / 2;
}

/** HistoryCompletion is how an `ok` reply is recorded: the type and, for reads, the value or siblings. */
export interface HistoryCompletion {
  type: Exclude<HistoryType, "invoke">;
  value?: unknown;
  values?: unknown[];
}

/**
 * historyArgument is the `value` of an op's invoke (and of its non-read completions), ARCHITECTURE §4: write → the
 * value, cas → [expected, new] (null expected = put-if-absent), delete → null, read → null.
 */
export function historyArgument(
  op: KvOp,
  value: string | undefined,
  expected: string | null | undefined,
): unknown {
  switch (op) {
    case "put":
      return value;
    case "cas":
      return [expected ?? null, value];
    default:
      return null;
  }
}

/**
 * historyCompletion maps a successful reply to its history completion, once for every client: a read records the
 * value read, or its siblings as `values` when there are several; a cas that did not swap is a `fail` without an
 * error (the compare did not match, so it certainly did not take effect).
 */
export function historyCompletion(op: KvOp, reply: ClientReply): HistoryCompletion {
  if (op === "get") {
    const vs = reply.values;
    if (vs !== undefined && vs.length > 1) return { type: "ok", values: [...vs] };
    return { type: "ok", value: vs !== undefined && vs.length === 1 ? vs[0]! : (reply.value ?? null) };
  }
  if (op === "cas" && reply.swapped !== true) return { type: "fail" };
  return { type: "ok" };
}
