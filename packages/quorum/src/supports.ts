import { type EngineOptions, NOTHING, type Supports } from "@consistency-lab/kv";

/**
 * quorumSupports states what the quorum engine promises under `options` (already defaulted). Every claim is
 * checked by the conformance suite under simulated faults, so each one is only made where the mechanism behind it
 * holds for every history, not just usually:
 * - never linearizable, even with R + W > N: a read can see a write still in flight on one replica while a later
 *   read misses it (Kleppmann, DDIA Figure 9-6), and nothing orders concurrent writes;
 * - read-your-writes: a write acked by W replicas (each persisted it first) meets every read of R when R + W > N,
 *   on any node a client switches to, as long as the quorum is strict: a sloppy quorum may ack on fallbacks that
 *   a later read never asks. Siblings mode only: under LWW a write can lose to an older one from a node whose clock
 *   runs ahead, and be invisible to its own writer;
 * - monotonic reads additionally need blocking read repair: a read may return a write that reached a single
 *   replica (still in flight, or timed out); only after writing what it returned to N − R + 1 replicas can a later
 *   quorum not miss it (Cassandra's BLOCKING read repair);
 * - no acknowledged write lost (judged on the reads after faults heal): in siblings mode a write is only ever
 *   superseded by a write whose context covered it; joins keep everything else on every path (repair, handoff,
 *   anti-entropy), and a sloppy write's hints are kept until their owner acknowledged them, so this holds for
 *   sloppy quorums and any W too. Under LWW a skewed clock silently discards writes;
 * - convergence: every replica state is a join of the writes it received, and anti-entropy spreads every state to
 *   every replica of its range. Without anti-entropy nothing repairs a replica nobody reads through, so it is not
 *   declared; with a period over a second it still converges, but not within the simulator's recovery window
 *   (3 s) in which the claim is checked, so it is not declared either.
 */
export function quorumSupports(o: EngineOptions): Supports {
  const n = Number(o.n ?? 3);
  const r = Number(o.r ?? 2);
  const w = Number(o.w ?? 2);
  const sloppy = o.sloppy === true;
  const siblings = (o.conflicts ?? "siblings") === "siblings";
  const overlap = r + w > n;
  const strictOverlap = !sloppy && overlap && siblings;
  const blocking = o.readRepair === "blocking";
  const ae = Number(o.antiEntropyMs ?? 500);
  const converges = ae > 0 && ae <= 1000;
  const notes = [
    "never linearizable: strict quorums still race (DDIA Figure 9-6); cas is a read then a conditional write, not atomic",
    `read-your-writes ${strictOverlap ? "holds" : "is not promised"}: it needs a strict quorum, R + W > N and siblings`,
    `monotonic reads ${strictOverlap && blocking ? "hold" : "are not promised"}: they also need readRepair=blocking`,
    siblings
      ? "no acknowledged write is lost: a write is only superseded by one whose causal context covers it"
      : "LWW on hybrid logical clocks: a write can silently lose to a concurrent one or to a node whose clock runs ahead",
    converges
      ? `replicas converge through Merkle anti-entropy every ${ae} ms`
      : "convergence is not promised: anti-entropy is off or slower than the 1 s the claim is checked against",
    "the promises are for the cluster's r and w: a request that asks for a smaller r or w (options.r, options.w) may not get them",
    sloppy
      ? "sloppy quorum: any side with W reachable nodes keeps accepting writes; hints hand them back"
      : "strict quorum: a side without W primaries of a key refuses its writes",
  ];
  return {
    ...NOTHING,
    readYourWrites: strictOverlap,
    monotonicReads: strictOverlap && blocking,
    convergence: converges,
    // Judged on the reads after faults heal: they meet a replica holding the write if anti-entropy spread it, or
    // if R + W > N (each of the W acks is a primary or a hint that handoff delivers to a distinct primary).
    noLostWrites: siblings && (converges || overlap),
    casAtomic: false,
    conflicts: siblings ? "siblings" : "lww",
    availability: sloppy ? "all" : "majority",
    notes,
  };
}
