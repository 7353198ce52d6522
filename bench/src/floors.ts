/**
 * floorMs is what physics allows for one operation of an engine variant at a given one-way delay between nodes:
 * the number of sequential node-to-node round trips its path needs, times 2 × delay. Clients sit next to the node
 * they talk to (client links carry no injected delay), so a path that answers from the node the client reached has a
 * floor of 0. The bench prints it beside each measurement so the reader sees how close an engine gets.
 */
export function floorMs(
  engine: string,
  options: Record<string, unknown>,
  requestOptions: Record<string, unknown>,
  op: "get" | "put" | "cas",
  delayMs: number,
): number {
  const rtt = 2 * delayMs;
  const o = { ...options, ...requestOptions };
  switch (engine) {
    case "raft":
      // Writes: leader appends, a majority acknowledges (one round). Linearizable reads: ReadIndex confirms
      // leadership with one heartbeat round (Raft thesis §6.4). Lease and stale reads answer locally.
      if (op === "get") return o.read === "lease" || o.read === "stale" ? 0 : rtt;
      return rtt;
    case "quorum": {
      // The coordinator is itself a replica when it is in the key's preference list (true with N = nodes), so a
      // quorum of 1 is local; any larger quorum needs one round to the others. cas is a read round then a write round.
      const r = Number(o.r ?? 2);
      const w = Number(o.w ?? 2);
      if (op === "get") return r > 1 ? rtt : 0;
      if (op === "put") return w > 1 ? rtt : 0;
      return (r > 1 ? rtt : 0) + (w > 1 ? rtt : 0);
    }
    case "single-leader": {
      // Leader reads and follower reads answer locally; writes wait for the followers the write concern names.
      if (op === "get") return 0;
      const sync = o.followers !== "async" || (o.w !== undefined && o.w !== 1 && o.w !== "1");
      return sync ? rtt : 0;
    }
    case "causal":
    case "multi-leader":
      return 0;
    case "etcd":
      return op === "get" ? rtt : rtt;
    default:
      return rtt;
  }
}
