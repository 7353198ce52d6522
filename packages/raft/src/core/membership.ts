import type { NodeId } from "@consistency-lab/kv";
import type { ConfCommand, Membership } from "./messages.js";

/** quorumSize is the majority of `voters` (Raft §5.2). */
export function quorumSize(voters: readonly NodeId[]): number {
  return Math.floor(voters.length / 2) + 1;
}

export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id);
}

export function isMember(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id) || m.learners.includes(id);
}

/** members lists voters then learners. */
export function members(m: Membership): NodeId[] {
  return [...m.voters, ...m.learners];
}

/**
 * applyConfChange returns the membership after one single-server change (Raft thesis §4.1, §4.2.1 learners).
 * Invalid changes return the membership unchanged; the leader validates before proposing.
 */
export function applyConfChange(m: Membership, c: ConfCommand): Membership {
  const voters = m.voters.filter((v) => v !== c.node);
  const learners = m.learners.filter((v) => v !== c.node);
  switch (c.change) {
    case "add-learner":
      if (m.voters.includes(c.node)) return m;
      return { voters, learners: [...learners, c.node] };
    case "promote":
      if (!m.learners.includes(c.node)) return m;
      return { voters: [...voters, c.node], learners };
    case "remove-member":
      if (voters.length === 0) return m;
      return { voters, learners };
  }
}

/** validateConfChange returns why a change cannot be proposed, or null. */
export function validateConfChange(m: Membership, c: ConfCommand): string | null {
  switch (c.change) {
    case "add-learner":
      return isMember(m, c.node) ? `${c.node} is already a member` : null;
    case "promote":
      return m.learners.includes(c.node) ? null : `${c.node} is not a learner`;
    case "remove-member":
      if (!isMember(m, c.node)) return `${c.node} is not a member`;
      if (m.voters.length === 1 && m.voters[0] === c.node) return "cannot remove the last voter";
      return null;
  }
}

/**
 * committedIndex is the largest index replicated on a quorum of voters: the quorum-th largest match
 * (etcd-io/raft `quorum/majority.go`).
 */
export function committedIndex(voters: readonly NodeId[], match: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const ms = voters.map(match).sort((a, b) => b - a);
  return ms[quorumSize(voters) - 1]!;
}
