import { describe, expect, it } from "vitest";
import { defineEngine } from "./define-engine.js";
import type { OptionSpec } from "./engine.js";
import { memoryEngine } from "./memory-store.js";

const OPTIONS: OptionSpec[] = [
  { name: "mode", type: "string", default: "safe", choices: ["safe", "fast"], description: "mode" },
  { name: "timeoutMs", type: "number", default: 100, description: "timeout" },
];

function spec() {
  return {
    name: "toy",
    description: "a toy engine",
    options: OPTIONS,
    create: memoryEngine.create,
    supports: memoryEngine.supports,
  };
}

describe("defineEngine", () => {
  it("names each variant after its engine and keeps what it does not override", () => {
    const broken = { ...memoryEngine, name: "x" };
    const { engine, variants } = defineEngine({
      ...spec(),
      variants: [
        {
          name: "fast-path",
          description: "toy that skips a check",
          breaks: "skips the check",
          keptBecause: "scenario x catches it",
          create: broken.create,
          defaults: { mode: "fast" },
        },
      ],
    });
    expect(engine.name).toBe("toy");
    expect(engine.broken).toBeUndefined();
    expect("variants" in engine).toBe(false);
    expect(variants.map((v) => v.name)).toEqual(["toy-broken-fast-path"]);
    const v = variants[0]!;
    expect(v.broken).toBe("skips the check");
    expect(v.keptBecause).toBe("scenario x catches it");
    expect(v.supports).toBe(engine.supports);
    expect(v.options.find((o) => o.name === "mode")!.default).toBe("fast");
    expect(v.options.find((o) => o.name === "timeoutMs")!.default).toBe(100);
    // The engine's own option specs are not changed by a variant's defaults.
    expect(engine.options.find((o) => o.name === "mode")!.default).toBe("safe");
  });

  it("refuses a variant named twice and defaults for an option the engine does not have", () => {
    const v = { name: "a", description: "d", breaks: "b", keptBecause: "k", create: memoryEngine.create };
    expect(() => defineEngine({ ...spec(), variants: [v, v] })).toThrow(/declared twice/);
    expect(() => defineEngine({ ...spec(), variants: [{ ...v, defaults: { nope: 1 } }] })).toThrow(
      /unknown option nope/,
    );
  });

  it("keeps the engine's retry rule for a variant unless the variant names its own", () => {
    const v = { name: "a", description: "d", breaks: "b", keptBecause: "k", create: memoryEngine.create };
    const { variants } = defineEngine({
      ...spec(),
      writeRetry: () => "same-node",
      variants: [v, { ...v, name: "b", writeRetry: () => "anywhere" }],
    });
    expect(variants.map((x) => x.writeRetry?.({}))).toEqual(["same-node", "anywhere"]);
  });
});
