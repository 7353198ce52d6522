import { defineConfig } from "vitest/config";

// CLI tests spawn the built command; give them room on a loaded 2-core machine (they assert behaviour, not time).
export default defineConfig({
  test: { include: ["src/**/*.test.ts"], testTimeout: 180_000, hookTimeout: 60_000 },
});
