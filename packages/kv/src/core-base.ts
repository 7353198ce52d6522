import type { EngineCore, Envelope, NodeStatus, PersistOp, Ready } from "./engine.js";
import { isKvError, KvError } from "./errors.js";
import { errorReply } from "./reply.js";
import { deepClone, fingerprint } from "./state.js";
import type { ClientReply, ClientRequest, NodeId } from "./types.js";
import { validateRequest } from "./validate.js";

/**
 * Outbox collects what a core produced since the last `ready()`: records to persist, messages to send (and to send
 * before the persist is durable, where the protocol allows it) and client replies. `take()` hands it over and
 * starts a new one. Plain data, so a core holding one stays cloneable.
 */
export class Outbox<M> {
  persist: PersistOp[] = [];
  send: Envelope<M>[] = [];
  sendEarly: Envelope<M>[] = [];
  replies: ClientReply[] = [];

  put(key: string, value: unknown): void {
    this.persist.push({ type: "put", key, value });
  }

  del(key: string): void {
    this.persist.push({ type: "del", key });
  }

  to(peer: NodeId, message: M): void {
    this.send.push({ to: peer, message });
  }

  reply(r: ClientReply): void {
    this.replies.push(r);
  }

  take(): Ready<M> {
    const r: Ready<M> = { persist: this.persist, send: this.send, replies: this.replies };
    if (this.sendEarly.length > 0) r.sendEarly = this.sendEarly;
    this.persist = [];
    this.send = [];
    this.sendEarly = [];
    this.replies = [];
    return r;
  }
}

/**
 * CoreBase is the shape every engine core shares (abstract-level's split: the public method validates, the
 * engine's own method implements). `request()` checks the request against the KV interface's rules
 * (`validateRequest`) and the core's own (`checkRequest`), answers a bad one with its coded error, and hands a good
 * one to `handleRequest`; `ready()` returns the outbox (after `beforeReady`, where a core writes what it batched);
 * `clone()` and `fingerprint()` work on the core's plain-data state.
 */
export abstract class CoreBase<M> implements EngineCore<M> {
  abstract readonly id: NodeId;
  protected out = new Outbox<M>();

  abstract step(from: NodeId, message: M): void;
  abstract tick(now: number): void;
  abstract status(): NodeStatus;

  /** The core's own handling of a request that passed validation. */
  protected abstract handleRequest(req: ClientRequest): void;

  /** Engine-specific checks beyond the KV interface's (throw a KvError); none by default. */
  protected checkRequest(_req: ClientRequest): void {}

  /** What a reply from this node carries in `meta` (e.g. `{ node: id }`). */
  protected abstract meta(): ClientReply["meta"];

  /** Called before the outbox is taken: a core that batches dirty state writes it out here. */
  protected beforeReady(): void {}

  request(req: ClientRequest): void {
    try {
      validateRequest(req);
      this.checkRequest(req);
    } catch (e) {
      if (!isKvError(e)) throw e;
      this.out.reply(errorReply(req.id, e instanceof KvError ? e : KvError.from(e), this.meta()));
      return;
    }
    this.handleRequest(req);
  }

  ready(): Ready<M> {
    this.beforeReady();
    return this.out.take();
  }

  clone(): this {
    return deepClone(this);
  }

  fingerprint(): string {
    return fingerprint(this);
  }
}
