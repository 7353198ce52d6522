import { BATCH_BYTES, takeBatch } from "./batch.js";
import { type VersionVector, vvDominates, vvMerge } from "./clocks/version-vector.js";
import type { NodeId } from "./types.js";

/**
 * A replication stream ships what one node has (a log by index, a stream of updates by version vector) to each of
 * its peers, once for engines that replicate by shipping: single-leader (the log), multi-leader (updates along the
 * topology), causal (a node's own writes).
 *
 * Per peer it keeps the position the peer acknowledged and the batches in flight beyond it. Batches are bounded in
 * entries and bytes (`takeBatch`), so each stays under the transport's frame limit however large the values.
 * Catch-up is ack-clocked: an acknowledgement that covers a batch lets the next go at once, up to `maxInFlight`
 * batches beyond the acknowledged position, so a peer far behind catches up at the speed of the network and not
 * one batch per resend interval (under sustained writes it would never catch up). When a peer makes no progress
 * for `resendMs` of tick time (or `resendTicks` ticks: a clock set back stands still, and retransmission must not
 * stand still with it) the stream forgets what is in flight and sends one batch again from the acknowledged
 * position, like a retransmission timeout; the window opens again with the acknowledgements.
 *
 * The stream is plain data (cloneable, comparable): the engine passes what it ships, a `StreamSource`, to every call,
 * and turns the `Shipment`s it gets back into its own messages. It never reads the clock: time is what `tick` says.
 */

/** PositionOps compares and joins positions of a stream: log indexes or version vectors. */
export interface PositionOps<P> {
  /** covers is true when a peer at `a` holds everything a peer at `b` holds. */
  covers(a: P, b: P): boolean;
  /** join is the smallest position that covers both. */
  join(a: P, b: P): P;
}

/** indexPositions are positions in a log or a sequence numbered 1, 2, …: the count of entries held. */
export const indexPositions: PositionOps<number> = {
  covers: (a, b) => a >= b,
  join: (a, b) => Math.max(a, b),
};

/** vectorPositions are version vectors: what a peer holds of each origin's sequence. */
export const vectorPositions: PositionOps<VersionVector> = { covers: vvDominates, join: vvMerge };

/**
 * StreamSource is what the engine ships, passed to each call (the stream stores no functions). Positions are plain
 * data the stream keeps and compares; it never changes one in place.
 */
export interface StreamSource<P, E> extends PositionOps<P> {
  /**
   * entriesAfter lists, oldest first, what a peer at `from` should get next (read lazily: the stream takes one
   * batch). `round` counts the batches shipped to this peer so far, for a source that interleaves several sequences
   * and rotates which goes first, so that none is starved when the byte budget runs out.
   */
  entriesAfter(peer: NodeId, from: P, round: number): Iterable<E>;
  /** sizeOf bounds an entry's size on the wire from above. */
  sizeOf(entry: E): number;
  /** advance is the position of a peer at `from` once it holds `entries` (a batch `entriesAfter` gave). */
  advance(from: P, entries: readonly E[]): P;
}

/** Shipment is one batch for one peer: the engine sends `entries` as a message that says it follows `from`. */
export interface Shipment<P, E> {
  to: NodeId;
  from: P;
  entries: E[];
  /** Sum of `sizeOf` over `entries`. */
  bytes: number;
}

/** StreamOptions bound batches and the window and set the resend timer. */
export interface StreamOptions {
  /** Tick time without progress after which a peer gets a batch again from its acknowledged position. */
  resendMs: number;
  /** Ticks without progress after which the same happens whatever the clock says (default 10). */
  resendTicks?: number;
  /** Entries per batch at most (default 64). */
  maxEntries?: number;
  /** Bytes per batch at most, unless one entry alone is larger (default kv BATCH_BYTES). */
  maxBytes?: number;
  /** Batches in flight beyond the acknowledged position, per peer (default 8; 1 while probing). */
  maxInFlight?: number;
  /**
   * Whether a resend round also sends an empty batch to a peer with nothing to get (default false): for protocols
   * whose followers watch the sender's liveness (a leader's heartbeat).
   */
  heartbeat?: boolean;
}

/** PeerProgress is what a stream knows about one peer. */
export interface PeerProgress<P> {
  /** The position the peer acknowledged holding. */
  acked: P;
  /**
   * A guess at the peer's position while none is acknowledged (a new leader probing where a follower's log
   * matches, Raft §5.3's nextIndex); null once one is. Batches then start here, one at a time.
   */
  probe: P | null;
  /** Where the next batch starts: the end of the last batch sent, or the acknowledged (probed) position. */
  sent: P;
  /** End positions of the batches in flight, oldest first. Invariant: empty ⇒ `sent` is where a resend starts. */
  inFlight: P[];
  /** Tick time the resend timer started: the oldest unacknowledged entry was sent, or the peer made progress. */
  since: number;
  /** Ticks since then. */
  ticks: number;
  /** Batches shipped to this peer so far. */
  round: number;
}

/** ReplicationStream is a node's per-peer shipping state; see the module comment above. */
export class ReplicationStream<P> {
  readonly resendMs: number;
  readonly resendTicks: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxInFlight: number;
  readonly heartbeat: boolean;
  private now: number;
  private readonly progressOf = new Map<NodeId, PeerProgress<P>>();

  /**
   * Every peer starts at `acked`, or probing at `probe` when given, with its resend timer due at the first tick.
   */
  constructor(init: { peers: readonly NodeId[]; acked: P; probe?: P; now: number }, options: StreamOptions) {
    this.resendMs = options.resendMs;
    this.resendTicks = options.resendTicks ?? 10;
    this.maxEntries = options.maxEntries ?? 64;
    this.maxBytes = options.maxBytes ?? BATCH_BYTES;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 8);
    this.heartbeat = options.heartbeat ?? false;
    this.now = init.now;
    for (const peer of init.peers) {
      const probe = init.probe ?? null;
      this.progressOf.set(peer, {
        acked: init.acked,
        probe,
        sent: probe ?? init.acked,
        inFlight: [],
        since: Number.NEGATIVE_INFINITY,
        ticks: 0,
        round: 0,
      });
    }
  }

  /** peers lists the peers the stream ships to, in the order it was given them. */
  peers(): NodeId[] {
    return [...this.progressOf.keys()];
  }

  /** progress is what the stream knows of `peer`, undefined for a peer it does not ship to. Do not mutate it. */
  progress(peer: NodeId): Readonly<PeerProgress<P>> | undefined {
    return this.progressOf.get(peer);
  }

  /** acked is the position `peer` acknowledged, undefined for a peer the stream does not ship to. */
  acked(peer: NodeId): P | undefined {
    return this.progressOf.get(peer)?.acked;
  }

  /**
   * ship sends new entries: to each peer (or only `peer`), batches from where the last one ended while the window
   * has room. Called when the source grew.
   */
  ship<E>(src: StreamSource<P, E>, peer?: NodeId): Shipment<P, E>[] {
    const out: Shipment<P, E>[] = [];
    const peers = peer === undefined ? [...this.progressOf.keys()] : [peer];
    for (const to of peers) {
      const p = this.progressOf.get(to);
      if (p === undefined) continue;
      const window = p.probe === null ? this.maxInFlight : 1;
      while (p.inFlight.length < window) {
        const s = this.take(to, p, src, false);
        if (s === undefined) break;
        out.push(s.shipment);
        if (!s.full) break;
      }
    }
    return out;
  }

  /**
   * ack records that `peer` holds `at` (cumulative, so a duplicate or reordered ack is harmless) and returns the
   * batches that go next: catch-up is ack-clocked. An ack ends probing.
   */
  ack<E>(peer: NodeId, at: P, src: StreamSource<P, E>): Shipment<P, E>[] {
    const p = this.progressOf.get(peer);
    if (p === undefined) return [];
    const before = p.acked;
    p.acked = src.join(before, at);
    p.probe = null;
    p.sent = src.join(p.sent, p.acked);
    p.inFlight = p.inFlight.filter((end) => !src.covers(p.acked, end));
    if (!src.covers(before, p.acked)) this.restart(p);
    return this.ship(src, peer);
  }

  /**
   * retry answers a refusal: `peer` does not follow on from what was in flight (a gap, a log that does not match)
   * and asks for batches from `from`. Probing, that is the new guess; otherwise batches restart from `from` or the
   * acknowledged position, whichever is later.
   */
  retry<E>(peer: NodeId, from: P, src: StreamSource<P, E>): Shipment<P, E>[] {
    const p = this.progressOf.get(peer);
    if (p === undefined) return [];
    if (p.probe !== null) {
      p.probe = from;
      p.sent = from;
    } else {
      p.sent = src.join(p.acked, from);
    }
    p.inFlight = [];
    return this.ship(src, peer);
  }

  /**
   * rewind forgets acknowledgements beyond `to`: the peer no longer holds them. Only a protocol without fencing
   * lets another sender rewrite what a peer acknowledged (single-leader's broken variant).
   */
  rewind(peer: NodeId, to: P): void {
    const p = this.progressOf.get(peer);
    if (p === undefined) return;
    p.acked = to;
    p.sent = to;
    p.inFlight = [];
  }

  /**
   * tick advances the stream's time to `now` (never backwards) and resends to every peer whose timer is due: what
   * is in flight is taken as lost and one batch goes from the acknowledged (or probed) position, an empty one with
   * `heartbeat` when there is nothing to send.
   */
  tick<E>(now: number, src: StreamSource<P, E>): Shipment<P, E>[] {
    if (now > this.now) this.now = now;
    const out: Shipment<P, E>[] = [];
    for (const [to, p] of this.progressOf) {
      p.ticks++;
      if (this.now - p.since < this.resendMs && p.ticks < this.resendTicks) continue;
      p.sent = p.probe ?? p.acked;
      p.inFlight = [];
      this.restart(p);
      const s = this.take(to, p, src, this.heartbeat);
      if (s !== undefined) out.push(s.shipment);
    }
    return out;
  }

  /**
   * take cuts the next batch for `to` from `p.sent` and records it in flight; undefined when there is nothing to
   * send (and `evenEmpty` is false). `full` is true when entries were left behind.
   */
  private take<E>(
    to: NodeId,
    p: PeerProgress<P>,
    src: StreamSource<P, E>,
    evenEmpty: boolean,
  ): { shipment: Shipment<P, E>; full: boolean } | undefined {
    const from = p.sent;
    const batch = takeBatch(src.entriesAfter(to, from, p.round), {
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
      sizeOf: (e) => src.sizeOf(e),
    });
    if (batch.entries.length === 0 && !evenEmpty) return undefined;
    // The window was empty: this batch carries the oldest unacknowledged entry, so its resend timer starts now.
    if (p.inFlight.length === 0) this.restart(p);
    p.sent = src.advance(from, batch.entries);
    // An empty batch (a heartbeat) holds no window slot, except the one probe a probing peer may have out.
    if (batch.entries.length > 0 || p.probe !== null) p.inFlight.push(p.sent);
    p.round++;
    return { shipment: { to, from, entries: batch.entries, bytes: batch.bytes }, full: batch.full };
  }

  private restart(p: PeerProgress<P>): void {
    p.since = this.now;
    p.ticks = 0;
  }
}
