import type { EngineCore, EngineDefinition, EngineInit, OptionValue } from "./engine.js";

/**
 * VariantSpec declares one deliberately broken variant of an engine: what it breaks, why the project keeps it,
 * and how its core is built. Variants exist so that the conformance suite and the nemesis are shown to catch the
 * bug each one reintroduces; a variant nothing catches is a test that cannot fail.
 */
export interface VariantSpec<M> {
  /** The variant's suffix: it is registered as `<engine>-broken-<name>`, e.g. `raft-broken-stale-read`. */
  name: string;
  description: string;
  /** What is broken, for docs and `clab sim --list`. */
  breaks: string;
  /** Why it is kept: the scenario, test or paper figure that shows the bug being caught. */
  keptBecause: string;
  /** Builds the broken core from the same init as the engine's. */
  create(init: EngineInit): EngineCore<M>;
  /** Option defaults that differ from the engine's, e.g. `{ failover: "auto" }` so that the bug can show. */
  defaults?: Readonly<Record<string, OptionValue>>;
  /** Where its clients retry a write, when that differs from the engine's (the bug may be in the retry rule). */
  writeRetry?: EngineDefinition<M>["writeRetry"];
}

/** EngineSpec is an engine's definition with its broken variants beside it. */
export interface EngineSpec<M> extends Omit<EngineDefinition<M>, "broken" | "keptBecause"> {
  variants?: readonly VariantSpec<M>[];
}

/** DefinedEngine is what `defineEngine` returns: the engine and its variants, each a full `EngineDefinition`. */
export interface DefinedEngine<M> {
  engine: EngineDefinition<M>;
  variants: readonly EngineDefinition<M>[];
}

/**
 * defineEngine builds an engine's definition and one definition per broken variant. A variant shares everything
 * with its engine (options, manifest, request options, message sizes, retry rule) except its core, the option
 * defaults it names and, where it says so, the retry rule: it declares what the real engine would, so the checker reports what it breaks. A variant whose
 * name repeats, or whose defaults name an option the engine does not have, is refused when the package loads.
 */
export function defineEngine<M>(spec: EngineSpec<M>): DefinedEngine<M> {
  const { variants: specs = [], ...base } = spec;
  const engine: EngineDefinition<M> = { ...base };
  const seen = new Set<string>();
  const variants = specs.map((v): EngineDefinition<M> => {
    if (seen.has(v.name)) throw new Error(`${spec.name}: variant ${v.name} is declared twice`);
    seen.add(v.name);
    const defaults = v.defaults ?? {};
    for (const k of Object.keys(defaults)) {
      if (!spec.options.some((o) => o.name === k)) {
        throw new Error(`${spec.name}-broken-${v.name}: default for unknown option ${k}`);
      }
    }
    return {
      ...base,
      name: `${spec.name}-broken-${v.name}`,
      description: v.description,
      broken: v.breaks,
      keptBecause: v.keptBecause,
      options: spec.options.map((o) => (o.name in defaults ? { ...o, default: defaults[o.name]! } : o)),
      create: v.create,
      ...(v.writeRetry !== undefined ? { writeRetry: v.writeRetry } : {}),
    };
  });
  return { engine, variants };
}
