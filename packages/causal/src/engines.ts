import { defineEngine, type EngineDefinition, type NodeId } from "@consistency-lab/kv";
import { CausalCore } from "./core/causal-core.js";
import type { CausalMessage, ReplicatedWrite } from "./core/messages.js";
import { CAUSAL_OPTIONS, causalConfig } from "./core/options.js";
import { causalSupports } from "./supports.js";

/**
 * NoDepsCore is BROKEN on purpose: it makes a replicated write visible the moment it arrives, without the
 * dependency check, so a reader can see an effect before its cause. (It still applies the write in causal order
 * later, so it converges: the bug is only in what is visible meanwhile.)
 */
class NoDepsCore extends CausalCore {
  /** Seqs per origin already made visible ahead of their dependencies. */
  private early = new Map<NodeId, number>();

  protected override onBuffered(w: ReplicatedWrite): void {
    if (w.seq <= (this.early.get(w.origin) ?? 0)) return;
    this.merge(w);
    this.early.set(w.origin, w.seq);
  }
}

/**
 * RetryAnywhereCore is BROKEN on purpose: no session table, so a write retried after its reply was lost is written
 * again (and its client retries it at any node).
 */
class RetryAnywhereCore extends CausalCore {
  protected override keepsSessionTable(): boolean {
    return false;
  }
}

const causal = defineEngine<CausalMessage>({
  name: "causal",
  description:
    "causal+ store: every node serves locally, writes replicate in causal order, concurrent writes become siblings (DVV), session tokens give the four session guarantees",
  options: CAUSAL_OPTIONS,
  defaultNodes: 3,
  create: (init) => new CausalCore(init, causalConfig(init.options)),
  supports: causalSupports,
  // Retries are deduplicated per node only: a write whose reply was lost is retried where it may have landed.
  writeRetry: () => "same-node",
  variants: [
    {
      name: "no-deps",
      description: "causal engine that applies replicated writes without waiting for their dependencies",
      breaks: "replicated writes become visible before the writes they depend on (no dependency check)",
      keptBecause:
        "src/conformance.test.ts 'causal-broken-no-deps is caught within 100 seeds, and one of them breaks causality itself'; src/core/causal-core.test.ts 'the broken variant shows the effect before its cause'",
      create: (init) => new NoDepsCore(init, causalConfig(init.options)),
    },
    {
      name: "retry-anywhere",
      description: "causal engine whose lost-reply writes are retried at any node and applied again",
      breaks:
        "no per-node session table, retries go anywhere: a retried write is a second write, concurrent with later ones",
      keptBecause:
        "found on real processes under kill -9; src/conformance.test.ts 'scenario node-restart.json' shows testdata/scenarios/node-restart.json violating a declared guarantee within 30 workload seeds",
      create: (init) => new RetryAnywhereCore(init, causalConfig(init.options)),
      writeRetry: () => "anywhere",
    },
  ],
});

/**
 * causalEngine is the causal store: causal+ consistency with per-key dotted version vectors, siblings for concurrent
 * writes, causal delivery of replicated writes, and session guarantees across nodes via a session token.
 */
export const causalEngine: EngineDefinition<CausalMessage> = causal.engine;

/**
 * causalBrokenNoDeps applies replicated writes the moment they arrive, skipping the dependency check, so a replica
 * can show an effect before its cause. It declares what the real engine does, so the checker must catch it.
 */
export const causalBrokenNoDeps: EngineDefinition<CausalMessage> = causal.variants[0]!;

/**
 * causalBrokenRetryAnywhere is the causal engine as it was before it kept a session table: a write whose reply was
 * lost is retried at another node (its clients retry anywhere), where it becomes a second, independent write — and
 * the first copy later shows up as a sibling of the session's newer writes (WriteCORead).
 */
export const causalBrokenRetryAnywhere: EngineDefinition<CausalMessage> = causal.variants[1]!;

/** causalEngines lists the engine and its broken variants, for the CLI registry. */
export const causalEngines: readonly EngineDefinition<CausalMessage>[] = [causal.engine, ...causal.variants];
