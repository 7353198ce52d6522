import { describeOp as describeKvOp } from "./kv-model.js";
import type { Model } from "./model.js";
import type { Op } from "./op.js";
import type { PartitionOutcome } from "./wgl.js";

/** opLabel renders an op with its lines, e.g. `#12 p3 read x → 2 (lines 20–25)`. */
export function opLabel(op: Op, model?: Model): string {
  const text = model?.describeOp ? model.describeOp(op) : describeKvOp(op);
  const lines =
    op.completeLine !== undefined
      ? `lines ${op.invokeLine}–${op.completeLine}`
      : `line ${op.invokeLine}, never completed`;
  return `#${op.index} ${text} (${lines})`;
}

const PREFIX_SHOWN = 6;

/**
 * explainOutcome puts a failing partition in words: the op whose completion was reached but that could not take
 * effect, the pending ops the model rejects at that point, and the longest linearizable prefix (its last steps and
 * the state it leaves).
 */
export function explainOutcome(o: PartitionOutcome, part: Op[], model: Model): string {
  const prefix = o.prefix ?? [];
  const states = o.prefixStates ?? [];
  const state = prefix.length > 0 ? states[states.length - 1]! : (o.initState ?? "the initial state");
  const keyName = o.key === "" ? "the register" : `key ${JSON.stringify(o.key)}`;
  const lines: string[] = [`${keyName} (${o.ops} ops) is not linearizable.`];
  if (prefix.length === 0) {
    lines.push(
      `No op can be linearized first: from the initial state (${state}) nothing explains the history.`,
    );
  } else {
    lines.push(
      `The longest linearizable prefix has ${prefix.length} op(s)${prefix.length > PREFIX_SHOWN ? `; its last ${PREFIX_SHOWN}` : ""}:`,
    );
    const from = Math.max(0, prefix.length - PREFIX_SHOWN);
    for (let i = from; i < prefix.length; i++)
      lines.push(`  ${i + 1}. ${opLabel(part[prefix[i]!]!, model)}  ⇒ state ${states[i]}`);
  }
  if (o.blocking !== undefined) {
    const b = part[o.blocking]!;
    lines.push(
      `Then ${opLabel(b, model)} must take effect before it completes, but in state ${state} ${whyIllegal(b)}, and no other pending op can take effect first to make it legal.`,
    );
  }
  const illegal = (o.illegal ?? []).filter((i) => i !== o.blocking);
  if (illegal.length > 0) {
    lines.push(`Other pending ops that are illegal in state ${state}:`);
    for (const i of illegal.slice(0, PREFIX_SHOWN))
      lines.push(`  ${opLabel(part[i]!, model)} — ${whyIllegal(part[i]!)}`);
  }
  return lines.join("\n");
}

function whyIllegal(op: Op): string {
  if (op.f === "read" && op.values && op.values.length > 1) {
    return `it returned ${op.values.length} siblings, and a linearizable register holds one value at a time`;
  }
  switch (op.f) {
    case "read":
      return "it reads a value the register does not hold";
    case "cas":
      return op.type === "fail" ? "its compare would have matched" : "its compare would not match";
    case "append":
      return "the append is not defined there";
    default:
      return "the model rejects it";
  }
}
