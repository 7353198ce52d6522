/**
 * HistoryError is malformed history input: bad JSON, an unknown `type` or `f`, a completion with no invoke, two
 * ops in flight for one process, a cas value that is not a pair. `line` is the 1-based line it was found on
 * (for events given as objects, the 1-based position of the event).
 */
export class HistoryError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "HistoryError";
    this.line = line;
  }
}
