import { push } from "./multimap.js";
import type { Op } from "./op.js";
import { readValues } from "./op.js";
import { showValueKey, valueKey } from "./values.js";

/**
 * WriteIndex identifies, per key, which op wrote each value, for checks that assume unique written values per key
 * (Bouajjani et al. POPL'17 "differentiated histories"). Writes are write, cas (ok or info: its new value) and
 * delete (a write of "absent"). Only ops that may have taken effect count (ok and info).
 */
export class WriteIndex {
  /** key → value key → writers of that value. */
  readonly writers = new Map<string, Map<string, Op[]>>();
  /** key → deletes that may have taken effect. */
  readonly deletes = new Map<string, Op[]>();
  readonly hasAppend: boolean;

  constructor(ops: readonly Op[]) {
    let hasAppend = false;
    for (const op of ops) {
      if (op.type === "fail") continue;
      if (op.f === "append") hasAppend = true;
      if (op.f === "delete" || ((op.f === "write" || op.f === "cas") && writtenKey(op) === null)) {
        push(this.deletes, op.key, op);
      } else if (op.f === "write" || op.f === "cas") {
        let m = this.writers.get(op.key);
        if (!m) {
          m = new Map();
          this.writers.set(op.key, m);
        }
        const vk = writtenKey(op)!;
        let list = m.get(vk);
        if (!list) {
          list = [];
          m.set(vk, list);
        }
        list.push(op);
      }
    }
    this.hasAppend = hasAppend;
  }

  /** writersOf lists the ops that wrote `value` to `key` (for absent: the deletes). */
  writersOf(key: string, vk: string | null): Op[] {
    if (vk === null) return this.deletes.get(key) ?? [];
    return this.writers.get(key)?.get(vk) ?? [];
  }

  /**
   * ambiguity names the first observation (a read value, or a cas expected value) that cannot be attributed to
   * one write because several writes wrote it — then write-identity checks must answer `unknown`.
   */
  ambiguity(ops: readonly Op[], ignoreAbsent = false): string | undefined {
    for (const op of ops) {
      for (const vk of observed(op)) {
        if (vk === null && ignoreAbsent) continue;
        const ws = this.writersOf(op.key, vk);
        if (vk === null ? ws.length > 0 : ws.length > 1) {
          return vk === null
            ? `a read of absent on key ${JSON.stringify(op.key)} (line ${op.invokeLine}) cannot be told apart from the initial state and ${ws.length} delete(s)`
            : `value ${showValueKey(vk)} was written ${ws.length} times to key ${JSON.stringify(op.key)} (lines ${ws
                .slice(0, 3)
                .map((w) => w.invokeLine)
                .join(", ")}) and is read at line ${op.invokeLine}: written values are not unique`;
        }
      }
    }
    return undefined;
  }
}

/** writtenKey is the value key an op writes (write value, cas new value); null for delete. */
export function writtenKey(op: Op): string | null {
  if (op.f === "write") return valueKey(op.value);
  if (op.f === "cas") return valueKey((op.value as [unknown, unknown])[1]);
  return null;
}

/** observed lists the value keys an op observed: an ok read's values, an ok cas's expected value. */
export function observed(op: Op): (string | null)[] {
  if (op.type !== "ok") return [];
  if (op.f === "read") return readValues(op).map(valueKey);
  if (op.f === "cas") return [valueKey((op.value as [unknown, unknown])[0])];
  return [];
}

/** isWrite says whether an op writes (write, delete, cas that may have swapped). */
export function isWrite(op: Op): boolean {
  return op.f === "write" || op.f === "delete" || op.f === "append" || (op.f === "cas" && op.type !== "fail");
}
