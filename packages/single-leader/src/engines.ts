import {
  defineEngine,
  type EngineDefinition,
  type EngineOptions,
  type RequestOptions,
} from "@consistency-lab/kv";
import type { SingleLeaderMessage } from "./core/messages.js";
import { SINGLE_LEADER_OPTIONS } from "./core/options.js";
import { SingleLeaderCore } from "./core/single-leader-core.js";
import { singleLeaderSupports } from "./supports.js";

/**
 * NoFencingCore is BROKEN on purpose: followers take replication from any leader and a leader never steps down, so
 * after a failover two leaders both accept and acknowledge writes (split brain).
 */
class NoFencingCore extends SingleLeaderCore {
  protected override fences(): boolean {
    return false;
  }
}

/**
 * RetryTwiceCore is BROKEN on purpose: a write retried after its reply was lost (the leader was killed and
 * restarted, the connection dropped) is appended again, so an overwritten value can come back.
 */
class RetryTwiceCore extends SingleLeaderCore {
  protected override dedupesRetries(): boolean {
    return false;
  }
}

function requestOptions(options: EngineOptions): RequestOptions {
  return options.readFrom === "follower" ? { readFrom: "follower" } : {};
}

const singleLeader = defineEngine<SingleLeaderMessage>({
  name: "single-leader",
  description:
    "one leader orders writes into a log; followers sync, semi-sync or async; failover with epoch fencing",
  options: SINGLE_LEADER_OPTIONS,
  defaultNodes: 3,
  create: (init) => new SingleLeaderCore(init),
  supports: singleLeaderSupports,
  requestOptions,
  variants: [
    {
      name: "no-fencing",
      description: "single-leader without epoch fencing (automatic failover): split brain",
      breaks:
        "no epoch fencing: a deposed leader keeps replicating and acknowledging writes after a failover",
      keptBecause:
        "src/simulation.test.ts 'the broken variant without epoch fencing is caught within 100 seeds' (lost writes, broken monotonic writes and convergence under --faults all); src/core/single-leader-core.test.ts 'two leaders both acknowledge writes after a failover (split brain)' shows it step by step",
      create: (init) => new NoFencingCore(init),
      // Failovers must happen, and often, for a missing fence to matter.
      defaults: { failover: "auto", failoverTimeoutMs: 150 },
    },
    {
      name: "retry-twice",
      description: "single-leader without client sessions: a retried write is applied twice",
      breaks: "no exactly-once sessions: a write retried after a leader restart is applied a second time",
      keptBecause:
        "found on real processes under kill -9; src/conformance.test.ts 'scenario leader-restart.json' shows testdata/scenarios/leader-restart.json violating linearizability within 30 workload seeds",
      create: (init) => new RetryTwiceCore(init),
    },
  ],
});

/** singleLeaderEngine registers the single-leader engine: one leader, sync/semi-sync/async followers, epoch-fenced failover. */
export const singleLeaderEngine: EngineDefinition<SingleLeaderMessage> = singleLeader.engine;

/**
 * singleLeaderBrokenNoFencing is the single-leader engine without epoch fencing, with automatic failover on by
 * default (and a short failure-detector timeout, so failovers happen often): followers take replication from any
 * leader and a leader never steps down, so after a failover two leaders both accept and acknowledge writes (split
 * brain). It declares what the real engine would.
 */
export const singleLeaderBrokenNoFencing: EngineDefinition<SingleLeaderMessage> = singleLeader.variants[0]!;

/**
 * singleLeaderBrokenRetryTwice is the single-leader engine as it was before it kept client sessions: a write retried
 * after its reply was lost is appended again, so an overwritten value can come back.
 */
export const singleLeaderBrokenRetryTwice: EngineDefinition<SingleLeaderMessage> = singleLeader.variants[1]!;

/** singleLeaderEngines lists the engine and its broken variants, for the CLI registry. */
export const singleLeaderEngines: readonly EngineDefinition<SingleLeaderMessage>[] = [
  singleLeader.engine,
  ...singleLeader.variants,
];
