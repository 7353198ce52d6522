export * from "./dotted-version-vector.js";
export * from "./hybrid-logical-clock.js";
export * from "./lamport-clock.js";
export * from "./version-vector.js";
