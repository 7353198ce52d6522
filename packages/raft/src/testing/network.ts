import type { EngineDefinition, NodeId, OptionValue } from "@consistency-lab/kv";
import { HandNetwork, type Wire as HandWire } from "@consistency-lab/sim/testing";
import type { RaftMessage } from "../core/messages.js";
import type { RaftOptions } from "../core/options.js";
import type { RaftCore } from "../core/raft-core.js";
import { raftEngine } from "../engines.js";

/** A message on the wire of the in-test network. */
export type Wire = HandWire<RaftMessage>;

/**
 * Network is sim's hand network (etcd-io/raft `raft_test.go` network) over raft cores, with the two questions the
 * paper-section tests ask: who leads, and run until someone does. `engine` may be a broken variant, so a test can
 * drive the variant and Raft alike.
 */
export class Network extends HandNetwork<RaftMessage, RaftCore> {
  constructor(
    n: number,
    options: Partial<RaftOptions> & { voters?: number } = {},
    seed = 1,
    engine: EngineDefinition<RaftMessage> = raftEngine,
  ) {
    super({
      engine,
      nodes: n,
      options: options as Record<string, OptionValue>,
      seed,
      describe: describeMessage,
    });
  }

  /** leader returns the node that believes it leads in the highest term, if any. */
  leader(): NodeId | null {
    let best: RaftCore | null = null;
    for (const [id, c] of this.cores) {
      if (this.isDown(id) || c.role !== "leader") continue;
      if (best === null || c.term > best.term) best = c;
    }
    return best?.id ?? null;
  }

  /** elect runs until some node leads and has committed all it holds; returns it. */
  elect(maxMs = 5000): NodeId {
    for (let t = 0; t < maxMs; t += 10) {
      const l = this.leader();
      if (l !== null && this.core(l).log.committed >= this.core(l).log.lastIndex()) return l;
      this.tick(10);
    }
    throw new Error("no leader elected");
  }
}

/** describeMessage renders a message for transcripts (the network prefixes `from->to`). */
export function describeMessage(m: RaftMessage): string {
  const head = `${m.type} t${m.term}`;
  switch (m.type) {
    case "append-request":
      return `${head} prev=${m.prevIndex}/${m.prevTerm} commit=${m.commit} entries=[${m.entries.map((e) => `${e.index}/${e.term}:${e.cmd.kind === "kv" ? `${e.cmd.op} ${e.cmd.key}` : e.cmd.kind}`).join(", ")}]`;
    case "append-response":
      return `${head} ${m.success ? "ok" : "reject"} index=${m.index}${m.hintIndex !== undefined ? ` hint=${m.hintIndex}/${m.hintTerm}` : ""}`;
    case "vote-request":
    case "prevote-request":
      return `${head} last=${m.lastIndex}/${m.lastTerm}${"transfer" in m && m.transfer ? " transfer" : ""}`;
    case "vote-response":
    case "prevote-response":
      return `${head} ${m.granted ? "granted" : "rejected"}`;
    case "heartbeat":
      return `${head} commit=${m.commit}${m.ctx !== undefined ? ` ctx=${m.ctx}` : ""}`;
    case "heartbeat-response":
      return `${head} ctx=${m.ctx}`;
    case "snapshot-request":
      return `${head} snap=${m.snapshot.index}/${m.snapshot.term} keys=${m.snapshot.data.length}`;
    case "read-index-request":
      return `${head} ctx=${m.ctx}`;
    case "read-index-response":
      return `${head} ctx=${m.ctx} index=${m.index}`;
    case "timeout-now":
      return head;
  }
}
