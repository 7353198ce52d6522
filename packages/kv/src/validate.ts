import { KvError } from "./errors.js";
import { type ClientRequest, KV_OPS, type KvOp } from "./types.js";

/** Default limits of the KV interface. Engines and transports may lower them, not raise them silently. */
export const LIMITS = {
  /** Maximum key length in UTF-8 bytes. */
  maxKeyBytes: 1024,
  /** Maximum value length in UTF-8 bytes (1 MiB). */
  maxValueBytes: 1024 * 1024,
} as const;

export interface Limits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

/** utf8Bytes is the length of `s` in UTF-8 bytes (what msgpack and the wire carry; `s.length` counts UTF-16 units). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** validateKey throws KV_INVALID_KEY or KV_TOO_LARGE for a key the KV interface does not accept. */
export function validateKey(key: unknown, limits: Limits = LIMITS): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new KvError("KV_INVALID_KEY", "key must be a non-empty string");
  }
  if (key.length > limits.maxKeyBytes || utf8Bytes(key) > limits.maxKeyBytes) {
    throw new KvError("KV_TOO_LARGE", `key is longer than ${limits.maxKeyBytes} bytes`);
  }
  // Lone surrogates cannot round-trip through UTF-8 and would silently change the key on the wire.
  if (!key.isWellFormed()) throw new KvError("KV_INVALID_KEY", "key is not well-formed Unicode");
}

/** validateValue throws KV_INVALID_VALUE or KV_TOO_LARGE for a value the KV interface does not accept. */
export function validateValue(value: unknown, limits: Limits = LIMITS): asserts value is string {
  if (typeof value !== "string") throw new KvError("KV_INVALID_VALUE", "value must be a string");
  if (value.length > limits.maxValueBytes || utf8Bytes(value) > limits.maxValueBytes) {
    throw new KvError("KV_TOO_LARGE", `value is larger than ${limits.maxValueBytes} bytes`);
  }
  if (!value.isWellFormed()) throw new KvError("KV_INVALID_VALUE", "value is not well-formed Unicode");
}

export function isKvOp(op: unknown): op is KvOp {
  return typeof op === "string" && (KV_OPS as readonly string[]).includes(op);
}

/**
 * validateRequest checks a request's shape (op, key, value, expected) and throws the KvError a client should get.
 * Engines call it first so every engine refuses bad input with the same codes.
 */
export function validateRequest(req: ClientRequest, limits: Limits = LIMITS): void {
  if (!isKvOp(req.op)) throw new KvError("KV_UNKNOWN_OP", `unknown op ${JSON.stringify(req.op)}`);
  validateKey(req.key, limits);
  if (req.op === "put") validateValue(req.value, limits);
  if (req.op === "cas") {
    validateValue(req.value, limits);
    if (req.expected !== null) validateValue(req.expected, limits);
  }
  const o = req.options;
  if (o !== undefined) {
    if (typeof o !== "object" || o === null)
      throw new KvError("KV_INVALID_ARGUMENT", "options must be an object");
    if (o.r !== undefined && !(Number.isInteger(o.r) && o.r >= 1)) {
      throw new KvError("KV_INVALID_ARGUMENT", "r must be a positive integer");
    }
    if (o.w !== undefined && o.w !== "majority" && !(Number.isInteger(o.w) && o.w >= 1)) {
      throw new KvError("KV_INVALID_ARGUMENT", 'w must be a positive integer or "majority"');
    }
    if (o.read !== undefined && !["linearizable", "lease", "stale"].includes(o.read)) {
      throw new KvError("KV_INVALID_ARGUMENT", "read must be linearizable, lease or stale");
    }
    if (o.readFrom !== undefined && !["leader", "follower"].includes(o.readFrom)) {
      throw new KvError("KV_INVALID_ARGUMENT", "readFrom must be leader or follower");
    }
    if (o.context !== undefined && typeof o.context !== "string") {
      throw new KvError("KV_INVALID_ARGUMENT", "context must be a string");
    }
  }
}
