import type { ApplyResult, KvCommand, SessionRecord } from "./messages.js";

/**
 * KvStateMachine is the replicated state: the KV map plus the client-session table that makes retried writes
 * exactly-once (Raft thesis §6.3). Both are deterministic functions of the applied log prefix, so both go into
 * snapshots.
 */
export class KvStateMachine {
  data = new Map<string, string>();
  sessions = new Map<string, SessionRecord>();

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /**
   * apply executes a write. A command whose session seq was already applied returns the saved result and changes
   * nothing; an older seq than the session's latest is answered as stale (the client moved on, its reply is gone).
   */
  apply(cmd: KvCommand): ApplyResult {
    const s = cmd.session;
    if (s !== undefined) {
      const prev = this.sessions.get(s.clientId);
      if (prev !== undefined && s.seq <= prev.seq) return s.seq === prev.seq ? prev.result : { stale: true };
    }
    const result = this.execute(cmd);
    if (s !== undefined) this.sessions.set(s.clientId, { seq: s.seq, result });
    return result;
  }

  private execute(cmd: KvCommand): ApplyResult {
    switch (cmd.op) {
      case "put":
        this.data.set(cmd.key, cmd.value!);
        return {};
      case "delete":
        this.data.delete(cmd.key);
        return {};
      case "cas": {
        const swapped = (this.data.get(cmd.key) ?? null) === (cmd.expected ?? null);
        if (swapped) this.data.set(cmd.key, cmd.value!);
        return { swapped };
      }
    }
  }

  /** snapshotData returns the state as plain, sorted data (deterministic records). */
  snapshotData(): { data: [string, string][]; sessions: [string, SessionRecord][] } {
    const data = [...this.data].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sessions = [...this.sessions].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { data, sessions: sessions.map(([k, v]) => [k, { seq: v.seq, result: { ...v.result } }]) };
  }

  restore(data: readonly [string, string][], sessions: readonly [string, SessionRecord][]): void {
    this.data = new Map(data);
    this.sessions = new Map(sessions.map(([k, v]) => [k, { seq: v.seq, result: { ...v.result } }]));
  }
}
