export { FORMAT_VERSION, LevelStorage } from "./level-storage.js";
export { MemoryStorage } from "./memory-storage.js";
export type { Storage } from "./storage.js";
export { type StorageFixture, type SuiteApi, storageSuite } from "./storage-suite.js";
