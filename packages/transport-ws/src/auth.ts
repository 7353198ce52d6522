import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * tokenEquals compares a presented token with the expected one in constant time. Both are hashed first so the
 * comparison takes the same time whatever the presented length (timingSafeEqual needs equal lengths).
 */
export function tokenEquals(presented: unknown, expected: string): boolean {
  if (typeof presented !== "string") return false;
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}

/** How far a peer hello's timestamp may be from this node's clock (skewed clocks included). */
export const PEER_PROOF_WINDOW_MS = 5 * 60_000;

/**
 * peerProof is what a peer sends instead of a token: HMAC-SHA256 under the peer token over who it claims to be, whom
 * it dials, when, and a fresh nonce. The peer token never travels; a proof is good for one claimed id, one
 * receiving node and (with the receiver's nonce cache) one connection, so a client holding the client token cannot
 * join as a peer, and a recorded hello cannot be replayed.
 */
export function peerProof(peerToken: string, from: string, to: string, ts: number, nonce: string): string {
  return createHmac("sha256", peerToken)
    .update(`clab-peer-v1\n${from}\n${to}\n${ts}\n${nonce}`)
    .digest("hex");
}

/** proofEquals compares two hex proofs in constant time. */
export function proofEquals(presented: unknown, expected: string): boolean {
  if (typeof presented !== "string" || presented.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(presented, "utf8"), Buffer.from(expected, "utf8"));
}

/** newNonce is a fresh random nonce for a peer hello. */
export function newNonce(): string {
  return randomBytes(16).toString("hex");
}

/**
 * NonceCache remembers the nonces of accepted peer hellos for the proof window, so the same hello is accepted once.
 * Bounded: past `max` entries the oldest are forgotten (their timestamps are then near the window's edge anyway).
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  constructor(private readonly max = 100_000) {}

  /** add records a nonce; false if it was already seen. */
  add(nonce: string, now: number): boolean {
    if (this.seen.has(nonce)) return false;
    for (const [n, at] of this.seen) {
      if (now - at <= PEER_PROOF_WINDOW_MS && this.seen.size < this.max) break;
      this.seen.delete(n);
    }
    this.seen.set(nonce, now);
    return true;
  }
}
