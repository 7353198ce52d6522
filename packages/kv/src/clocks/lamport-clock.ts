import type { NodeId } from "../types.js";

/**
 * LamportClock is a node's logical clock (Lamport 1978, "Time, Clocks, and the Ordering of Events"), as plain data
 * so a core holding one can be cloned and compared.
 */
export interface LamportClock {
  time: number;
}

/** LamportStamp is a Lamport time paired with the node that issued it, totally ordered by `lamportCompare`. */
export interface LamportStamp {
  time: number;
  node: NodeId;
}

/** lamportNew returns a clock at time 0 (no event yet). */
export function lamportNew(): LamportClock {
  return { time: 0 };
}

/** lamportTick records a local event and returns its time. IR1: every event advances the clock. */
export function lamportTick(clock: LamportClock): number {
  clock.time += 1;
  return clock.time;
}

/** lamportSend records a send event and returns the time to put on the message (a send is a local event). */
export function lamportSend(clock: LamportClock): number {
  return lamportTick(clock);
}

/**
 * lamportReceive records the receipt of a message stamped `remote` and returns the receive event's time:
 * max(local, remote) + 1, so the receive is after both the send and every earlier local event (IR2).
 */
export function lamportReceive(clock: LamportClock, remote: number): number {
  if (!Number.isSafeInteger(remote) || remote < 0)
    throw new TypeError(`lamportReceive: bad remote time ${remote}`);
  clock.time = Math.max(clock.time, remote) + 1;
  return clock.time;
}

/**
 * lamportCompare orders stamps totally: by time, then by node id. Lamport 1978 §"ordering" breaks ties by an
 * arbitrary fixed order of processes; the node id is that order, which makes it usable for last-writer-wins.
 */
export function lamportCompare(a: LamportStamp, b: LamportStamp): -1 | 0 | 1 {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}
