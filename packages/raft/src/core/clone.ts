/**
 * deepClone copies a core's state: plain objects, arrays, Maps, Sets and instances of the core's own classes, whose
 * fields are plain data too (ARCHITECTURE §2: a state an explorer can branch from). Class instances keep their
 * prototype. Functions are not state and must not appear: a core keeps none.
 */
export function deepClone<T>(value: T, seen = new Map<object, unknown>()): T {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function") throw new TypeError("deepClone: a core holds no functions");
    return value;
  }
  const hit = seen.get(value);
  if (hit !== undefined) return hit as T;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const v of value) out.push(deepClone(v, seen));
    return out as T;
  }
  if (value instanceof Map) {
    const out = new Map();
    seen.set(value, out);
    for (const [k, v] of value) out.set(deepClone(k, seen), deepClone(v, seen));
    return out as T;
  }
  if (value instanceof Set) {
    const out = new Set();
    seen.set(value, out);
    for (const v of value) out.add(deepClone(v, seen));
    return out as T;
  }
  const out = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>;
  seen.set(value, out);
  for (const k of Object.keys(value)) out[k] = deepClone((value as Record<string, unknown>)[k], seen);
  return out as T;
}
