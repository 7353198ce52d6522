/**
 * valueKey gives a value a canonical string so that values compare by content: `1` and `"1"` differ, objects
 * with the same fields compare equal only if serialized alike (histories are JSON, so that is the natural
 * identity). `null` and `undefined` both mean "absent" and map to null.
 */
export function valueKey(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return `"${v}`;
  return JSON.stringify(v);
}

/** showValue renders a value for prose: strings quoted, absent as `absent`. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return "absent";
  return JSON.stringify(v);
}

/** showValueKey renders a canonical value key for prose. */
export function showValueKey(k: string | null): string {
  if (k === null) return "absent";
  if (k.startsWith('"')) return JSON.stringify(k.slice(1));
  return k;
}

/** hashString is FNV-1a over UTF-16 code units: cheap and good enough for memo-table buckets. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
