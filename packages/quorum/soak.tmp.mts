import { checkGuarantees, parseHistory } from "@consistency-lab/checker";
import { declaredGuarantees, resolveOptions } from "@consistency-lab/kv";
import { runSimulation } from "@consistency-lab/sim";
import { quorumEngine } from "./dist/index.js";

const configs: [any, number | undefined, number, number][] = JSON.parse(process.argv[2]!);
for (const [opts, nodes, from, to] of configs) {
  const eng = quorumEngine;
  const declared = declaredGuarantees(eng.supports(resolveOptions(eng.options, opts)));
  let bad = 0;
  const t0 = Date.now();
  for (let seed = from; seed <= to; seed++) {
    const cfg: any = {
      engine: eng,
      options: opts,
      seed,
      faults: "all",
      workload: JSON.parse(process.argv[3] ?? "{}"),
    };
    if (nodes) cfg.nodes = nodes;
    const res = runSimulation(cfg);
    const v = checkGuarantees(parseHistory(res.history), declared).filter((r) => r.verdict !== "ok");
    if (v.length) {
      bad++;
      if (bad <= 3)
        console.log(
          JSON.stringify(opts),
          "seed",
          seed,
          v.map((x) => `${x.guarantee}:${x.verdict}: ${x.examples[0] ?? x.reason}`).join(" | "),
        );
    }
  }
  console.log(
    `${JSON.stringify(opts)} nodes=${nodes ?? 5} seeds ${from}..${to}: ${bad} bad, declared ${declared.join(",")}, ${Date.now() - t0}ms`,
  );
}
