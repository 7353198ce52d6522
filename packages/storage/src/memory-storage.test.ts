import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./memory-storage.js";
import { storageSuite } from "./storage-suite.js";

describe("MemoryStorage", () => {
  storageSuite({ describe, it, expect }, () => {
    const backing = new Map<string, string>();
    return { create: () => new MemoryStorage(backing), cleanup: async () => {} };
  });
});
