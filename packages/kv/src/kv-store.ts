import type { CasResult, GetResult, RequestOptions, WriteResult } from "./types.js";

/**
 * KvStore is the one KV interface of every engine, client side and in-process alike.
 * Every method rejects with a KvError; KV_TIMEOUT means the outcome is unknown.
 */
export interface KvStore {
  get(key: string, options?: RequestOptions): Promise<GetResult>;
  put(key: string, value: string, options?: RequestOptions): Promise<WriteResult>;
  delete(key: string, options?: RequestOptions): Promise<WriteResult>;
  /** cas sets `key` to `value` if its current value is `expected` (null: only if absent). */
  cas(key: string, expected: string | null, value: string, options?: RequestOptions): Promise<CasResult>;
  close(): Promise<void>;
}
