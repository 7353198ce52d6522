import { it } from "vitest";
import { runSeed } from "@consistency-lab/conformance";
import * as raft from "./index.js";
it("probe", () => {
  const N = Number(process.env.N ?? 10);
  const engine = (raft as any)[process.env.ENGINE ?? "raftEngine"];
  const opts = process.env.OPTS ? JSON.parse(process.env.OPTS) : undefined;
  let bad = 0;
  const t0 = Date.now();
  for (let s = Number(process.env.FROM ?? 1); s <= N; s++) {
    const r = runSeed({ engine, faults: process.env.FAULTS ? process.env.FAULTS.split(",") as any : "all", options: opts, nodes: Number(process.env.NODES ?? 3), workload: process.env.WL ? JSON.parse(process.env.WL) : undefined }, s);
    const codes: Record<string, number> = {};
    for (const e of r.result.history) if (e.type !== "invoke") codes[`${e.f}:${e.type}:${e.error ?? ""}`] = (codes[`${e.f}:${e.type}:${e.error ?? ""}`] ?? 0) + 1;
    if (r.violations.length > 0 || r.unknown.length > 0) { bad++; console.log("seed", s, "VIOL", r.violations.map(v => v.guarantee + ":" + JSON.stringify(v).slice(0, 300)), r.unknown.map(v=>v.guarantee)); }
    else if (process.env.V) console.log("seed", s, "ok", JSON.stringify(codes));
  }
  console.log("bad", bad, "ms", Date.now() - t0);
}, 600_000);
