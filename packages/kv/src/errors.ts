/**
 * KvError codes. Codes are stable API; messages may change. Each code says whether an operation that failed with
 * it certainly did NOT take effect (`definite`) or may still take effect (`indefinite`, recorded as `info` in a
 * history). When in doubt a code is indefinite (Maelstrom's protocol makes the same split).
 */
export const KV_ERROR_CODES = {
  /** This node cannot serve the request because another node leads; `leader` names it when known. Definite. */
  KV_NOT_LEADER: { definite: true },
  /** The node cannot serve the request now (no quorum, not caught up with the session). Definite. */
  KV_UNAVAILABLE: { definite: true },
  /** The deadline passed before an outcome was known: the op may or may not take effect. Indefinite. */
  KV_TIMEOUT: { definite: false },
  /** The key is not a non-empty string within the size limit. Definite. */
  KV_INVALID_KEY: { definite: true },
  /** The value is not a string. Definite. */
  KV_INVALID_VALUE: { definite: true },
  /** A request option or argument is not valid for this engine. Definite. */
  KV_INVALID_ARGUMENT: { definite: true },
  /** A key, value or frame is larger than the limit. Definite. */
  KV_TOO_LARGE: { definite: true },
  /** The request names an operation that does not exist. Definite. */
  KV_UNKNOWN_OP: { definite: true },
  /** A missing or wrong token. Definite. */
  KV_UNAUTHORIZED: { definite: true },
  /** A frame that cannot be decoded or violates the wire protocol; the connection is closed. Definite. */
  KV_PROTOCOL: { definite: true },
  /** The peer speaks another wire-protocol version. Definite. */
  KV_VERSION_MISMATCH: { definite: true },
  /** The store or connection is closed. Definite when raised before sending; the client maps in-flight ops to KV_TIMEOUT. */
  KV_CLOSED: { definite: true },
  /** A write would create more siblings than the configured limit. Definite. */
  KV_TOO_MANY_SIBLINGS: { definite: true },
  /** A deposed leader's write was refused because a newer epoch exists. Definite. */
  KV_FENCED: { definite: true },
  /** The node is overloaded (bounded queue full). Definite. */
  KV_OVERLOADED: { definite: true },
  /** The request was accepted but dropped before an outcome was known (leader changed, node restarting). Indefinite. */
  KV_ABORTED: { definite: false },
  /** The data directory is corrupt, locked or in a newer format. */
  KV_STORAGE: { definite: true },
  /** The engine does not support this operation or option. Definite. */
  KV_NOT_SUPPORTED: { definite: true },
} as const;

export type KvErrorCode = keyof typeof KV_ERROR_CODES;

export function isKvErrorCode(code: unknown): code is KvErrorCode {
  return typeof code === "string" && Object.hasOwn(KV_ERROR_CODES, code);
}

/** isDefinite tells whether an op that failed with `code` certainly did not take effect. */
export function isDefinite(code: KvErrorCode): boolean {
  return KV_ERROR_CODES[code].definite;
}

/** Plain-data form of an error, as carried in replies and on the wire. */
export interface KvErrorData {
  code: KvErrorCode;
  message: string;
  /** Leader hint for KV_NOT_LEADER. */
  leader?: string;
}

/**
 * KvError is the one error type of the KV interface. Match on `code`, never on `message`.
 * Programming mistakes (calling an API wrongly) throw TypeError without a code instead.
 */
export class KvError extends Error {
  readonly code: KvErrorCode;
  readonly leader: string | undefined;

  constructor(code: KvErrorCode, message: string, options?: { leader?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KvError";
    this.code = code;
    this.leader = options?.leader;
  }

  /** definite is true when the failed operation certainly did not take effect. */
  get definite(): boolean {
    return isDefinite(this.code);
  }

  toData(): KvErrorData {
    const d: KvErrorData = { code: this.code, message: this.message };
    if (this.leader !== undefined) d.leader = this.leader;
    return d;
  }

  static from(data: KvErrorData): KvError {
    return new KvError(
      data.code,
      data.message,
      data.leader === undefined ? undefined : { leader: data.leader },
    );
  }
}

export function isKvError(e: unknown): e is KvError {
  return (
    e instanceof KvError ||
    (typeof e === "object" && e !== null && isKvErrorCode((e as { code?: unknown }).code))
  );
}
