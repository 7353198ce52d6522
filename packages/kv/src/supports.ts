/**
 * Supports is an engine's statement of what it promises for a given set of options. Tests, the checker, the
 * bench and the docs all read it; nobody restates it by hand. `true` means "declared and checked".
 */
export interface Supports {
  /** Every history is linearizable (Herlihy & Wing). Implies sequential and all session guarantees. */
  linearizable: boolean;
  /** Every history is sequentially consistent (Lamport). */
  sequential: boolean;
  /** Causal consistency (CC, Bouajjani et al. POPL'17). */
  causal: boolean;
  /** Causal convergence (CCv): causal plus one arbitration order all replicas agree on. */
  causalConvergence: boolean;
  readYourWrites: boolean;
  monotonicReads: boolean;
  monotonicWrites: boolean;
  writesFollowReads: boolean;
  /** Replicas converge: after faults heal and writes stop, every read of a key returns the same value(s). */
  convergence: boolean;
  /** An acknowledged write is never lost: it is in every later read or superseded by a later write. */
  noLostWrites: boolean;
  /** cas is atomic: no two clients both swap from the same expected value. */
  casAtomic: boolean;
  /** How concurrent writes are resolved. */
  conflicts: "none" | "lww" | "siblings";
  /** Who can keep serving writes on their side of a partition. */
  availability: "majority" | "all" | "leader";
  /** Free-text notes, shown in docs, e.g. conditions under which a guarantee holds. */
  notes?: string[];
}

/** The guarantee keys that the checker can verify on a history. */
export const GUARANTEES = [
  "linearizable",
  "sequential",
  "causal",
  "causalConvergence",
  "readYourWrites",
  "monotonicReads",
  "monotonicWrites",
  "writesFollowReads",
  "convergence",
  "noLostWrites",
  "casAtomic",
] as const;
export type Guarantee = (typeof GUARANTEES)[number];

/** NOTHING is a Supports that declares no guarantee; engines spread it and switch on what they promise. */
export const NOTHING: Supports = {
  linearizable: false,
  sequential: false,
  causal: false,
  causalConvergence: false,
  readYourWrites: false,
  monotonicReads: false,
  monotonicWrites: false,
  writesFollowReads: false,
  convergence: false,
  noLostWrites: false,
  casAtomic: false,
  conflicts: "none",
  availability: "majority",
};

/** declaredGuarantees lists the guarantees a manifest declares, with implied ones filled in. */
export function declaredGuarantees(s: Supports): Guarantee[] {
  const out = new Set<Guarantee>();
  for (const g of GUARANTEES) if (s[g]) out.add(g);
  if (s.linearizable) {
    for (const g of [
      "sequential",
      "readYourWrites",
      "monotonicReads",
      "monotonicWrites",
      "writesFollowReads",
    ] as const) {
      out.add(g);
    }
  }
  return GUARANTEES.filter((g) => out.has(g));
}
