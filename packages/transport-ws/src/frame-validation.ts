import {
  type AdminCommand,
  type ClientRequest,
  KvError,
  type KvErrorCode,
  type RequestOptions,
  type SessionInfo,
  validateRequest,
} from "@consistency-lab/kv";
import { type Codec, type HelloFrame, type Role, WIRE_VERSION } from "./wire.js";

/** ProtocolError is a connection-level refusal: the transport sends `{t:"error", code}` and closes. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly code: KvErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const MAX_ID_LENGTH = 256;
const MAX_TOKEN_LENGTH = 64 * 1024;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** isFrameId tells whether `x` can correlate a request and its reply. */
export function isFrameId(x: unknown): x is string {
  return typeof x === "string" && x.length > 0 && x.length <= MAX_ID_LENGTH;
}

/**
 * parseHello checks the first frame of a connection. The token is NOT checked here (the server compares it in
 * constant time against the token the role needs). Throws ProtocolError with KV_PROTOCOL or KV_VERSION_MISMATCH.
 */
export function parseHello(raw: unknown, received: Codec): HelloFrame {
  if (!isObject(raw) || typeof raw.t !== "string")
    throw new ProtocolError("KV_PROTOCOL", "frame has no type");
  if (raw.t !== "hello")
    throw new ProtocolError("KV_PROTOCOL", `expected hello, got ${JSON.stringify(raw.t)}`);
  if (raw.v !== WIRE_VERSION) {
    throw new ProtocolError(
      "KV_VERSION_MISMATCH",
      `wire version ${JSON.stringify(raw.v)} is not supported (this node speaks ${WIRE_VERSION})`,
    );
  }
  const role = raw.role;
  if (role !== "peer" && role !== "client" && role !== "admin") {
    throw new ProtocolError("KV_PROTOCOL", `unknown role ${JSON.stringify(role)}`);
  }
  if (role === "peer" && !isFrameId(raw.id))
    throw new ProtocolError("KV_PROTOCOL", "a peer hello needs an id");
  const codec = raw.codec === "json" || raw.codec === "msgpack" ? raw.codec : received;
  const hello: HelloFrame = {
    t: "hello",
    v: WIRE_VERSION,
    role: role as Role,
    token: typeof raw.token === "string" && raw.token.length <= MAX_TOKEN_LENGTH ? raw.token : "",
    codec,
  };
  if (isFrameId(raw.id)) hello.id = raw.id;
  if (role === "peer") {
    if (typeof raw.ts === "number" && Number.isFinite(raw.ts)) hello.ts = raw.ts;
    if (isFrameId(raw.nonce)) hello.nonce = raw.nonce;
    if (typeof raw.proof === "string" && raw.proof.length <= 128) hello.proof = raw.proof;
  }
  return hello;
}

function invalid(message: string): never {
  throw new KvError("KV_INVALID_ARGUMENT", message);
}

function parseOptions(raw: unknown): RequestOptions {
  if (!isObject(raw)) invalid("options must be an object");
  const o: RequestOptions = {};
  // Copy only the known fields (validateRequest checks their values): unknown fields are ignored, per the KV
  // contract, and nothing from the wire is spread into our objects.
  if (raw.r !== undefined) o.r = raw.r as number;
  if (raw.w !== undefined) o.w = raw.w as number;
  if (raw.read !== undefined) o.read = raw.read as RequestOptions["read"];
  if (raw.readFrom !== undefined) o.readFrom = raw.readFrom as RequestOptions["readFrom"];
  if (raw.maxStalenessMs !== undefined) {
    if (typeof raw.maxStalenessMs !== "number" || !(raw.maxStalenessMs >= 0)) {
      invalid("maxStalenessMs must be a non-negative number");
    }
    o.maxStalenessMs = raw.maxStalenessMs;
  }
  if (raw.context !== undefined) o.context = raw.context as string;
  if (raw.blockingReadRepair !== undefined) {
    if (typeof raw.blockingReadRepair !== "boolean") invalid("blockingReadRepair must be a boolean");
    o.blockingReadRepair = raw.blockingReadRepair;
  }
  return o;
}

function parseSession(raw: unknown): SessionInfo {
  if (!isObject(raw)) invalid("session must be an object");
  if (!isFrameId(raw.clientId)) invalid("session.clientId must be a non-empty string of at most 256 chars");
  if (!Number.isSafeInteger(raw.seq) || (raw.seq as number) < 0)
    invalid("session.seq must be an integer >= 0");
  const s: SessionInfo = { clientId: raw.clientId, seq: raw.seq as number };
  if (raw.token !== undefined) {
    if (typeof raw.token !== "string" || raw.token.length > MAX_TOKEN_LENGTH) {
      invalid("session.token must be a string");
    }
    s.token = raw.token;
  }
  return s;
}

/**
 * parseRequest turns the `req` of a request frame into a clean ClientRequest, or throws: ProtocolError when there
 * is no usable id (the reply could not be correlated), KvError with the request's code otherwise (unknown op,
 * invalid key, value too large, bad option) — the caller answers that with a reply on the open connection.
 */
export function parseRequest(raw: unknown): ClientRequest {
  if (!isObject(raw)) throw new ProtocolError("KV_PROTOCOL", "req must be an object");
  if (!isFrameId(raw.id)) throw new ProtocolError("KV_PROTOCOL", "req.id must be a non-empty string");
  const req: ClientRequest = { id: raw.id, op: raw.op as ClientRequest["op"], key: raw.key as string };
  if (raw.value !== undefined) req.value = raw.value as string;
  if (raw.expected !== undefined) req.expected = raw.expected as string | null;
  if (raw.options !== undefined) req.options = parseOptions(raw.options);
  if (raw.session !== undefined) req.session = parseSession(raw.session);
  validateRequest(req);
  return req;
}

/** parseAdminCommand checks an admin frame's command; throws ProtocolError when it cannot be correlated. */
export function parseAdminCommand(raw: unknown): AdminCommand {
  if (!isObject(raw) || !isFrameId(raw.id)) throw new ProtocolError("KV_PROTOCOL", "admin cmd needs an id");
  if (typeof raw.command !== "string" || raw.command.length === 0 || raw.command.length > MAX_ID_LENGTH) {
    throw new KvError("KV_INVALID_ARGUMENT", "admin command must be a non-empty string");
  }
  const cmd: AdminCommand = { id: raw.id, command: raw.command };
  if (raw.args !== undefined) {
    if (!isObject(raw.args)) throw new KvError("KV_INVALID_ARGUMENT", "admin args must be an object");
    cmd.args = { ...raw.args };
  }
  return cmd;
}
