import type { EngineDefinition, EngineOptions, RequestOptions } from "@consistency-lab/kv";
import { SINGLE_LEADER_OPTIONS } from "./core/config.js";
import type { SingleLeaderMessage } from "./core/messages.js";
import { SingleLeaderCore } from "./core/single-leader-core.js";
import { singleLeaderSupports } from "./supports.js";

export {
  requiredFollowerAcks,
  resolveConfig,
  SINGLE_LEADER_OPTIONS,
  type SingleLeaderConfig,
} from "./core/config.js";
export type { LogEntry, SingleLeaderMessage } from "./core/messages.js";
export { SingleLeaderCore } from "./core/single-leader-core.js";
export { singleLeaderSupports } from "./supports.js";

function requestOptions(options: EngineOptions): RequestOptions {
  return options.readFrom === "follower" ? { readFrom: "follower" } : {};
}

/** singleLeaderEngine registers the single-leader engine: one leader, sync/semi-sync/async followers, epoch-fenced failover. */
export const singleLeaderEngine: EngineDefinition<SingleLeaderMessage> = {
  name: "single-leader",
  description:
    "one leader orders writes into a log; followers sync, semi-sync or async; failover with epoch fencing",
  options: SINGLE_LEADER_OPTIONS,
  defaultNodes: 3,
  create: (init) => new SingleLeaderCore(init),
  supports: singleLeaderSupports,
  requestOptions,
};

/**
 * singleLeaderBrokenNoFencing is the single-leader engine without epoch fencing, with automatic failover on by
 * default (and a short failure-detector timeout, so failovers happen often): followers take replication from any leader and a leader never steps down, so after a failover two
 * leaders both accept and acknowledge writes (split brain). It declares what the real engine would.
 */
export const singleLeaderBrokenNoFencing: EngineDefinition<SingleLeaderMessage> = {
  name: "single-leader-broken-no-fencing",
  description: "single-leader without epoch fencing (automatic failover): split brain",
  broken: "no epoch fencing: a deposed leader keeps replicating and acknowledging writes after a failover",
  options: SINGLE_LEADER_OPTIONS.map((o) =>
    o.name === "failover"
      ? { ...o, default: "auto" }
      : o.name === "failoverTimeoutMs"
        ? { ...o, default: 150 }
        : o,
  ),
  defaultNodes: 3,
  create: (init) => new SingleLeaderCore(init, { fencing: false }),
  supports: singleLeaderSupports,
  requestOptions,
};

/**
 * singleLeaderBrokenRetryTwice is the single-leader engine as it was before it kept client sessions: a write retried
 * after its reply was lost (the leader was killed and restarted, the connection dropped) is appended again, so an
 * overwritten value can come back. Found on real processes under kill -9; kept so that
 * `testdata/scenarios/leader-restart.json` is shown to catch it.
 */
export const singleLeaderBrokenRetryTwice: EngineDefinition<SingleLeaderMessage> = {
  ...singleLeaderEngine,
  name: "single-leader-broken-retry-twice",
  description: "single-leader without client sessions: a retried write is applied twice",
  broken: "no exactly-once sessions: a write retried after a leader restart is applied a second time",
  create: (init) => new SingleLeaderCore(init, { sessions: false }),
};
