import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { explainOutcome, opLabel } from "./explain.js";
import { builtinModel, kvModel } from "./kv-model.js";
import type { Model } from "./model.js";
import type { Op } from "./op.js";
import { type PartitionOutcome, type SearchLimits, searchPartition } from "./wgl.js";

/** LinearizabilityOptions tune checkLinearizable. */
export interface LinearizabilityOptions {
  /** The sequential specification; default kvModel. */
  model?: Model;
  /** Wall-clock budget for the whole check; when reached the verdict is `unknown`. Default 60 s. */
  timeLimitMs?: number;
  /** Memo-table budget per key in MB (estimated from entry counts); when reached that key is `unknown`. Default 384. */
  memoryLimitMb?: number;
  /** Worker threads for checking keys in parallel; 0 = in-thread. Default: cores − 1 for large histories. */
  workers?: number;
  /** Keep the linearization found for each ok key (`linearizations`), for writeReport's timelines. */
  keepLinearization?: boolean;
}

/** KeyResult summarises one partition (key). */
export interface KeyResult {
  key: string;
  ops: number;
  verdict: "ok" | "violation" | "unknown";
  seconds: number;
  reason?: string;
}

/** LinearizabilityResult is the verdict for a whole history, with an explanation when it is a violation. */
export interface LinearizabilityResult {
  verdict: "ok" | "violation" | "unknown";
  /** Partitions (keys) checked. */
  keys: number;
  ops: number;
  seconds: number;
  model: string;
  /** The smallest failing key (fewest ops). */
  failingKey?: string;
  /** One line: the failing key and the first op that could not be linearized, or why the verdict is unknown. */
  summary?: string;
  /** Prose: which ops could not be linearized, the longest linearizable prefix, or why the verdict is unknown. */
  explanation?: string;
  /** Longest linearizable prefix of the failing key, in linearization order. */
  longestPrefix?: Op[];
  /** Model state after each op of longestPrefix (described). */
  prefixStates?: string[];
  /** The ops that could not be linearized after longestPrefix (the op whose completion was reached first, and
   * the pending ops the model rejects there). */
  unlinearizable?: Op[];
  perKey?: KeyResult[];
  /** Per key, a linearization that was found (op indexes into the history), for reports. */
  linearizations?: Record<string, { ops: number[]; states: string[] }>;
}

const DEFAULT_TIME_LIMIT_MS = 60_000;
const DEFAULT_MEMORY_MB = 384;
/** Below this many ops the worker start-up (≈30 ms each) costs more than it saves. */
const WORKER_MIN_OPS = 20_000;

function limitsOf(opts: LinearizabilityOptions, start: number): SearchLimits {
  return {
    deadline: start + (opts.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS),
    budgetWords: ((opts.memoryLimitMb ?? DEFAULT_MEMORY_MB) * 2 ** 20) / 4,
    keepLinearization: opts.keepLinearization ?? false,
  };
}

function partitionsOf(ops: Op[], model: Model): Op[][] {
  const parts = (model.partition ? model.partition(ops) : [ops]).filter((p) => p.length > 0);
  // Smallest first: the first violation found is then the smallest failing key.
  return parts.sort((a, b) => a.length - b.length);
}

/**
 * checkLinearizableSync checks a history for linearizability in the calling thread: per partition (key) WGL search
 * with memoization (see wgl.ts). Verdict `unknown` when the time or memory limit is reached — never a silent pass.
 *
 * The keys are searched side by side, smallest first, in rounds that double each key's share of search steps, and
 * the check stops at the first key found not linearizable (one is enough for the verdict): a violation that is
 * cheap to find is then not kept waiting behind a key that is hard to prove linearizable, which is Porcupine's
 * "first illegal partition cancels the others", without threads. Keys left unsearched are reported `unknown`.
 * A linearizable history costs the same as searching its keys one after another.
 */
export function checkLinearizableSync(
  ops: Op[],
  opts: Omit<LinearizabilityOptions, "workers"> = {},
): LinearizabilityResult {
  const start = performance.now();
  const model = opts.model ?? kvModel;
  const limits = limitsOf(opts, start);
  const parts = partitionsOf(ops, model);
  return assemble(ops, parts, searchSideBySide(parts, model as Model<unknown>, limits), model, start);
}

/** FIRST_ROUND_SLICES is each key's share of the first round, in slices of SLICE steps; it doubles every round. */
const FIRST_ROUND_SLICES = 4;

function searchSideBySide(parts: Op[][], model: Model<unknown>, limits: SearchLimits): PartitionOutcome[] {
  const outcomes: (PartitionOutcome | undefined)[] = new Array(parts.length);
  const searches = parts.map((p) => searchPartition(p, model, limits));
  // Each key's own search time: the clock of an interleaved search also runs while the other keys are searched.
  const spent = new Float64Array(parts.length);
  let open = parts.map((_, i) => i);
  for (let share = FIRST_ROUND_SLICES; open.length > 0; share *= 2) {
    const still: number[] = [];
    for (const i of open) {
      const t = performance.now();
      let done: PartitionOutcome | undefined;
      for (let k = 0; k < share && !done; k++) {
        const step = searches[i]!.next();
        if (step.done) done = step.value;
      }
      spent[i]! += performance.now() - t;
      if (!done) {
        still.push(i);
        continue;
      }
      outcomes[i] = { ...done, seconds: spent[i]! / 1000 };
      if (done.verdict === "violation") {
        for (let j = 0; j < parts.length; j++) {
          if (outcomes[j]) continue;
          searches[j]!.return(undefined as never);
          outcomes[j] = notSearched(parts[j]!, done.key, spent[j]! / 1000);
        }
        return outcomes as PartitionOutcome[];
      }
    }
    open = still;
  }
  return outcomes as PartitionOutcome[];
}

/** notSearched is the outcome of a key left unsearched once another key was found not linearizable. */
function notSearched(part: Op[], failingKey: string, seconds: number): PartitionOutcome {
  return {
    key: part[0]?.key ?? "",
    ops: part.length,
    verdict: "unknown",
    reason: `not searched to the end: key ${JSON.stringify(failingKey)} is not linearizable`,
    seconds,
    explored: 0,
  };
}

/**
 * checkLinearizable checks a history for linearizability, keys in parallel on worker threads when the history is
 * large and the model is a built-in one (a user model's functions cannot cross a thread boundary, so it is checked
 * in-thread). Same verdicts as checkLinearizableSync.
 */
export async function checkLinearizable(
  ops: Op[],
  opts: LinearizabilityOptions = {},
): Promise<LinearizabilityResult> {
  const model = opts.model ?? kvModel;
  const builtin = builtinModel(model.name) === model;
  const parts = partitionsOf(ops, model);
  const workers = Math.min(
    opts.workers ?? (ops.length >= WORKER_MIN_OPS ? Math.max(1, availableParallelism() - 1) : 0),
    parts.length,
  );
  if (!builtin || workers <= 1 || parts.length < 2) return checkLinearizableSync(ops, opts);
  const start = performance.now();
  const limits = limitsOf(opts, start);
  // performance.now() is per thread; workers get a remaining budget, not an absolute deadline.
  const outcomes = await runOnWorkers(
    parts,
    model.name,
    limits.deadline - start,
    limits.budgetWords,
    limits.keepLinearization ?? false,
    workers,
  );
  return assemble(ops, parts, outcomes, model, start);
}

async function runOnWorkers(
  parts: Op[][],
  modelName: string,
  budgetMs: number,
  budgetWords: number,
  keepLinearization: boolean,
  count: number,
): Promise<PartitionOutcome[]> {
  const outcomes: PartitionOutcome[] = new Array(parts.length);
  // Largest first across workers balances the load; results are stored by index.
  const order = parts.map((_, i) => i).sort((a, b) => parts[b]!.length - parts[a]!.length);
  let nextJob = 0;
  let failed: string | undefined;
  const started = performance.now();
  const url = workerUrl();
  const pool = Array.from({ length: count }, () => new Worker(url));
  try {
    // Resolves when every key is searched, or at the first key that is not linearizable (one decides the verdict;
    // the searches still running are ended with their workers).
    await new Promise<void>((resolve, reject) => {
      let busy = 0;
      const send = (w: Worker): void => {
        if (failed !== undefined || nextJob >= order.length) {
          if (busy === 0 || failed !== undefined) resolve();
          return;
        }
        const idx = order[nextJob++]!;
        const remainingMs = budgetMs - (performance.now() - started);
        busy++;
        w.postMessage({
          idx,
          ops: parts[idx]!.map(slim),
          modelName,
          remainingMs,
          budgetWords,
          keepLinearization,
        });
      };
      for (const w of pool) {
        w.on("message", (m: { idx: number; outcome: PartitionOutcome }) => {
          busy--;
          outcomes[m.idx] = m.outcome;
          if (m.outcome.verdict === "violation") failed ??= m.outcome.key;
          send(w);
        });
        w.on("error", reject);
        send(w);
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  for (let i = 0; i < parts.length; i++) outcomes[i] ??= notSearched(parts[i]!, failed ?? "", 0);
  return outcomes;
}

function assemble(
  ops: Op[],
  parts: Op[][],
  outcomes: PartitionOutcome[],
  model: Model,
  start: number,
): LinearizabilityResult {
  const perKey: KeyResult[] = outcomes.map((o) => ({
    key: o.key,
    ops: o.ops,
    verdict: o.verdict,
    seconds: o.seconds,
    ...(o.reason ? { reason: o.reason } : {}),
  }));
  const linearizations: Record<string, { ops: number[]; states: string[] }> = {};
  outcomes.forEach((o, i) => {
    if (o.linearization) {
      linearizations[o.key] = {
        ops: o.linearization.map((p) => parts[i]![p]!.index),
        states: o.linearizationStates ?? [],
      };
    }
  });
  const result: LinearizabilityResult = {
    verdict: "ok",
    keys: parts.length,
    ops: ops.length,
    seconds: 0,
    model: model.name,
    perKey,
    linearizations,
  };
  const failing = outcomes.findIndex((o) => o.verdict === "violation");
  if (failing >= 0) {
    const o = outcomes[failing]!;
    const part = parts[failing]!;
    result.verdict = "violation";
    result.failingKey = o.key;
    result.longestPrefix = (o.prefix ?? []).map((p) => part[p]!);
    result.prefixStates = o.prefixStates ?? [];
    const bad = new Set<number>([...(o.blocking !== undefined ? [o.blocking] : []), ...(o.illegal ?? [])]);
    result.unlinearizable = [...bad].map((p) => part[p]!);
    const first = o.blocking !== undefined ? part[o.blocking] : undefined;
    result.summary = `key ${JSON.stringify(o.key)}: ${first ? `${opLabel(first, model)} cannot be linearized` : "no op can be linearized"} after ${o.prefix?.length ?? 0} op(s)`;
    const others = outcomes.filter((x) => x.verdict === "violation").length - 1;
    const unsearched = outcomes.filter((x) => x.verdict === "unknown").length;
    result.explanation =
      explainOutcome(o, part, model) +
      (others > 0 ? `\n${others} other key(s) are not linearizable either.` : "") +
      (unsearched > 0
        ? `\n${unsearched} other key(s) were not searched to the end (one failing key decides).`
        : "");
  } else {
    const unknown = outcomes.filter((o) => o.verdict === "unknown");
    if (unknown.length > 0) {
      result.verdict = "unknown";
      result.summary = `${unknown.length} key(s) undecided: ${unknown[0]!.reason}`;
      result.explanation = unknown
        .slice(0, 3)
        .map((o) => `key ${JSON.stringify(o.key)} (${o.ops} ops): ${o.reason}`)
        .join("\n");
    }
  }
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

/** slim keeps what the search reads of an op, so less is cloned to a worker. */
function slim(op: Op): Op {
  const o: Op = {
    index: op.index,
    process: op.process,
    f: op.f,
    key: op.key,
    value: op.value,
    type: op.type,
    call: op.call,
    ret: op.ret,
    invokeLine: op.invokeLine,
  };
  if (op.values) o.values = op.values;
  if (op.error !== undefined) o.error = op.error;
  return o;
}

/** workerUrl finds the compiled worker; tests run from src/ (TypeScript), where it is taken from dist/. */
function workerUrl(): URL {
  const here = new URL("./linearizable-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL("../dist/linearizable-worker.js", import.meta.url);
}
