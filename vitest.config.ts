import { defineConfig } from "vitest/config";

// One run over every workspace package; each package has its own vitest.config.ts (TOOLCHAIN pitfall 3).
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "bench"],
    reporters: ["default", "./scripts/summary-reporter.mjs"],
  },
});
