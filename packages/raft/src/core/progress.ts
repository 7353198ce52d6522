/**
 * Progress is the leader's view of one follower (etcd-io/raft `tracker/progress.go`, design.md "Progress"):
 * - probe: next is a guess; at most one append-request per heartbeat until a reply tells where the logs match;
 * - replicate: next advances optimistically as entries are sent (pipelining), bounded by the inflight window;
 * - snapshot: a snapshot is on its way; nothing else is sent until it is acknowledged or presumed lost.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

export interface Inflight {
  /** Last index carried by the append-request. */
  index: number;
  bytes: number;
}

export interface Progress {
  match: number;
  next: number;
  state: ProgressState;
  /** probe: an append was sent since the last heartbeat response. */
  probeSent: boolean;
  /** snapshot: the index of the snapshot sent. */
  pendingSnapshot: number;
  /** In snapshot state: how many of the snapshot's data entries the follower has acknowledged. */
  snapshotOffset: number;
  /** Time (ms) of the last append progress or snapshot send, to detect lost messages. */
  lastProgressAt: number;
  inflights: Inflight[];
  inflightBytes: number;
  /** Check-quorum: heard from since the last check. */
  recentActive: boolean;
  /** Highest heartbeat ctx acknowledged (ReadIndex rounds). */
  ackedCtx: number;
}

export function newProgress(next: number, now: number): Progress {
  return {
    match: 0,
    next,
    state: "probe",
    probeSent: false,
    pendingSnapshot: 0,
    snapshotOffset: 0,
    lastProgressAt: now,
    inflights: [],
    inflightBytes: 0,
    recentActive: true,
    ackedCtx: 0,
  };
}

function resetState(pr: Progress, state: ProgressState): void {
  pr.state = state;
  pr.probeSent = false;
  pr.pendingSnapshot = 0;
  pr.snapshotOffset = 0;
  pr.inflights = [];
  pr.inflightBytes = 0;
}

export function becomeProbe(pr: Progress): void {
  // After a snapshot, the follower has at least the snapshot's index (etcd: max(match+1, pendingSnapshot+1)).
  const next = pr.state === "snapshot" ? Math.max(pr.match + 1, pr.pendingSnapshot + 1) : pr.match + 1;
  resetState(pr, "probe");
  pr.next = next;
}

export function becomeReplicate(pr: Progress): void {
  resetState(pr, "replicate");
  pr.next = pr.match + 1;
}

export function becomeSnapshot(pr: Progress, index: number, now: number): void {
  resetState(pr, "snapshot");
  pr.pendingSnapshot = index;
  pr.lastProgressAt = now;
}

/** maybeUpdate records a successful append up to `n`; returns whether match moved. */
export function maybeUpdate(pr: Progress, n: number, now: number): boolean {
  let updated = false;
  if (pr.match < n) {
    pr.match = n;
    updated = true;
    pr.probeSent = false;
    pr.lastProgressAt = now;
  }
  pr.next = Math.max(pr.next, n + 1);
  return updated;
}

/** sentEntries advances next after an append-request carrying entries up to `last` (pipelining). */
export function sentEntries(pr: Progress, last: number, bytes: number, count: number): void {
  if (pr.state === "replicate") {
    if (count > 0) {
      pr.next = last + 1;
      pr.inflights.push({ index: last, bytes });
      pr.inflightBytes += bytes;
    }
  } else if (pr.state === "probe") {
    pr.probeSent = true;
  }
}

/** freeInflights releases the window up to `index` (acknowledged). */
export function freeInflights(pr: Progress, index: number): void {
  let k = 0;
  while (k < pr.inflights.length && pr.inflights[k]!.index <= index) {
    pr.inflightBytes -= pr.inflights[k]!.bytes;
    k++;
  }
  if (k > 0) pr.inflights = pr.inflights.slice(k);
}

/**
 * maybeDecrTo handles a rejection of the append whose prevIndex was `rejected`, with the probe guess `hint`.
 * Returns false when the rejection is stale (out of order, duplicated).
 */
export function maybeDecrTo(pr: Progress, rejected: number, hint: number): boolean {
  if (pr.state === "replicate") {
    if (rejected <= pr.match) return false;
    pr.next = pr.match + 1;
    return true;
  }
  if (pr.next - 1 !== rejected) return false;
  pr.next = Math.max(Math.min(rejected, hint + 1), pr.match + 1);
  pr.probeSent = false;
  return true;
}

/** isPaused says whether the leader must hold further append-requests to this follower (flow control). */
export function isPaused(pr: Progress, maxMsgs: number, maxBytes: number): boolean {
  switch (pr.state) {
    case "probe":
      return pr.probeSent;
    case "replicate":
      return pr.inflights.length >= maxMsgs || pr.inflightBytes >= maxBytes;
    case "snapshot":
      return true;
  }
}
