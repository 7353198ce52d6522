import type { EngineOptions, OptionSpec } from "./engine.js";
import type { ClientRequest } from "./types.js";

/**
 * Session guarantees across replicas (Terry et al. 1994): a request carries a session token naming what its session
 * has seen (a log position, a version vector), and a replica that does not hold that yet must not serve it from an
 * older state. It parks the request until replication brings it there, and after `sessionWaitMs` refuses it with
 * a definite KV_UNAVAILABLE (the request did not take effect; the client may go elsewhere). PostgreSQL's
 * remote_apply and MongoDB's afterClusterTime wait the same way.
 */

/** ParkedRequest is a request held until this node holds what its session needs. */
export interface ParkedRequest<N> {
  req: ClientRequest;
  /** What the session needs this node to hold: a log position, a version vector. */
  need: N;
  /** Tick time at which it is refused if its need is still not met. */
  deadline: number;
}

/** Admission is what `admit` decided: serve the request now, refuse it now, or it is parked. */
export type Admission = "serve" | "refuse" | "parked";

/**
 * SessionParking holds the requests a node parked until its session token is satisfied, in arrival order. Plain
 * data (cloneable): what "satisfied" means and how to serve or refuse are the engine's, passed to each call.
 */
export class SessionParking<N> {
  private parked: ParkedRequest<N>[] = [];

  /** size is the number of parked requests. */
  get size(): number {
    return this.parked.length;
  }

  /**
   * admit decides a request whose session needs `need`: "serve" when `met`, "refuse" when it may not wait
   * (`waitMs <= 0`), else it parks the request until `now + waitMs` and returns "parked".
   */
  admit(req: ClientRequest, need: N, met: boolean, now: number, waitMs: number): Admission {
    if (met) return "serve";
    if (waitMs <= 0) return "refuse";
    this.parked.push({ req, need, deadline: now + waitMs });
    return "parked";
  }

  /**
   * settle goes through the parked requests in arrival order: it serves each whose need `isMet` now, refuses each
   * whose deadline has come (`now >= deadline`) and keeps the rest. Call it when what the node holds grew and on
   * every tick.
   */
  settle(
    now: number,
    isMet: (need: N) => boolean,
    serve: (p: ParkedRequest<N>) => void,
    refuse: (p: ParkedRequest<N>) => void,
  ): void {
    if (this.parked.length === 0) return;
    const parked = this.parked;
    // Serving may park nothing new, but a callback that does must not lose it: start a new list first.
    this.parked = [];
    const keep: ParkedRequest<N>[] = [];
    for (const p of parked) {
      if (isMet(p.need)) serve(p);
      else if (now >= p.deadline) refuse(p);
      else keep.push(p);
    }
    this.parked = [...keep, ...this.parked];
  }
}

/**
 * sessionWaitOption is the one spec of the `sessionWaitMs` option: how long a node behind a request's session token
 * waits before KV_UNAVAILABLE (0 = refuse at once). Engines differ in the default and in what they say it covers.
 */
export function sessionWaitOption(defaultMs: number, description: string): OptionSpec {
  return { name: "sessionWaitMs", type: "number", default: defaultMs, description };
}

/** sessionWaitMs reads the option from defaulted engine options: a finite number >= 0, else `defaultMs`. */
export function sessionWaitMs(options: EngineOptions, defaultMs: number): number {
  const v = options.sessionWaitMs;
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : defaultMs;
}
