import { hashString } from "@consistency-lab/kv";

/**
 * MerkleTree is a hash tree over one key range of one replica (Merkle 1987; Dynamo §4.7; Riak active
 * anti-entropy). Keys fall into `leaves` buckets by hash; a leaf hashes its keys' state digests, an inner node
 * hashes its two children. Two replicas compare roots first and descend only into differing subtrees, so equal
 * ranges cost one hash and a few differing keys cost O(log leaves) hashes to find. Stored as a heap: nodes[0] is
 * the root, the children of i are 2i+1 and 2i+2, leaf b is nodes[leaves - 1 + b].
 */
export interface MerkleTree {
  leaves: number;
  nodes: string[];
}

/** MERKLE_LEAVES is the default number of buckets per range; a power of two. */
export const MERKLE_LEAVES = 16;

const EMPTY = "0";

function h(text: string): string {
  return (
    hashString(text).toString(16).padStart(8, "0") +
    hashString(text, 0x5bd1e995).toString(16).padStart(8, "0")
  );
}

/** merkleBucket is the leaf a key falls in. A seed different from the ring's keeps buckets independent of placement. */
export function merkleBucket(key: string, leaves: number): number {
  return hashString(key, 0x2545f491) % leaves;
}

/** merkleLeaf hashes one bucket: its keys and their digests, in key order. */
export function merkleLeaf(items: ReadonlyMap<string, string> | Iterable<readonly [string, string]>): string {
  const lines: string[] = [];
  for (const [key, digest] of items) lines.push(`${JSON.stringify(key)}:${digest}`);
  return lines.length === 0 ? EMPTY : h(lines.sort().join("\n"));
}

/** merkleFromLeaves builds the inner nodes over leaf hashes (their count a power of two). */
export function merkleFromLeaves(leafHashes: readonly string[]): MerkleTree {
  const leaves = leafHashes.length;
  if (!Number.isInteger(Math.log2(leaves)))
    throw new TypeError(`merkle: leaves must be a power of two, got ${leaves}`);
  const nodes = new Array<string>(2 * leaves - 1).fill(EMPTY);
  for (let b = 0; b < leaves; b++) nodes[leaves - 1 + b] = leafHashes[b]!;
  for (let i = leaves - 2; i >= 0; i--) {
    const l = nodes[2 * i + 1]!;
    const r = nodes[2 * i + 2]!;
    nodes[i] = l === EMPTY && r === EMPTY ? EMPTY : h(`${l}|${r}`);
  }
  return { leaves, nodes };
}

/** merkleBuild builds the tree of a range from its keys and their state digests. */
export function merkleBuild(
  entries: Iterable<readonly [key: string, digest: string]>,
  leaves = MERKLE_LEAVES,
): MerkleTree {
  if (!Number.isInteger(Math.log2(leaves)))
    throw new TypeError(`merkleBuild: leaves must be a power of two, got ${leaves}`);
  const buckets: [string, string][][] = Array.from({ length: leaves }, () => []);
  for (const [key, digest] of entries) buckets[merkleBucket(key, leaves)]!.push([key, digest]);
  return merkleFromLeaves(buckets.map((b) => merkleLeaf(b)));
}

/** merkleDiff lists the leaf buckets whose hashes differ, descending only into subtrees whose hashes differ. */
export function merkleDiff(a: MerkleTree, b: MerkleTree): number[] {
  if (a.leaves !== b.leaves || a.nodes.length !== b.nodes.length) {
    return Array.from({ length: Math.max(a.leaves, b.leaves) }, (_, i) => i);
  }
  const out: number[] = [];
  const visit = (i: number) => {
    if (a.nodes[i] === b.nodes[i]) return;
    if (i >= a.leaves - 1) {
      out.push(i - (a.leaves - 1));
      return;
    }
    visit(2 * i + 1);
    visit(2 * i + 2);
  };
  visit(0);
  return out;
}

/** differingKeys lists the keys inside `buckets` whose digests differ between two replicas (absent counts). */
export function differingKeys(
  a: ReadonlyMap<string, string>,
  b: ReadonlyMap<string, string>,
  buckets: readonly number[],
  leaves = MERKLE_LEAVES,
): string[] {
  const want = new Set(buckets);
  const keys = new Set<string>();
  for (const k of [...a.keys(), ...b.keys()])
    if (want.has(merkleBucket(k, leaves)) && a.get(k) !== b.get(k)) keys.add(k);
  return [...keys].sort();
}

/** isMerkleTree checks untrusted data for the shape of a tree. */
export function isMerkleTree(x: unknown): x is MerkleTree {
  if (typeof x !== "object" || x === null) return false;
  const t = x as MerkleTree;
  return (
    Number.isInteger(t.leaves) &&
    t.leaves > 0 &&
    t.leaves <= 1024 &&
    Array.isArray(t.nodes) &&
    t.nodes.length === 2 * t.leaves - 1 &&
    t.nodes.every((n) => typeof n === "string")
  );
}
