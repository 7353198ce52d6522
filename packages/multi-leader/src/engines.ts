import { defineEngine, type EngineDefinition, hlcNow, type NodeId } from "@consistency-lab/kv";
import type { MultiLeaderMessage, Update, Version } from "./core/messages.js";
import { MultiLeaderCore } from "./core/multi-leader-core.js";
import { MULTI_LEADER_OPTIONS } from "./core/options.js";
import { multiLeaderSupports } from "./supports.js";

/** Ring-loop variant: laps an update may travel before the simulation's endless loop is cut. */
const LAPS = 3;

/**
 * RingLoopCore is BROKEN on purpose: the ring without loop prevention. An update is applied and forwarded every
 * time it arrives, as if it were new, re-stamped by the forwarding node like a re-executed statement (MySQL
 * circular replication without server ids), and overwrites whatever the key holds. The laps are capped only so
 * that a simulation ends.
 */
class RingLoopCore extends MultiLeaderCore {
  protected override preventsLoops(): boolean {
    return false;
  }

  protected override receiveUpdate(_from: NodeId, u: Update): void {
    const hops = (u.hops ?? 0) + 1;
    const restamped: Update = {
      ...u,
      hlc: hlcNow(this.hlc, Math.max(0, this.now)),
      lamport: ++this.lamport,
      deps: { ...this.applied },
      path: [...u.path, this.id],
      hops,
    };
    this.counters.replicated++;
    this.apply(restamped);
    if (hops < LAPS * this.members.length) {
      for (const to of this.targets()) this.out.to(to, { type: "updates", updates: [restamped] });
    }
  }

  protected override resolve(_u: Update, v: Version, _current: Version[]): Version[] {
    return [v];
  }
}

/**
 * OutOfOrderCore is BROKEN on purpose: it applies updates in arrival order and keeps only a per-origin
 * high-water mark, so an update overtaken by a later one from the same origin is taken for a duplicate.
 */
class OutOfOrderCore extends MultiLeaderCore {
  protected override deliversInCausalOrder(): boolean {
    return false;
  }
}

const multiLeader = defineEngine<MultiLeaderMessage>({
  name: "multi-leader",
  description:
    "every node accepts writes and replicates them (all-to-all, ring or star); LWW by HLC/Lamport or siblings",
  options: MULTI_LEADER_OPTIONS,
  defaultNodes: 3,
  create: (init) => new MultiLeaderCore(init),
  supports: multiLeaderSupports,
  variants: [
    {
      name: "ring-loop",
      description: "multi-leader ring without loop prevention",
      breaks: "ring without loop prevention: updates circulate and are re-applied over newer writes",
      keptBecause:
        "src/simulation.test.ts 'multi-leader-broken-ring-loop is caught within 100 seeds'; src/core/multi-leader-core.test.ts 'broken ring without loop prevention: updates come round again and overwrite newer writes' shows a node going back from the newer value to the older",
      create: (init) => new RingLoopCore(init),
      defaults: { topology: "ring" },
    },
    {
      name: "out-of-order",
      description: "multi-leader applying updates out of causal order",
      breaks: "no causal ordering: an update overtaken by a later one is skipped as already seen",
      keptBecause:
        "src/simulation.test.ts 'multi-leader-broken-out-of-order is caught within 100 seeds'; src/core/multi-leader-core.test.ts 'broken out-of-order variant: an overtaken update is taken for a duplicate and never applied'",
      create: (init) => new OutOfOrderCore(init),
    },
  ],
});

/** multiLeaderEngine registers the multi-leader engine: every node takes writes; LWW (HLC or Lamport) or siblings. */
export const multiLeaderEngine: EngineDefinition<MultiLeaderMessage> = multiLeader.engine;

/**
 * multiLeaderBrokenRingLoop is the ring topology without loop prevention: an update is re-applied and forwarded
 * every time it comes round, overwriting newer writes. It declares what the real engine would.
 */
export const multiLeaderBrokenRingLoop: EngineDefinition<MultiLeaderMessage> = multiLeader.variants[0]!;

/**
 * multiLeaderBrokenOutOfOrder applies updates in arrival order and keeps only a per-origin high-water mark, so an
 * update overtaken by a later one from the same origin is taken for a duplicate and never applied.
 */
export const multiLeaderBrokenOutOfOrder: EngineDefinition<MultiLeaderMessage> = multiLeader.variants[1]!;

/** multiLeaderEngines lists the engine and its broken variants, for the CLI registry. */
export const multiLeaderEngines: readonly EngineDefinition<MultiLeaderMessage>[] = [
  multiLeader.engine,
  ...multiLeader.variants,
];
