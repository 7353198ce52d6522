import { MERKLE_LEAVES, type MerkleTree, merkleBucket, merkleFromLeaves, merkleLeaf } from "./merkle.js";

interface RangeTree {
  /** Per bucket: key → state digest. */
  buckets: Map<string, string>[];
  leaves: string[];
  dirty: Set<number>;
  tree: MerkleTree | undefined;
}

/**
 * RangeTrees keeps one Merkle tree per key range of this replica, updated as keys change rather than rebuilt from
 * every key at each exchange (Riak's active anti-entropy keeps its hash trees current on every write for the same
 * reason). Only the buckets a write touched are rehashed before the next exchange.
 */
export class RangeTrees {
  private readonly ranges = new Map<string, RangeTree>();

  constructor(private readonly leaves = MERKLE_LEAVES) {}

  /** update records a key's new digest in its range (undefined: the key is gone). */
  update(range: string, key: string, digest: string | undefined): void {
    const r = this.range(range);
    const b = merkleBucket(key, this.leaves);
    if (digest === undefined) r.buckets[b]!.delete(key);
    else r.buckets[b]!.set(key, digest);
    r.dirty.add(b);
    r.tree = undefined;
  }

  /** tree returns the range's current tree, rehashing only the buckets changed since the last call. */
  tree(range: string): MerkleTree {
    const r = this.range(range);
    if (r.tree === undefined) {
      for (const b of r.dirty) r.leaves[b] = merkleLeaf(r.buckets[b]!);
      r.dirty.clear();
      r.tree = merkleFromLeaves(r.leaves);
    }
    return r.tree;
  }

  /** keysIn lists the range's keys in the given buckets, sorted. */
  keysIn(range: string, buckets: readonly number[]): string[] {
    const r = this.range(range);
    const out: string[] = [];
    for (const b of buckets) {
      const m = r.buckets[b];
      if (m !== undefined) out.push(...m.keys());
    }
    return out.sort();
  }

  private range(name: string): RangeTree {
    let r = this.ranges.get(name);
    if (r === undefined) {
      r = {
        buckets: Array.from({ length: this.leaves }, () => new Map<string, string>()),
        leaves: new Array<string>(this.leaves).fill("0"),
        dirty: new Set(),
        tree: undefined,
      };
      this.ranges.set(name, r);
    }
    return r;
  }
}
