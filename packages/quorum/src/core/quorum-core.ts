import {
  BATCH_BYTES,
  type ClientReply,
  type ClientRequest,
  CoreBase,
  dvvJoin,
  type EngineInit,
  errorReply,
  type HybridLogicalClock,
  hlcNew,
  hlcNow,
  hlcReceive,
  KvError,
  MAX_MESSAGE_BYTES,
  type NodeId,
  type NodeStatus,
  type PersistOp,
  takeBatch,
  utf8Bytes,
  type VersionVector,
  validateRequest,
} from "@consistency-lab/kv";
import {
  addAck,
  addResponse,
  type ForwardOp,
  mergeResponses,
  type Origin,
  type PendingOp,
  type ReadOp,
  readReady,
  staleResponders,
  type Target,
  type WriteOp,
  writeReady,
} from "./coordinator.js";
import { Hints } from "./hints.js";
import { isMerkleTree, merkleDiff } from "./merkle.js";
import type { QuorumMessage, StoreMessage } from "./messages.js";
import { parseConfig, type QuorumConfig } from "./options.js";
import { RangeTrees } from "./range-trees.js";
import { KEY_PREFIX, Replica } from "./replica.js";
import { groupsOf, type Ring, replicaGroup, ringNew, ringWalk } from "./ring.js";
import {
  type DecodedContext,
  decodeContext,
  emptySiblings,
  encodeContext,
  isKeyState,
  type KeyState,
  liveValues,
  mergeStates,
  type Payload,
  siblingCount,
  stateBytes,
  stateDigest,
  writeSiblings,
} from "./versioned.js";

/** META_KEY is the record of the node's counters: the one-shot actor sequence and the HLC. */
export const META_KEY = "meta";

/** A peer silent for this many heartbeat periods is suspected down. */
const SUSPECT_PERIODS = 3;

/**
 * QuorumCore is one node of a Dynamo-style leaderless store (DeCandia et al., SOSP 2007; Riak KV): any node
 * coordinates a request by sending it to the key's N replicas and waiting for R replies or W acks. It holds its own
 * replica of the keys it is a primary for, hinted copies for down primaries (sloppy quorum), and repairs replicas by
 * read repair, hinted handoff and Merkle-tree anti-entropy. No I/O: time comes from `tick`, work leaves via `ready`.
 * Its state is plain data (`clone`, `fingerprint`). The protected hooks (`blocksOnRepair`, `readRepair`,
 * `keepsHint`, `replacesOnStore`) are where the broken variants in `engines.ts` differ; their defaults are correct.
 */
export class QuorumCore extends CoreBase<QuorumMessage> {
  readonly id: NodeId;
  readonly config: QuorumConfig;
  private readonly peers: NodeId[];
  private readonly ring: Ring;
  private readonly replica = new Replica();
  private readonly hints = new Hints();
  private readonly trees = new RangeTrees();
  private readonly hlc: HybridLogicalClock = hlcNew();
  /** Counter of one-shot actors (`<id>~<seq>`) for dots minted outside the coordinator's own replica. */
  private seq = 0;
  private now: number;
  /** Distinguishes this incarnation's op ids from a previous life's, whose acks may still be in flight. */
  private readonly incarnation: string;
  private opSeq = 0;
  private readonly pending = new Map<string, PendingOp>();
  private readonly lastHeard = new Map<NodeId, number>();
  /**
   * Forwarded requests already taken, until their deadline: a duplicated `forward` must not run a write twice
   * (a second cas would fail its compare against the first one's value and could answer first).
   */
  private readonly forwardsSeen = new Map<string, number>();
  private readonly groups: string[];
  private readonly groupOfKey = new Map<string, string>();
  private nextPing: number;
  private nextHandoff: number;
  private nextAntiEntropy: number;
  private aeRound = 0;
  /**
   * Last anti-entropy traffic with a peer for a range (`peer|range` → ms). A continuing exchange keeps it fresh, so
   * the periodic round does not start a second one beside it: on a slow link each period would otherwise add a
   * parallel chain, all shipping the same first differing keys.
   */
  private readonly aeActive = new Map<string, number>();

  constructor(init: EngineInit) {
    super();
    this.id = init.id;
    this.peers = [...init.peers];
    this.config = parseConfig(init.options, init.peers.length);
    this.ring = ringNew(init.peers, this.config.vnodes);
    this.groups = groupsOf(this.ring, this.id, this.config.n);
    this.now = init.now;
    this.incarnation = init.rng.nextU32().toString(36);
    for (const p of this.peers) if (p !== this.id) this.lastHeard.set(p, init.now);
    this.replica.restore(init.records);
    for (const [k, e] of this.replica.entries) this.trees.update(this.groupOf(k), k, e.digest);
    this.hints.restore(init.records);
    const meta = init.records.get(META_KEY) as
      | { seq?: unknown; hlc?: { l?: unknown; c?: unknown } }
      | undefined;
    if (meta && typeof meta.seq === "number") this.seq = meta.seq;
    if (meta && typeof meta.hlc?.l === "number" && typeof meta.hlc.c === "number") {
      this.hlc.l = meta.hlc.l;
      this.hlc.c = meta.hlc.c;
    }
    // Stagger periodic work by node so that replicas do not all exchange trees in the same tick.
    const offset = this.peers.indexOf(this.id) * 7;
    this.nextPing = init.now;
    this.nextHandoff = init.now + this.config.hintRetryMs;
    this.nextAntiEntropy = init.now + this.config.antiEntropyMs + offset;
  }

  // ---------------------------------------------------------------------------------------------- client requests

  protected handleRequest(req: ClientRequest): void {
    this.coordinate(req, { kind: "client" }, this.config.timeoutMs);
  }

  protected meta(): ClientReply["meta"] {
    return { node: this.id };
  }

  /**
   * coordinate runs a request and answers a refusal (a coded error) to its origin. A forwarded request is
   * validated again: it comes off the wire.
   */
  private coordinate(req: ClientRequest, origin: Origin, timeoutMs: number): void {
    try {
      if (origin.kind === "forward") validateRequest(req);
      this.dispatch(req, origin, timeoutMs);
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      this.reply(origin, req.id, errorReply(req.id, e));
    }
  }

  /** dispatch routes a validated request; forwarded requests are never forwarded again (one hop at most). */
  private dispatch(req: ClientRequest, origin: Origin, timeoutMs: number): void {
    const o = req.options ?? {};
    const r = this.quorumArg("r", o.r);
    const w = this.quorumArg("w", o.w);
    let ctx: DecodedContext | undefined;
    if (o.context !== undefined) {
      try {
        ctx = decodeContext(o.context);
      } catch {
        throw new KvError("KV_INVALID_ARGUMENT", "context is not one this engine returned");
      }
      if ((ctx.t === "s") !== (this.config.conflicts === "siblings")) {
        throw new KvError("KV_INVALID_ARGUMENT", `context is not a ${this.config.conflicts} context`);
      }
    }
    const deadline = this.now + timeoutMs;
    if (req.op === "get") {
      this.startRead(req, origin, r, deadline);
      return;
    }
    // Siblings: a dot must be minted by a replica holding the key (dvvEvent's precondition), so a write reaching
    // another node goes to one that is (Riak forwards to a vnode of the preference list the same way).
    if (this.config.conflicts === "siblings" && origin.kind === "client") {
      const targets = this.targetsFor(req.key, 1);
      if (!targets.some((t) => t.node === this.id)) {
        const to = targets.find((t) => this.isLive(t.node))?.node;
        if (to === undefined) throw new KvError("KV_UNAVAILABLE", "no replica of the key is reachable");
        const id = this.nextOpId();
        const op: ForwardOp = { kind: "forward", id, req, to, deadline };
        this.pending.set(id, op);
        // The replica's own deadline ends earlier, so its definite answer can still come back in time.
        const inner = Math.max(1, Math.floor((timeoutMs * 3) / 4));
        this.sendTo(to, { type: "forward", fwd: id, req: { ...req, id }, timeoutMs: inner });
        return;
      }
    }
    // cas reads first. So does a delete in siblings mode (as Riak's delete fetches the object first): it must
    // supersede every value a read could return, not only those in the client's possibly stale context, or a
    // value written before the delete would still be read after it.
    if (req.op === "cas" || (req.op === "delete" && this.config.conflicts === "siblings")) {
      this.startRead(req, origin, r, deadline, w);
      return;
    }
    this.startWrite(req, origin, w, deadline, ctx, undefined);
  }

  /** quorumArg validates a per-request r or w against n (KV_INVALID_ARGUMENT outside 1..n). */
  private quorumArg(name: "r" | "w", v: number | "majority" | undefined): number {
    const n = this.config.n;
    if (v === undefined) return this.config[name];
    if (v === "majority") return Math.floor(n / 2) + 1;
    if (!Number.isInteger(v) || v < 1 || v > n)
      throw new KvError("KV_INVALID_ARGUMENT", `${name} must be 1..${n}, got ${v}`);
    return v;
  }

  /**
   * targetsFor picks the replicas of a request. Strict quorum: the N primaries, whatever their state, refused up
   * front (nothing sent, so definitely not applied) when fewer than `need` are believed up. Sloppy quorum: the
   * live primaries plus, for each suspected one, the next live node on the ring holding a hint for it (Dynamo §4.6).
   */
  private targetsFor(key: string, need: number): Target[] {
    const walk = ringWalk(this.ring, key);
    const primaries = walk.slice(0, this.config.n);
    if (!this.config.sloppy) {
      if (primaries.filter((p) => this.isLive(p)).length < need) {
        throw new KvError("KV_UNAVAILABLE", `fewer than ${need} replicas of the key are reachable`);
      }
      return primaries.map((node) => ({ node }));
    }
    const targets: Target[] = primaries.filter((p) => this.isLive(p)).map((node) => ({ node }));
    const fallbacks = walk.slice(this.config.n).filter((p) => this.isLive(p));
    for (const p of primaries) {
      if (this.isLive(p)) continue;
      const f = fallbacks.shift();
      if (f !== undefined) targets.push({ node: f, hintFor: p });
    }
    if (targets.length < need) throw new KvError("KV_UNAVAILABLE", `fewer than ${need} nodes are reachable`);
    return targets;
  }

  private startRead(req: ClientRequest, origin: Origin, r: number, deadline: number, writeW?: number): void {
    const targets = this.targetsFor(req.key, r);
    const op: ReadOp & { writeW?: number } = {
      kind: "read",
      id: this.nextOpId(),
      req,
      origin,
      targets,
      r,
      deadline,
      responses: {},
      replied: false,
    };
    if (writeW !== undefined) op.writeW = writeW;
    this.pending.set(op.id, op);
    for (const t of targets) {
      if (t.node === this.id)
        addResponse(op, this.id, this.localState(req.key, t.hintFor !== undefined) ?? null);
      else this.sendTo(t.node, { type: "fetch", op: op.id, key: req.key, hinted: t.hintFor !== undefined });
    }
    this.readProgress(op);
  }

  private localState(key: string, hinted: boolean): KeyState | undefined {
    return hinted ? this.hints.forKey(key) : this.replica.get(key);
  }

  /**
   * startWrite builds the new state at this coordinator and stores it at every target. Siblings: a dot of this
   * node's own counter when it is a primary of the key (it holds every earlier dot of itself, as dvvEvent needs),
   * else a fresh one-shot actor `<id>~<seq>` so a fallback that handed its copy off can never reuse a dot.
   * LWW: the coordinator's HLC reading (Kulkarni et al. 2014) with its id as tie-breaker.
   */
  private startWrite(
    req: ClientRequest,
    origin: Origin,
    w: number,
    deadline: number,
    ctx: DecodedContext | undefined,
    read: KeyState | undefined,
  ): void {
    const targets = this.targetsFor(req.key, w);
    const payload: Payload = req.op === "delete" ? null : req.value!;
    const self = targets.find((t) => t.node === this.id);
    let state: KeyState;
    if (this.config.conflicts === "siblings") {
      const own =
        self === undefined
          ? undefined
          : self.hintFor === undefined
            ? this.replica.get(req.key)
            : this.hints.get(self.hintFor, req.key);
      const base = mergeStates(own, read) ?? emptySiblings();
      if (base.t !== "s") throw new KvError("KV_STORAGE", "stored state is not a siblings state");
      // A put without a context either supersedes what this replica holds (so clients that do not carry contexts,
      // like a CLI, do not pile up siblings) or, as in Riak, supersedes nothing. Either way a write only ever
      // supersedes values some replica had stored before it, never ones it could not have seen.
      let context: VersionVector =
        ctx?.t === "s"
          ? ctx.vv
          : this.config.blindWrites === "supersede" && own?.t === "s"
            ? dvvJoin(own.set)
            : {};
      if (read?.t === "s") context = maxVv(context, dvvJoin(read.set));
      const actor = self !== undefined && self.hintFor === undefined ? this.id : `${this.id}~${++this.seq}`;
      if (actor !== this.id) this.persistMeta();
      state = writeSiblings(base, context, actor, payload);
      if (siblingCount(state) > this.config.maxSiblings) {
        throw new KvError(
          "KV_TOO_MANY_SIBLINGS",
          `the write would leave ${siblingCount(state)} siblings (limit ${this.config.maxSiblings}); read and write back with the context to resolve them`,
        );
      }
    } else {
      if (ctx?.t === "l") hlcReceive(this.hlc, { l: ctx.l, c: ctx.c }, this.now);
      if (read?.t === "l") hlcReceive(this.hlc, read.stamp, this.now);
      const ts = hlcNow(this.hlc, this.now);
      this.persistMeta();
      state = { t: "l", stamp: { l: ts.l, c: ts.c, node: this.id }, value: payload };
    }
    const op: WriteOp = {
      kind: "write",
      id: this.nextOpId(),
      req,
      origin,
      targets,
      w,
      deadline,
      acks: [],
      context: encodeContext(state, this.config.conflicts),
      replied: false,
    };
    this.pending.set(op.id, op);
    for (const t of targets) {
      if (t.node === this.id) {
        this.storeLocal(req.key, state, t.hintFor, false);
        addAck(op, this.id);
      } else {
        const m: QuorumMessage = { type: "store", op: op.id, key: req.key, state };
        if (t.hintFor !== undefined) m.hintFor = t.hintFor;
        this.sendTo(t.node, m);
      }
    }
    this.writeProgress(op);
  }

  private readProgress(op: ReadOp & { writeW?: number }, from?: NodeId): void {
    if (op.holders !== undefined && !op.replied) {
      // Blocking repair in progress: a late reply either already holds the merged state or is repaired too.
      if (from !== undefined && op.merged !== undefined) {
        const t = op.targets.find((x) => x.node === from)!;
        if (stateDigest(op.responses[from] ?? undefined) === stateDigest(op.merged)) {
          if (!op.holders.includes(from)) op.holders.push(from);
          this.checkHolders(op);
        } else {
          this.repairTarget(op, t, op.merged, true);
        }
      }
    } else if (!op.replied && readReady(op)) {
      const merged = mergeResponses(op);
      op.merged = merged;
      if (op.req.op === "get") {
        if (this.blocksOnRepair(op.req)) {
          this.startBlockingRepair(op, merged);
        } else {
          op.replied = true;
          this.replyRead(op, merged);
          this.readRepair(op);
        }
      } else {
        op.replied = true;
        this.readRepair(op);
        this.afterReadPhase(op, merged);
      }
    } else if (op.replied) {
      this.readRepair(op);
    }
    if (
      op.replied &&
      op.holdersNeeded === undefined &&
      Object.keys(op.responses).length === op.targets.length
    ) {
      this.pending.delete(op.id);
    }
  }

  /** afterReadPhase finishes a cas (compare, then write at W with the read's context) or a context-less delete. */
  private afterReadPhase(op: ReadOp & { writeW?: number }, merged: KeyState | undefined): void {
    const req = op.req;
    const w = op.writeW ?? this.config.w;
    try {
      if (req.op === "cas") {
        const live = liveValues(merged);
        const swapped =
          req.expected === null ? live.length === 0 : live.length === 1 && live[0] === req.expected;
        if (!swapped) {
          this.reply(op.origin, req.id, {
            id: req.id,
            ok: true,
            swapped: false,
            context: encodeContext(merged, this.config.conflicts),
          });
          return;
        }
      }
      // Not atomic: another write may land between this read and the write below (casAtomic is false).
      const token = req.options?.context;
      const ctx = token === undefined ? undefined : decodeContext(token);
      this.startWrite(req, op.origin, w, op.deadline, ctx, merged ?? emptyFor(this.config));
    } catch (e) {
      if (!(e instanceof KvError)) throw e;
      this.reply(op.origin, req.id, errorReply(req.id, e));
    }
  }

  /**
   * startBlockingRepair makes the merged state durable on enough replicas that every later read quorum meets one
   * of them (N - R + 1) before replying: monotonic quorum reads (Cassandra's BLOCKING read repair).
   */
  private startBlockingRepair(op: ReadOp, merged: KeyState | undefined): void {
    const want = stateDigest(merged);
    op.holders = op.targets
      .filter(
        (t) => Object.hasOwn(op.responses, t.node) && stateDigest(op.responses[t.node] ?? undefined) === want,
      )
      .map((t) => t.node);
    op.holdersNeeded = Math.min(op.targets.length, this.config.n - op.r + 1);
    if (merged !== undefined) {
      for (const t of op.targets) if (!op.holders.includes(t.node)) this.repairTarget(op, t, merged, true);
    }
    this.checkHolders(op);
  }

  private checkHolders(op: ReadOp): void {
    if (op.replied || op.holders === undefined || op.holdersNeeded === undefined) return;
    if (op.holders.length < op.holdersNeeded) return;
    op.replied = true;
    this.replyRead(op, op.merged);
    delete op.holdersNeeded;
    if (Object.keys(op.responses).length === op.targets.length) this.pending.delete(op.id);
  }

  private replyRead(op: ReadOp, merged: KeyState | undefined): void {
    const values = liveValues(merged);
    const reply: ClientReply = {
      id: op.req.id,
      ok: true,
      context: encodeContext(merged, this.config.conflicts),
    };
    if (values.length > 1) reply.values = values;
    else reply.value = values[0] ?? null;
    this.reply(op.origin, op.req.id, reply);
  }

  /**
   * blocksOnRepair decides whether a get waits until N − R + 1 replicas hold what it returns before replying
   * (`readRepair=blocking`, or the request's `blockingReadRepair`).
   */
  protected blocksOnRepair(req: ClientRequest): boolean {
    return req.options?.blockingReadRepair ?? this.config.readRepair === "blocking";
  }

  /**
   * readRepair decides what the replicas that answered a read are sent once it completed: those that answered
   * with an older state are brought up to the merged one (Dynamo §4.5, Riak read repair). A join, so a repair can
   * only add what some replica already holds. Runs again for each late reply.
   */
  protected readRepair(op: ReadOp): void {
    if (this.config.readRepair === "off") return;
    const merged = op.merged;
    if (merged === undefined) return;
    for (const t of staleResponders(op, merged)) this.repairTarget(op, t, merged, false);
    // Mark repaired replicas as holding the merged state so that a late duplicate is not repaired twice.
    for (const t of op.targets) if (Object.hasOwn(op.responses, t.node)) op.responses[t.node] = merged;
  }

  private repairTarget(op: ReadOp, t: Target, merged: KeyState, ack: boolean): void {
    if (t.node === this.id) {
      this.storeLocal(op.req.key, merged, t.hintFor, false);
      if (ack && op.holders && !op.holders.includes(this.id)) op.holders.push(this.id);
      return;
    }
    const m: QuorumMessage = { type: "store", op: ack ? op.id : "", key: op.req.key, state: merged };
    if (t.hintFor !== undefined) m.hintFor = t.hintFor;
    this.sendTo(t.node, m);
  }

  private writeProgress(op: WriteOp): void {
    if (op.replied || !writeReady(op)) return;
    op.replied = true;
    const reply: ClientReply = { id: op.req.id, ok: true, context: op.context };
    if (op.req.op === "cas") reply.swapped = true;
    this.reply(op.origin, op.req.id, reply);
    this.pending.delete(op.id);
  }

  private reply(origin: Origin, reqId: string, reply: ClientReply): void {
    reply.id = reqId;
    reply.meta = { ...(reply.meta ?? {}), node: this.id };
    if (origin.kind === "client") this.out.reply(reply);
    else this.sendTo(origin.from, { type: "forward-reply", fwd: origin.fwd, reply });
  }

  // ---------------------------------------------------------------------------------------------- peer messages

  step(from: NodeId, message: QuorumMessage): void {
    // Peers are trusted code, but a frame may still be malformed: drop what does not have the expected shape.
    if (!isWellFormed(message)) return;
    if (from !== this.id) this.lastHeard.set(from, this.now);
    const m = message;
    switch (m.type) {
      case "ping":
        return;
      case "store": {
        if (!isKeyState(m.state) || typeof m.key !== "string") return;
        this.observe(m.state);
        this.storeLocal(m.key, m.state, m.hintFor, this.replacesOnStore(m));
        if (m.op) this.sendTo(from, { type: "store-ack", op: m.op, key: m.key });
        return;
      }
      case "store-ack": {
        const op = this.pending.get(m.op);
        if (op?.kind === "write") {
          if (addAck(op, from)) this.writeProgress(op);
        } else if (op?.kind === "read" && op.holders && !op.holders.includes(from)) {
          op.holders.push(from);
          this.checkHolders(op);
        }
        return;
      }
      case "fetch":
        if (typeof m.key !== "string") return;
        this.sendTo(from, {
          type: "fetch-reply",
          op: m.op,
          key: m.key,
          state: this.localState(m.key, m.hinted === true) ?? null,
        });
        return;
      case "fetch-reply": {
        const op = this.pending.get(m.op);
        if (op?.kind !== "read" || (m.state !== null && !isKeyState(m.state))) return;
        if (m.state !== null) this.observe(m.state);
        if (addResponse(op, from, m.state)) this.readProgress(op, from);
        return;
      }
      case "forward": {
        const seen = `${from}\u0000${m.fwd}`;
        if (this.forwardsSeen.has(seen)) return;
        this.forwardsSeen.set(seen, this.now + this.config.timeoutMs);
        const origin: Origin = { kind: "forward", from, fwd: m.fwd };
        this.coordinate(m.req, origin, Math.min(this.config.timeoutMs, Math.max(1, m.timeoutMs)));
        return;
      }
      case "forward-reply": {
        const op = this.pending.get(m.fwd);
        if (op?.kind !== "forward" || op.to !== from) return;
        this.pending.delete(op.id);
        this.out.reply({
          ...m.reply,
          id: op.req.id,
          meta: { ...(m.reply.meta ?? {}), node: this.id, coordinator: from },
        });
        return;
      }
      case "handoff": {
        if (!isKeyState(m.state)) return;
        this.observe(m.state);
        this.storeLocal(m.key, m.state, undefined, false);
        this.sendTo(from, { type: "handoff-ack", key: m.key, digest: m.digest });
        return;
      }
      case "handoff-ack": {
        const p = this.hints.delivered(from, m.key, m.digest);
        if (p) this.out.persist.push(p);
        return;
      }
      case "ae-tree":
        this.aeActive.set(`${from}|${m.group}`, this.now);
        this.onTree(from, m.group, m.tree);
        return;
      case "ae-keys":
        this.onKeys(from, m);
        return;
      case "ae-want": {
        if (!this.groups.includes(m.group) || !Array.isArray(m.keys)) return;
        const wanted: [string, KeyState][] = [];
        for (const k of m.keys) {
          if (typeof k !== "string" || this.groupOf(k) !== m.group) continue;
          const st = this.replica.get(k);
          if (st !== undefined) wanted.push([k, st]);
        }
        this.sendStates(from, m.group, wanted, false);
        return;
      }
      case "ae-states":
        if (!this.groups.includes(m.group) || !Array.isArray(m.states)) return;
        for (const entry of m.states) {
          if (!Array.isArray(entry)) continue;
          const [k, s] = entry as [unknown, unknown];
          if (typeof k !== "string" || !isKeyState(s) || this.groupOf(k) !== m.group) continue;
          this.observe(s);
          this.storeLocal(k, s, undefined, false);
        }
        // The sender had more: continue the exchange now (its reply clocks the next batch).
        if (m.more === true && this.isLive(from))
          this.sendTo(from, { type: "ae-tree", group: m.group, tree: this.treeOf(m.group) });
        return;
    }
  }

  /** observe advances the HLC past every stamp seen, so this node's next write orders after what it has read. */
  private observe(s: KeyState): void {
    if (s.t === "l") hlcReceive(this.hlc, s.stamp, this.now);
  }

  /**
   * storeLocal keeps a state this node was sent or minted: in its own replica, or as a hint when it stands in for a
   * down primary. The persist op goes into this Ready, so any ack or reply that depends on it is released only
   * after it is durable (ARCHITECTURE §2).
   */
  protected storeLocal(key: string, state: KeyState, hintFor: NodeId | undefined, overwrite: boolean): void {
    let p: PersistOp | undefined;
    if (hintFor !== undefined && hintFor !== this.id) {
      if (!this.keepsHint(hintFor, key)) return;
      p = this.hints.add(hintFor, key, state);
    } else {
      p = overwrite ? this.replica.overwrite(key, state, this.now) : this.replica.merge(key, state, this.now);
      if (p) this.trees.update(this.groupOf(key), key, this.replica.digest(key));
    }
    if (p) this.out.persist.push(p);
  }

  /**
   * keepsHint decides whether a fallback keeps the hinted copy of `key` it acknowledges for `owner`. It must: the
   * hint is all that carries the write to its owner (Dynamo §4.6), and it is kept until the owner acknowledged it.
   */
  protected keepsHint(_owner: NodeId, _key: string): boolean {
    return true;
  }

  /**
   * replacesOnStore decides whether a received store replaces this replica's state instead of joining it. Never:
   * only a join is safe in any order and any number of times, and only it keeps concurrent writes.
   */
  protected replacesOnStore(_m: StoreMessage): boolean {
    return false;
  }

  // ---------------------------------------------------------------------------------------------- anti-entropy

  private groupOf(key: string): string {
    let g = this.groupOfKey.get(key);
    if (g === undefined) {
      g = replicaGroup(this.ring, key, this.config.n);
      this.groupOfKey.set(key, g);
    }
    return g;
  }

  private treeOf(group: string) {
    return this.trees.tree(group);
  }

  /** onTree compares a peer's tree of a range with ours and answers with our key digests in the buckets that differ. */
  private onTree(from: NodeId, group: string, tree: unknown): void {
    if (!this.groups.includes(group) || !isMerkleTree(tree)) return;
    const buckets = merkleDiff(tree, this.treeOf(group));
    if (buckets.length === 0) return;
    const all: [string, string][] = this.trees.keysIn(group, buckets).map((k) => [k, this.replica.digest(k)]);
    const b = takeBatch(all, { sizeOf: ([k, d]) => 8 + utf8Bytes(k) + d.length, maxBytes: AE_KEYS_BYTES });
    this.sendTo(from, { type: "ae-keys", group, buckets, digests: b.entries, more: b.full });
  }

  /**
   * onKeys is the initiator's side of an exchange: from the peer's digests, send what the peer lacks or holds
   * differently (bounded in bytes), and ask for what it holds differently. When the peer's list was cut short
   * (`more`), keys after its last listed one are not judged missing there; they come in the next exchange.
   */
  private onKeys(from: NodeId, m: Extract<QuorumMessage, { type: "ae-keys" }>): void {
    if (!this.groups.includes(m.group) || !Array.isArray(m.digests) || !Array.isArray(m.buckets)) return;
    const theirs = new Map<string, string>();
    for (const e of m.digests) {
      if (Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "string") theirs.set(e[0], e[1]);
    }
    const buckets = m.buckets.filter((b): b is number => Number.isInteger(b));
    const last = m.more === true ? m.digests.at(-1)?.[0] : undefined;
    const give: [string, KeyState][] = [];
    for (const k of this.trees.keysIn(m.group, buckets)) {
      if (last !== undefined && k > last) break;
      const st = this.replica.get(k);
      if (st !== undefined && theirs.get(k) !== this.replica.digest(k)) give.push([k, st]);
    }
    const want: string[] = [];
    for (const [k, d] of theirs)
      if (this.replica.digest(k) !== d && this.groupOf(k) === m.group) want.push(k);
    if (give.length > 0 || (m.more === true && want.length === 0))
      this.sendStates(from, m.group, give, m.more === true);
    if (want.length > 0) this.sendTo(from, { type: "ae-want", group: m.group, keys: want });
  }

  /**
   * sendStates sends `states` as up to AE_WINDOW messages of AE_STATE_BYTES each; the last says `more` when some
   * did not fit (or `more` was already known), so the receiver asks again at once.
   */
  private sendStates(to: NodeId, group: string, states: [string, KeyState][], more: boolean): void {
    let start = 0;
    for (let i = 0; i < AE_WINDOW; i++) {
      const b = takeBatch(states, { sizeOf: stateEntryBytes, maxBytes: AE_STATE_BYTES, start });
      start += b.entries.length;
      const last = !b.full || i === AE_WINDOW - 1;
      this.sendTo(to, { type: "ae-states", group, states: b.entries, more: last && (b.full || more) });
      if (last) return;
    }
  }

  /** antiEntropy sends, for every range this node replicates, its tree to the next peer of that range in turn. */
  private antiEntropy(): void {
    this.aeRound++;
    for (const group of this.groups) {
      const others = group.split(",").filter((n) => n !== this.id);
      if (others.length === 0) continue;
      const peer = others[this.aeRound % others.length]!;
      if (!this.isLive(peer)) continue;
      const last: number | undefined = this.aeActive.get(`${peer}|${group}`);
      const quiet: number = Math.max(2 * this.config.antiEntropyMs, this.config.timeoutMs);
      if (last !== undefined && this.now - last < quiet) continue;
      this.sendTo(peer, { type: "ae-tree", group, tree: this.treeOf(group) });
    }
  }

  // ---------------------------------------------------------------------------------------------- time

  tick(now: number): void {
    if (now < this.now) return;
    this.now = now;
    if (now >= this.nextPing) {
      this.nextPing = now + this.config.pingMs;
      for (const p of this.peers) if (p !== this.id) this.sendTo(p, { type: "ping" });
    }
    if (now >= this.nextHandoff) {
      this.nextHandoff = now + this.config.hintRetryMs;
      for (const h of this.hints.due((n) => this.isLive(n))) {
        this.sendTo(h.owner, { type: "handoff", key: h.key, state: h.state, digest: h.digest });
      }
    }
    if (this.config.antiEntropyMs > 0 && now >= this.nextAntiEntropy) {
      this.nextAntiEntropy = now + this.config.antiEntropyMs;
      this.antiEntropy();
    }
    if (this.config.tombstoneReapMs > 0) {
      for (const p of this.replica.reap(now, this.config.tombstoneReapMs)) {
        const key = p.key.slice(KEY_PREFIX.length);
        this.trees.update(this.groupOf(key), key, this.replica.digest(key));
        this.out.persist.push(p);
      }
    }
    for (const op of [...this.pending.values()]) if (now >= op.deadline) this.expire(op);
    // The forwarder has given up by then, so a duplicate arriving later has nobody to answer.
    for (const [k, until] of this.forwardsSeen) if (now >= until) this.forwardsSeen.delete(k);
  }

  /**
   * expire ends a request at its deadline. A read changed nothing, so it fails definitely (KV_UNAVAILABLE). A write
   * that was sent may have been stored by any replica (a lost ack looks like a lost write), so its outcome is
   * unknown: KV_TIMEOUT. Writes refused before anything was sent fail earlier, with KV_UNAVAILABLE.
   */
  private expire(op: PendingOp): void {
    this.pending.delete(op.id);
    if (op.kind === "forward") {
      this.out.reply(
        errorReply(
          op.req.id,
          new KvError("KV_TIMEOUT", `no answer from ${op.to} before the deadline`),
          this.meta(),
        ),
      );
      return;
    }
    if (op.replied) return;
    op.replied = true;
    const isWrite = op.kind === "write";
    const err = isWrite
      ? new KvError(
          "KV_TIMEOUT",
          `${op.acks.length} of ${op.w} acks before the deadline; the write may still be applied`,
        )
      : new KvError(
          "KV_UNAVAILABLE",
          `${Object.keys(op.responses).length} of ${op.r} replies before the deadline`,
        );
    this.reply(op.origin, op.req.id, errorReply(op.req.id, err));
  }

  private isLive(node: NodeId): boolean {
    if (node === this.id) return true;
    const t = this.lastHeard.get(node);
    return t !== undefined && this.now - t <= SUSPECT_PERIODS * this.config.pingMs;
  }

  // ---------------------------------------------------------------------------------------------- plumbing

  private nextOpId(): string {
    return `${this.id}.${this.incarnation}.${++this.opSeq}`;
  }

  protected sendTo(to: NodeId, message: QuorumMessage): void {
    if (message.type.startsWith("ae-"))
      this.aeActive.set(`${to}|${(message as { group: string }).group}`, this.now);
    this.out.to(to, message);
  }

  private persistMeta(): void {
    this.out.put(META_KEY, { seq: this.seq, hlc: { l: this.hlc.l, c: this.hlc.c } });
  }

  status(): NodeStatus {
    return {
      id: this.id,
      role: "replica",
      members: [...this.peers],
      keys: this.replica.entries.size,
      hints: this.hints.size,
      pending: this.pending.size,
      live: this.peers.filter((p) => this.isLive(p)).length,
      // Per key range this node replicates, the root of its Merkle tree: replicas of a range are in sync when their
      // roots are equal (what Riak's AAE status reports per partition).
      ranges: Object.fromEntries(this.groups.map((g) => [g, this.treeOf(g).nodes[0]])),
    };
  }

  /** dump lists the live values of every key this node is a primary replica of (hinted copies are not its own). */
  dump(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [k, e] of this.replica.entries) {
      const vs = liveValues(e.state);
      if (vs.length > 0) out.set(k, [...vs].sort());
    }
    return out;
  }

  /** hintedKeys lists the hints this node holds as `owner/key` (for tests and status). */
  hintedKeys(): string[] {
    return [...this.hints.byId.values()].map((h) => `${h.owner}/${h.key}`).sort();
  }

  /** stateOf returns this replica's own state of a key (for tests). */
  stateOf(key: string): KeyState | undefined {
    return this.replica.get(key);
  }
}

function emptyFor(c: QuorumConfig): KeyState | undefined {
  return c.conflicts === "siblings" ? emptySiblings() : undefined;
}

function maxVv(a: VersionVector, b: VersionVector): VersionVector {
  const out: VersionVector = { ...a };
  for (const [k, v] of Object.entries(b)) if (v > (out[k] ?? 0)) out[k] = v;
  return out;
}

/** isWellFormed checks the fields every handler reads before it trusts them; states are checked by isKeyState. */
function isWellFormed(m: unknown): m is QuorumMessage {
  if (typeof m !== "object" || m === null) return false;
  const x = m as Record<string, unknown>;
  const str = (k: string) => typeof x[k] === "string";
  switch (x.type) {
    case "ping":
      return true;
    case "store":
      return str("op") && str("key") && (x.hintFor === undefined || str("hintFor"));
    case "store-ack":
    case "fetch":
    case "fetch-reply":
      return str("op") && str("key");
    case "forward":
      return str("fwd") && typeof x.req === "object" && x.req !== null && typeof x.timeoutMs === "number";
    case "forward-reply":
      return str("fwd") && typeof x.reply === "object" && x.reply !== null;
    case "handoff":
    case "handoff-ack":
      return str("key") && str("digest");
    case "ae-tree":
    case "ae-keys":
    case "ae-want":
    case "ae-states":
      return str("group");
    default:
      return false;
  }
}

/**
 * AE_STATE_BYTES bounds the states of one anti-entropy message: half the peer message limit, so a message of
 * states up to that size (or one larger state alone, up to kv LIMITS' 1 MiB value) stays under the frame limit.
 */
const AE_STATE_BYTES = MAX_MESSAGE_BYTES / 2;
/** AE_WINDOW is how many messages of states one step of an exchange sends before it waits for the next step. */
const AE_WINDOW = 8;
/** AE_KEYS_BYTES bounds one message of key digests (thousands of keys). */
const AE_KEYS_BYTES = BATCH_BYTES;

function stateEntryBytes([k, s]: [string, KeyState]): number {
  return stateBytes(k, s);
}
