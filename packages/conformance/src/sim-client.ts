import type { ClientReply, ClientRequest, EngineDefinition, OptionValue } from "@consistency-lab/kv";
import { SimCluster } from "@consistency-lab/sim";

/**
 * SimClient sends requests to a simulated cluster the way a careful client would: to the leader if there is one,
 * following KV_NOT_LEADER hints and retrying definite refusals until a deadline in virtual time. It lets the
 * KV-semantics tests stay the same for leader-based and leaderless engines.
 */
export class SimClient {
  readonly cluster: SimCluster;
  private seq = 0;
  private token: string | undefined;
  private readonly contexts = new Map<string, string>();

  constructor(
    engine: EngineDefinition<any>,
    options: Record<string, OptionValue> | undefined,
    nodes: number,
    seed: number,
    readonly clientId = "conformance",
  ) {
    this.cluster = new SimCluster({ engine, options: options ?? {}, nodes, seed });
  }

  /** call sends one request and returns its reply, or `undefined` if no outcome was known before the deadline. */
  call(req: Omit<ClientRequest, "id" | "session">, deadlineMs = 10_000): ClientReply | undefined {
    const c = this.cluster;
    const until = c.now + deadlineMs;
    const session = {
      clientId: this.clientId,
      seq: ++this.seq,
      ...(this.token ? { token: this.token } : {}),
    };
    let target = c.leader() ?? c.nodes[0]!;
    const options = { ...req.options };
    const ctx = this.contexts.get(req.key);
    if (ctx !== undefined && req.op !== "get" && options.context === undefined) options.context = ctx;
    const full: Omit<ClientRequest, "id"> = {
      ...req,
      session,
      ...(Object.keys(options).length ? { options } : {}),
    };
    while (c.now < until) {
      const reply = c.request(target, full, { deadlineMs: Math.max(1, until - c.now) });
      if ("timeout" in reply) return undefined;
      const code = reply.error?.code;
      // KV_ABORTED: the node crashed with the request in flight; the session seq makes the retry safe.
      if (code === "KV_NOT_LEADER" || code === "KV_UNAVAILABLE" || code === "KV_ABORTED") {
        const hint = reply.error?.leader;
        target =
          hint && c.nodes.includes(hint)
            ? hint
            : (c.leader() ?? c.nodes[(c.nodes.indexOf(target) + 1) % c.nodes.length]!);
        c.runFor(50);
        continue;
      }
      if (reply.token !== undefined) this.token = reply.token;
      if (reply.context !== undefined) this.contexts.set(req.key, reply.context);
      return reply;
    }
    return undefined;
  }

  /** settle lets the cluster run (elections, replication) for a while. */
  settle(ms = 2_000): void {
    this.cluster.runFor(ms);
  }
}
