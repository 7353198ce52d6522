import { parentPort } from "node:worker_threads";
import { builtinModel } from "./kv-model.js";
import type { Op } from "./op.js";
import { checkPartitionLinearizable } from "./wgl.js";

// Worker entry for checkLinearizable: checks one partition per message with a built-in model.
parentPort?.on(
  "message",
  (m: {
    idx: number;
    ops: Op[];
    modelName: string;
    remainingMs: number;
    budgetWords: number;
    keepLinearization: boolean;
  }) => {
    const model = builtinModel(m.modelName);
    if (!model) throw new Error(`unknown built-in model ${m.modelName}`);
    const outcome = checkPartitionLinearizable(m.ops, model, {
      deadline: performance.now() + Math.max(0, m.remainingMs),
      budgetWords: m.budgetWords,
      keepLinearization: m.keepLinearization,
    });
    parentPort?.postMessage({ idx: m.idx, outcome });
  },
);
