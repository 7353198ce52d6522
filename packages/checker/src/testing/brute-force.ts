import type { Model } from "../model.js";
import type { Op } from "../op.js";
import { isRelevant } from "../wgl.js";

/**
 * bruteForceLinearizable tries every order of the ops that respects real time, with every subset of the
 * indeterminate ops — no memoization, no list tricks — as a reference for differential tests. Exponential: only
 * for a handful of ops per key.
 */
export function bruteForceLinearizable(ops: Op[], model: Model): boolean {
  const byKey = model.partition ? model.partition(ops) : [ops];
  return byKey.every((part) => {
    const rel = part.filter(isRelevant);
    const placed = new Array<boolean>(rel.length).fill(false);
    const go = (state: unknown, left: number): boolean => {
      if (left === 0) return true;
      for (let i = 0; i < rel.length; i++) {
        if (placed[i]) continue;
        const o = rel[i]!;
        // o may go next only if no unplaced op completed before o was invoked.
        let blocked = false;
        for (let j = 0; j < rel.length; j++)
          if (!placed[j] && j !== i && rel[j]!.ret < o.call) blocked = true;
        if (blocked) continue;
        placed[i] = true;
        const l = left - (o.type === "info" ? 0 : 1);
        for (const s of model.step(state as never, o)) if (go(s, l)) return true;
        placed[i] = false;
      }
      return false;
    };
    return go(model.init(), rel.filter((o) => o.type !== "info").length);
  });
}

/**
 * bruteForceSequential is the same search with process order in place of real-time order: an op may go next
 * only if every determinate op of its process invoked before it is placed.
 */
export function bruteForceSequential(ops: Op[], model: Model): boolean {
  const rel = ops.filter(isRelevant);
  const placed = new Array<boolean>(rel.length).fill(false);
  const go = (state: unknown, left: number): boolean => {
    if (left === 0) return true;
    for (let i = 0; i < rel.length; i++) {
      if (placed[i]) continue;
      const o = rel[i]!;
      let blocked = false;
      for (let j = 0; j < rel.length; j++) {
        const p = rel[j]!;
        if (!placed[j] && j !== i && p.process === o.process && p.call < o.call && p.type !== "info")
          blocked = true;
      }
      if (blocked) continue;
      placed[i] = true;
      const l = left - (o.type === "info" ? 0 : 1);
      for (const s of model.step(state as never, o)) if (go(s, l)) return true;
      placed[i] = false;
    }
    return false;
  };
  return go(model.init(), rel.filter((o) => o.type !== "info").length);
}
