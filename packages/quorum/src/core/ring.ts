import { hashString, type NodeId } from "@consistency-lab/kv";

/** Token is one virtual node: a position on the 32-bit ring owned by a node. */
export interface Token {
  pos: number;
  node: NodeId;
}

/**
 * Ring is a consistent-hashing ring with virtual nodes (Dynamo §4.2, Karger et al. 1997): every node owns `vnodes`
 * pseudo-random positions, a key belongs to the first token clockwise from its hash, and its preference list is
 * the first N distinct nodes met walking on from there. Plain data: the sorted token list.
 */
export interface Ring {
  tokens: Token[];
  nodes: NodeId[];
}

/** keyPosition is a key's place on the ring. */
export function keyPosition(key: string): number {
  // A second mixing round: FNV-1a alone clusters short keys that differ only in their last character.
  let h = hashString(key);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** ringNew places `vnodes` tokens per node, derived from the node id only, so every node builds the same ring. */
export function ringNew(nodes: readonly NodeId[], vnodes: number): Ring {
  const tokens: Token[] = [];
  for (const node of nodes)
    for (let i = 0; i < vnodes; i++) tokens.push({ pos: keyPosition(`${node}#${i}`), node });
  tokens.sort((a, b) => a.pos - b.pos || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { tokens, nodes: [...nodes] };
}

/** firstToken is the index of the token that owns `pos`: the first at or after it, wrapping around. */
function firstToken(ring: Ring, pos: number): number {
  let lo = 0;
  let hi = ring.tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ring.tokens[mid]!.pos < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo === ring.tokens.length ? 0 : lo;
}

/**
 * ringWalk lists every node once, in the order met walking clockwise from the key: the first N are its preference
 * list (primaries), the rest are the fallbacks a sloppy quorum uses, nearest first (Dynamo §4.6).
 */
export function ringWalk(ring: Ring, key: string): NodeId[] {
  const out: NodeId[] = [];
  const start = firstToken(ring, keyPosition(key));
  for (let i = 0; i < ring.tokens.length && out.length < ring.nodes.length; i++) {
    const node = ring.tokens[(start + i) % ring.tokens.length]!.node;
    if (!out.includes(node)) out.push(node);
  }
  return out;
}

/** preferenceList returns the N primaries of a key, in ring order. */
export function preferenceList(ring: Ring, key: string, n: number): NodeId[] {
  return ringWalk(ring, key).slice(0, n);
}

/**
 * replicaGroup names the key range a key falls in for anti-entropy: the set of its primaries. Every arc of the ring
 * with the same preference set is one range, so each range has one Merkle tree per replica.
 */
export function replicaGroup(ring: Ring, key: string, n: number): string {
  return [...preferenceList(ring, key, n)].sort().join(",");
}

/** groupsOf lists the ranges (replica groups) `node` is a primary of. */
export function groupsOf(ring: Ring, node: NodeId, n: number): string[] {
  const out = new Set<string>();
  for (const t of ring.tokens) {
    const walk: NodeId[] = [];
    const start = firstToken(ring, t.pos);
    for (let i = 0; i < ring.tokens.length && walk.length < n; i++) {
      const m = ring.tokens[(start + i) % ring.tokens.length]!.node;
      if (!walk.includes(m)) walk.push(m);
    }
    if (walk.includes(node)) out.add([...walk].sort().join(","));
  }
  return [...out].sort();
}
