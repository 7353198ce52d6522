import { type ClientRequest, defineEngine, type EngineDefinition, type NodeId } from "@consistency-lab/kv";
import type { ReadOp } from "./core/coordinator.js";
import type { QuorumMessage, StoreMessage } from "./core/messages.js";
import { QUORUM_OPTIONS } from "./core/options.js";
import { QuorumCore } from "./core/quorum-core.js";
import { type KeyState, stateDigest } from "./core/versioned.js";
import { quorumSupports } from "./supports.js";

/**
 * OldestWinsRepairCore is BROKEN on purpose: read repair copies the oldest reply over every other replica that
 * answered (an overwrite, not a join), even with `readRepair=off`, and never blocks on it, so newer writes are
 * lost.
 */
class OldestWinsRepairCore extends QuorumCore {
  protected override blocksOnRepair(_req: ClientRequest): boolean {
    return false;
  }

  protected override readRepair(op: ReadOp): void {
    const states = Object.values(op.responses).filter((s): s is KeyState => s !== null);
    if (states.length === 0) return;
    const oldest = states.reduce((a, b) => (age(b) < age(a) ? b : a));
    const want = stateDigest(oldest);
    for (const t of op.targets) {
      if (!Object.hasOwn(op.responses, t.node)) continue;
      const s = op.responses[t.node];
      if (s === null || stateDigest(s) === want) continue;
      if (t.node === this.id) this.storeLocal(op.req.key, oldest, t.hintFor, true);
      else {
        const m: StoreMessage = { type: "store", op: "", key: op.req.key, state: oldest, overwrite: true };
        if (t.hintFor !== undefined) m.hintFor = t.hintFor;
        this.sendTo(t.node, m);
      }
      op.responses[t.node] = oldest;
    }
  }

  protected override replacesOnStore(m: StoreMessage): boolean {
    return m.overwrite === true;
  }
}

/** age orders states oldest first: LWW by stamp, siblings by how many events the context has seen. */
function age(s: KeyState): number {
  if (s.t === "l") return s.stamp.l * 1e6 + s.stamp.c;
  return s.set.entries.reduce((n, e) => n + e[1], 0);
}

/** HintDroppingCore is BROKEN on purpose: a fallback acknowledges a hinted write and forgets it. */
class HintDroppingCore extends QuorumCore {
  protected override keepsHint(_owner: NodeId, _key: string): boolean {
    return false;
  }
}

const quorum = defineEngine<QuorumMessage>({
  name: "quorum",
  description:
    "Dynamo/Riak-style leaderless quorum store: ring + vnodes, N/R/W, sloppy quorum, hinted handoff, read repair, Merkle anti-entropy, DVV siblings or LWW",
  options: QUORUM_OPTIONS,
  // Five nodes with N = 3: some nodes are not replicas of a key (they forward or coordinate remotely) and a
  // sloppy quorum has fallbacks to use.
  defaultNodes: 5,
  create: (init) => new QuorumCore(init),
  supports: quorumSupports,
  requestOptions: () => ({}),
  variants: [
    {
      name: "read-repair",
      description: "quorum engine whose read repair writes the oldest reply over newer replicas",
      breaks: "read repair overwrites replicas with the oldest reply instead of merging, losing newer writes",
      keptBecause:
        "src/simulation.test.ts 'broken variants are caught by the checker › read repair that copies an older value over a newer one' finds a seed in 1..100 under --faults all that breaks readYourWrites; src/core/quorum-core.test.ts 'the broken variant copies the oldest reply over the newer replica' shows the overwrite step by step",
      create: (init) => new OldestWinsRepairCore(init),
    },
    {
      name: "drop-hints",
      description: "sloppy quorum engine whose fallbacks acknowledge hinted writes and drop them",
      breaks: "hinted handoff drops hints: a write acknowledged by fallbacks never reaches its owners",
      keptBecause:
        "src/simulation.test.ts 'broken variants are caught by the checker › hinted handoff that drops hints' (a 2|3 partition for the whole run) finds a seed that breaks noLostWrites, where the real engine loses nothing; src/core/quorum-core.test.ts 'the drop-hints variant acknowledges a hinted write and never delivers it'",
      create: (init) => new HintDroppingCore(init),
      // Hints only exist under a sloppy quorum.
      defaults: { sloppy: true },
    },
  ],
});

/**
 * quorumEngine is the Dynamo-style leaderless store: consistent hashing with virtual nodes, per-request R and W,
 * strict or sloppy quorums with hinted handoff, read repair, Merkle-tree anti-entropy, siblings with dotted
 * version vectors or LWW on hybrid logical clocks, tombstones with a reap delay.
 */
export const quorumEngine: EngineDefinition<QuorumMessage> = quorum.engine;

/** quorumBrokenReadRepair is the quorum engine with read repair that copies the oldest reply over newer ones. */
export const quorumBrokenReadRepair: EngineDefinition<QuorumMessage> = quorum.variants[0]!;

/**
 * quorumBrokenDropHints is the quorum engine (sloppy by default, so hints exist) whose fallbacks acknowledge
 * hinted writes and then drop them instead of handing them off.
 */
export const quorumBrokenDropHints: EngineDefinition<QuorumMessage> = quorum.variants[1]!;

/** quorumEngines lists the engine and its broken variants, for the CLI registry. */
export const quorumEngines: readonly EngineDefinition<QuorumMessage>[] = [quorum.engine, ...quorum.variants];
