import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { faultsSurvivedTable, readRecords } from "./nemesis/record.js";
import type { AnomalyRow, AvailabilityRun, BenchResults, LatencyRun, PromiseRow } from "./results.js";

/** The guarantees shown in the promises table, in order, with short column titles. */
const GUARANTEE_COLUMNS: [string, string][] = [
  ["linearizable", "lin"],
  ["sequential", "seq"],
  ["causal", "causal"],
  ["readYourWrites", "RYW"],
  ["monotonicReads", "MR"],
  ["monotonicWrites", "MW"],
  ["writesFollowReads", "WFR"],
  ["convergence", "conv"],
  ["noLostWrites", "no lost writes"],
  ["casAtomic", "atomic cas"],
];

async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const label = (r: { engine: string; variant: string }) =>
  r.variant === "default" ? r.engine : `${r.engine} (${r.variant})`;
const fmt = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? "–" : x.toFixed(digits);
const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

function latencyChart(runs: LatencyRun[], op: string): TopLevelSpec {
  const rows = runs.filter((r) => r.op === op).map((r) => ({ ...r, series: label(r) }));
  const delays = [...new Set(rows.map((r) => r.delayMs))].sort((a, b) => a - b);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `${op}: p50 latency vs injected one-way delay (dashed: majority round trip, 2 × delay)`,
    width: 520,
    height: 300,
    layer: [
      {
        data: { values: rows },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "delayMs", type: "quantitative", title: "injected one-way delay between nodes (ms)" },
          y: { field: "p50Ms", type: "quantitative", title: "p50 latency (ms)" },
          color: { field: "series", type: "nominal", title: "engine (variant)" },
          tooltip: [{ field: "series" }, { field: "p50Ms" }, { field: "p99Ms" }, { field: "floorMs" }],
        },
      },
      {
        data: { values: delays.map((d) => ({ delayMs: d, rtt: 2 * d })) },
        mark: { type: "line", strokeDash: [4, 4], color: "black" },
        encoding: {
          x: { field: "delayMs", type: "quantitative" },
          y: { field: "rtt", type: "quantitative" },
        },
      },
    ],
  } as TopLevelSpec;
}

function availabilityChart(a: AvailabilityRun[]): TopLevelSpec {
  const values = a.flatMap((run) =>
    run.timeline.map((p) => {
      const total = p.ok + p.fail + p.timeout;
      return { series: label(run), second: p.second, side: p.side, okRate: total ? p.ok / total : 0 };
    }),
  );
  const first = a[0];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title:
      "Share of operations that succeeded, per second and per side of the partition (shaded: partitioned)",
    data: { values },
    facet: { row: { field: "series", type: "nominal", title: null } },
    spec: {
      width: 520,
      height: 90,
      layer: [
        {
          data: { values: first ? [{ from: first.partitionAtS, to: first.healAtS }] : [] },
          mark: { type: "rect", color: "#E9DCA0", opacity: 0.6 },
          encoding: { x: { field: "from", type: "quantitative" }, x2: { field: "to" } },
        },
        {
          mark: { type: "line", point: true },
          encoding: {
            x: { field: "second", type: "quantitative", title: "time (s)" },
            y: {
              field: "okRate",
              type: "quantitative",
              title: "ok",
              scale: { domain: [0, 1] },
              axis: { format: "%" },
            },
            color: {
              field: "side",
              type: "nominal",
              scale: { domain: ["majority", "minority"], range: ["#1f77b4", "#d62728"] },
            },
          },
        },
      ],
    },
    resolve: { scale: { x: "shared" } },
  } as TopLevelSpec;
}

function promisesTable(rows: PromiseRow[]): string {
  const head = `| engine (variant) | ${GUARANTEE_COLUMNS.map(([, t]) => t).join(" | ")} | conflicts | writes available under partition |`;
  const sep = `|${"---|".repeat(GUARANTEE_COLUMNS.length + 3)}`;
  const body = rows.map(
    (r) =>
      `| ${label(r)} | ${GUARANTEE_COLUMNS.map(([g]) => (r.declared.includes(g) ? "✓" : "–")).join(" | ")} | ${r.conflicts} | ${
        r.availability === "all"
          ? "every side"
          : r.availability === "majority"
            ? "majority side only"
            : "leader's side only"
      } |`,
  );
  // Each note once per engine: variants repeat most of their engine's notes.
  const seen = new Set<string>();
  const notes: string[] = [];
  for (const r of rows) {
    for (const n of r.notes) {
      if (seen.has(`${r.engine}\n${n}`)) continue;
      seen.add(`${r.engine}\n${n}`);
      notes.push(`- ${label(r)}: ${n}`);
    }
  }
  return [head, sep, ...body, "", ...(notes.length ? ["Notes from the manifests:", "", ...notes] : [])].join(
    "\n",
  );
}

function latencyTable(runs: LatencyRun[]): string {
  const head =
    "| engine (variant) | op | delay ms | nodes | clients | value B | p50 ms | p95 ms | p99 ms | max ms | ops/s | floor ms | msgs/op | errors |";
  const sep = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";
  const body = runs.map(
    (r) =>
      `| ${label(r)} | ${r.op} | ${r.delayMs} | ${r.nodes} | ${r.clients} | ${r.valueBytes} | ${fmt(r.p50Ms)} | ${fmt(r.p95Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.maxMs)} | ${fmt(r.opsPerSec, 0)} | ${r.floorMs} | ${fmt(r.messagesPerOp)} | ${r.errors + r.timeouts} |`,
  );
  return [head, sep, ...body].join("\n");
}

function availabilityTable(a: AvailabilityRun[]): string {
  const head =
    "| engine (variant) | cut off | majority side ok | minority side ok | majority recovers (s after heal) | minority recovers (s after heal) | history |";
  const sep = "|---|---|---|---|---|---|---|";
  const body = a.map(
    (r) =>
      `| ${label(r)} | ${r.minority.join(", ")} | ${pct(r.availability.majority)} | ${pct(r.availability.minority)} | ${fmt(r.recoverySeconds.majority, 0)} | ${fmt(r.recoverySeconds.minority, 0)} | ${Object.entries(
        r.history.verdicts,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ")} |`,
  );
  return [head, sep, ...body].join("\n");
}

function anomalyTable(rows: AnomalyRow[]): string {
  const gs = [...new Set(rows.flatMap((r) => Object.keys(r.broken)))];
  const head = `| engine (variant) | runs | ops | ${gs.join(" | ")} | stale reads | max versions behind | max ms behind | lost writes | reads with siblings | max siblings |`;
  const sep = `|${"---|".repeat(gs.length + 9)}`;
  const body = rows.map((r) => {
    const cells = gs.map((g) => {
      const n = r.broken[g];
      if (n === undefined) return "–";
      const mark = r.declared.includes(g) ? " (declared)" : "";
      return `${n}/${r.runs}${mark}`;
    });
    return `| ${label(r)} | ${r.runs} | ${r.ops} | ${cells.join(" | ")} | ${r.staleReads} | ${r.maxVersionsBehind} | ${fmt(r.maxMsBehind, 0)} | ${r.lostWrites} | ${r.siblingReads} | ${r.maxSiblings} |`;
  });
  return [head, sep, ...body].join("\n");
}

/** findRun picks one latency row. */
function findRun(
  runs: LatencyRun[],
  engine: string,
  variant: string,
  op: string,
  delay: number,
): LatencyRun | undefined {
  return runs.find(
    (r) =>
      r.engine === engine &&
      r.variant === variant &&
      r.op === op &&
      r.delayMs === delay &&
      r.scenario === "latency",
  );
}

/** readingNotes ties the measured figures to the concepts, citing only numbers present in the results. */
function readingNotes(r: BenchResults): string[] {
  const out: string[] = [];
  const delays = [...new Set(r.runs.filter((x) => x.scenario === "latency").map((x) => x.delayMs))].sort(
    (a, b) => a - b,
  );
  const d = delays[delays.length - 1];
  if (d !== undefined && d > 0) {
    const raftPut = findRun(r.runs, "raft", "default", "put", d);
    if (raftPut) {
      out.push(
        `**The cost of linearizability.** At ${d} ms of one-way delay a Raft write took ${fmt(raftPut.p50Ms)} ms at the median against a floor of ${raftPut.floorMs} ms: the leader must hear from a majority before it answers, one round trip of 2 × ${d} ms, whatever the implementation.`,
      );
    }
    const causalPut = findRun(r.runs, "causal", "default", "put", d);
    if (causalPut) {
      out.push(
        `**What causal consistency saves.** The causal store answered writes in ${fmt(causalPut.p50Ms)} ms at the median under the same delay: a write is accepted by the replica the client reached and shipped to the others afterwards, so the delay between replicas does not appear in the client's latency.`,
      );
    }
    const lease = r.runs.find(
      (x) => x.engine === "raft" && x.variant !== "default" && x.op === "get" && x.delayMs === d,
    );
    const linGet = findRun(r.runs, "raft", "default", "get", d);
    if (lease && linGet) {
      out.push(
        `**Reads.** A linearizable Raft read (ReadIndex) took ${fmt(linGet.p50Ms)} ms at the median at ${d} ms, because the leader confirms it still leads with one heartbeat round; the ${lease.variant} variant took ${fmt(lease.p50Ms)} ms.`,
      );
    }
  }
  for (const a of r.availability) {
    if (a.engine === "raft" && a.variant === "default") {
      out.push(
        `**CAP in practice.** While the Raft leader was cut off, clients on its (minority) side completed ${pct(a.availability.minority)} of their operations and the majority side ${pct(a.availability.majority)} once it elected a new leader: a linearizable store must refuse to answer where it cannot reach a majority.`,
      );
    }
    if (a.engine === "causal" && a.variant === "default") {
      out.push(
        `The causal store stayed available on both sides: ${pct(a.availability.minority)} on the minority side, ${pct(a.availability.majority)} on the majority side. The price is that the two sides diverge until the partition heals, then converge.`,
      );
    }
  }
  const dup = r.uniqueness.filter((u) => u.duplicateNames > 0);
  if (r.uniqueness.length) {
    out.push(
      dup.length
        ? `**Uniqueness.** Claiming usernames with compare-and-set gave duplicate owners on ${dup.map((u) => `${label(u)} (${u.duplicateNames} names)`).join(", ")}; a uniqueness constraint needs linearizable compare-and-set (consensus), which only the engines that declare atomic cas provide.`
        : "**Uniqueness.** No engine produced a duplicate claim in this run; the weaker engines do not promise this, and the simulator's sweep below shows how often they break it under faults.",
    );
  }
  const q = r.anomalies.find(
    (x) => x.engine === "quorum" && x.source === "sim" && (x.broken.linearizable ?? 0) > 0,
  );
  if (q) {
    out.push(
      `**Quorums are not linearizability.** Even with R + W > N the quorum store broke linearizability in ${q.broken.linearizable}/${q.runs} simulated runs (${label(q)}): a read can overlap a write that has reached only some replicas (Kleppmann, DDIA Figure 9-6).`,
    );
  }
  return out;
}

/**
 * writeComparison regenerates docs/comparison.md and its charts from a results file. Every figure in the page
 * comes from `results`; nothing is typed in by hand.
 */
export async function writeComparison(
  results: BenchResults,
  docsDir: string,
  resultsPath: string,
): Promise<string[]> {
  const chartDir = join(docsDir, "results", "charts");
  mkdirSync(chartDir, { recursive: true });
  const written: string[] = [];
  const latency = results.runs.filter((r) => r.scenario === "latency");
  const charts: string[] = [];
  for (const op of ["put", "get", "cas"]) {
    if (!latency.some((r) => r.op === op)) continue;
    const file = join(chartDir, `latency-${op}.svg`);
    writeFileSync(file, await renderSvg(latencyChart(latency, op)));
    written.push(file);
    charts.push(`![${op} latency vs delay](${relative(docsDir, file)})`);
  }
  let availabilityImg = "";
  if (results.availability.length) {
    const file = join(chartDir, "availability.svg");
    writeFileSync(file, await renderSvg(availabilityChart(results.availability)));
    written.push(file);
    availabilityImg = `![availability through a partition](${relative(docsDir, file)})`;
  }

  const other = results.runs.filter((r) => r.scenario === "scale" || r.scenario === "value-size");
  const etcdRows = results.runs.filter((r) => r.scenario === "etcd");
  const md = [
    "# Comparison: what each consistency model costs and what it loses",
    "",
    `Generated by \`clab docs\` from [${relative(docsDir, resultsPath)}](${relative(docsDir, resultsPath)}) (profile \`${results.profile}\`, run ${results.startedAt}${results.gitSha ? `, commit ${results.gitSha.slice(0, 12)}` : ""}). Machine: ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}. Every cluster figure comes from real node processes on loopback talking over WebSockets, with delay and partitions injected in the transport; every history was checked by the checker. Regenerate with \`pnpm bench\` (runs and regenerates) or \`pnpm -s clab docs\` (regenerates from the last results).`,
    "",
    "## What each model promises",
    "",
    "Read from each engine's `Supports` manifest for the options benchmarked; ✓ = declared, and checked by the conformance suite under simulated faults.",
    "",
    promisesTable(results.promises),
    "",
    "## What it costs: latency vs injected delay",
    "",
    "Delay is one-way, injected on every link between nodes; clients sit next to the node they talk to. The floor is what physics allows for the path: a write that needs a majority's acknowledgement cannot finish before one round trip (2 × delay); a write accepted locally has a floor of 0.",
    "",
    ...charts.flatMap((c) => [c, ""]),
    latencyTable(latency),
    "",
    ...(other.length ? ["### Scale and value sizes", "", latencyTable(other), ""] : []),
    "## Availability through a partition",
    "",
    "A node (the leader, where there is one) is cut off from the rest. While the partition lasts, the clients on each side talk only to the nodes on their side; before and after it they reach every node. Each point is one second: the share of the operations completed in that second that succeeded. The table's availability is that share averaged over the full seconds of the partition (a second in which nothing completed counts as 0); recovery is the first second after the heal with at least 90 % success. Each run's history is written to `results/latest/histories/` by the bench (not kept in git) and can be checked again with `clab check FILE --consistency all`.",
    "",
    availabilityImg,
    "",
    availabilityTable(results.availability),
    "",
    "## Faults survived on real processes",
    "",
    "From `clab nemesis` runs: a 3-node cluster of real `clab node` processes, six clients (unique puts 50 %, gets 35 %, get-then-cas 15 % on 4 keys), and every 5 s a fault on the current leader (a random node where there is none): `kill -9` then a restart from its data directory, or SIGSTOP for 1.5–3 s. Afterwards everything is healed and restarted, every node is read, and the history is checked against what the engine declares for its options. Time to first write is from the fault's start (or its heal) to the first acknowledged write invoked after it. Each row is one run; rerun one with `clab nemesis --engine E --faults kill,pause --target leader --interval 5 --duration 60 --record docs/results/nemesis`.",
    "",
    faultsSurvivedTable(readRecords(join(docsDir, "results", "nemesis"))),
    "",
    "## What it loses: anomalies found by the checker",
    "",
    "From the real-cluster runs (one history per engine variant, under delay and a partition) and from the deterministic simulator (many seeds under randomized faults). A cell `k/n` counts runs whose history broke that guarantee; `(declared)` marks a guarantee the engine promises, where anything but 0 is a bug.",
    "",
    anomalyTable(results.anomalies.filter((a) => a.source === "cluster")),
    "",
    "Simulated sweep:",
    "",
    anomalyTable(results.anomalies.filter((a) => a.source === "sim")),
    "",
    "## Uniqueness: claiming usernames",
    "",
    "Clients race to claim the same names with put-if-absent (`cas` expecting absent); a name more than one client believes it owns is a duplicate.",
    "",
    "| engine (variant) | names | clients | partition during the race | claims ok | duplicate names | duplicate claims | refused claims |",
    "|---|---|---|---|---|---|---|---|",
    ...results.uniqueness.map(
      (u) =>
        `| ${label(u)} | ${u.names} | ${u.clients} | ${u.partitioned ? "yes" : "no"} | ${u.claimsOk} | ${u.duplicateNames} | ${u.duplicateClaims} | ${u.failedClaims} |`,
    ),
    "",
    "## etcd side by side",
    "",
    results.etcd.available
      ? `${results.etcd.note}${results.etcd.writeThroughputRatio != null ? ` Our Raft's durable write throughput with many clients at 0 ms was ${results.etcd.writeThroughputRatio.toFixed(2)} × etcd's in this run.` : ""}`
      : results.etcd.note,
    "",
    ...(etcdRows.length ? [latencyTable(etcdRows), ""] : []),
    "## Reading the results",
    "",
    ...readingNotes(results).flatMap((p) => [p, ""]),
    ...(results.notes.length
      ? ["## Notes from this run", "", ...results.notes.map((n) => `- ${n}`), ""]
      : []),
  ].join("\n");
  const mdPath = join(docsDir, "comparison.md");
  writeFileSync(mdPath, md);
  written.push(mdPath);
  return written;
}
