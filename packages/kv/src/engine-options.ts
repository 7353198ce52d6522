import type { EngineOptions, OptionSpec, OptionValue } from "./engine.js";

/**
 * resolveOptions applies defaults and parses raw `--option k=v` strings against an engine's specs.
 * Throws TypeError naming the option for unknown names and bad values.
 */
export function resolveOptions(
  specs: readonly OptionSpec[],
  raw: Record<string, OptionValue | undefined> = {},
): EngineOptions {
  const out: EngineOptions = {};
  for (const s of specs) out[s.name] = s.default;
  for (const [name, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const known = specs.map((s) => s.name).join(", ") || "(none)";
      throw new TypeError(`unknown option "${name}"; known options: ${known}`);
    }
    out[name] = parseOptionValue(spec, v);
  }
  return out;
}

function parseOptionValue(spec: OptionSpec, v: OptionValue): OptionValue {
  let parsed: OptionValue;
  if (spec.type === "number") {
    parsed = typeof v === "number" ? v : Number(v);
    if (typeof v === "string" && v.trim() === "") parsed = Number.NaN;
    if (!Number.isFinite(parsed))
      throw new TypeError(`option "${spec.name}" must be a number, got ${JSON.stringify(v)}`);
  } else if (spec.type === "boolean") {
    if (v === true || v === "true" || v === "1" || v === "yes") parsed = true;
    else if (v === false || v === "false" || v === "0" || v === "no") parsed = false;
    else throw new TypeError(`option "${spec.name}" must be true or false, got ${JSON.stringify(v)}`);
  } else {
    parsed = String(v);
  }
  if (spec.choices && !spec.choices.includes(parsed)) {
    throw new TypeError(
      `option "${spec.name}" must be one of ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}, got ${JSON.stringify(v)}`,
    );
  }
  return parsed;
}

/** parseOptionArgs turns ["k=v", …] into a record; throws TypeError on a malformed pair. */
export function parseOptionArgs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i <= 0) throw new TypeError(`--option expects key=value, got ${JSON.stringify(p)}`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}
