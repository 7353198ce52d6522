import { KvError } from "./errors.js";
import type { CasResult, ClientReply, GetResult, KvOp, WriteResult } from "./types.js";

/** errorReply builds the reply for a refused request. */
export function errorReply(id: string, err: KvError, meta?: ClientReply["meta"]): ClientReply {
  const r: ClientReply = { id, ok: false, error: err.toData() };
  if (meta) r.meta = meta;
  return r;
}

/**
 * toResult turns a reply into what KvStore resolves to, or throws its KvError. Shared by every KvStore
 * implementation (MemoryStore, the WebSocket client, in-process clusters).
 */
export function toResult(op: "get", reply: ClientReply): GetResult;
export function toResult(op: "cas", reply: ClientReply): CasResult;
export function toResult(op: "put" | "delete", reply: ClientReply): WriteResult;
export function toResult(op: KvOp, reply: ClientReply): GetResult | CasResult | WriteResult;
export function toResult(op: KvOp, reply: ClientReply): GetResult | CasResult | WriteResult {
  if (reply.error) throw KvError.from(reply.error);
  if (!reply.ok) throw new KvError("KV_PROTOCOL", "reply has neither ok nor error");
  const base: WriteResult = {};
  if (reply.context !== undefined) base.context = reply.context;
  if (reply.meta !== undefined) base.meta = reply.meta;
  if (op === "get") {
    const g: GetResult = { ...base, value: reply.value ?? null };
    if (reply.values !== undefined) g.values = reply.values;
    return g;
  }
  if (op === "cas") return { ...base, swapped: reply.swapped === true };
  return base;
}
