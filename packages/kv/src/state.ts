import { TraceHash } from "./trace-hash.js";

/**
 * A core's state is plain data (ARCHITECTURE §2): plain objects, arrays, Maps, Sets, primitives, and instances of
 * the core's own classes whose fields are plain data too. No closures and no hidden fields, so that an explorer can
 * branch from a state (`deepClone`) and recognise a state it has seen (`fingerprint`).
 */

/**
 * deepClone copies a core's state. Class instances keep their prototype, shared references stay shared and cycles
 * are kept. Functions are not state and must not appear: a core keeps none.
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

/**
 * canonicalEncode renders a state as a string that two equal states share and two different states do not:
 * object keys sorted, Map entries and Set members sorted by their own encoding (insertion order is not state),
 * arrays in order, `undefined` fields left out as JSON does, class instances tagged with their class name.
 * Numbers keep their sign of zero and NaN/Infinity are spelled out. A value met again on the path to itself (a
 * cycle) is refused: core state is a tree.
 */
export function canonicalEncode(value: unknown): string {
  return encode(value, new Set());
}

function encode(value: unknown, path: Set<object>): string {
  switch (typeof value) {
    case "undefined":
      return "u";
    case "boolean":
      return value ? "t" : "f";
    case "number":
      return Number.isFinite(value) ? (Object.is(value, -0) ? "-0" : String(value)) : `#${value}`;
    case "bigint":
      return `${value}n`;
    case "string":
      return JSON.stringify(value);
    case "function":
      throw new TypeError("canonicalEncode: a core holds no functions");
    case "symbol":
      throw new TypeError("canonicalEncode: symbols are not state");
  }
  if (value === null) return "n";
  const obj = value as object;
  if (path.has(obj)) throw new TypeError("canonicalEncode: state holds a cycle");
  path.add(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = `[${obj.map((v) => encode(v, path)).join(",")}]`;
  } else if (obj instanceof Map) {
    const entries = [...obj].map(([k, v]) => `${encode(k, path)}:${encode(v, path)}`);
    out = `M{${entries.sort().join(",")}}`;
  } else if (obj instanceof Set) {
    out = `S{${[...obj]
      .map((v) => encode(v, path))
      .sort()
      .join(",")}}`;
  } else if (obj instanceof Uint8Array) {
    out = `B[${obj.join(",")}]`;
  } else {
    const proto = Object.getPrototypeOf(obj);
    const tag = proto === Object.prototype || proto === null ? "" : (proto.constructor?.name ?? "?");
    const rec = obj as Record<string, unknown>;
    const fields = Object.keys(rec)
      .filter((k) => rec[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${encode(rec[k], path)}`);
    out = `${tag}{${fields.join(",")}}`;
  }
  path.delete(obj);
  return out;
}

/** fingerprint is a stable 64-bit FNV-1a digest (16 hex digits) of a state's canonical encoding. */
export function fingerprint(value: unknown): string {
  const h = new TraceHash();
  h.str(canonicalEncode(value));
  return h.hex();
}
