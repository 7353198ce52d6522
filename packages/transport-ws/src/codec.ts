import { Packr } from "msgpackr";
import type { Codec } from "./wire.js";

// useRecords: false keeps msgpack plain maps (no shared structures to negotiate between processes);
// int64AsType: "number" so a 64-bit integer never surfaces as a BigInt that JSON.stringify would throw on.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });

/** encodeFrame encodes a frame with `codec`: JSON as a string (a text frame), msgpack as a Buffer (binary). */
export function encodeFrame(frame: unknown, codec: Codec): string | Buffer {
  return codec === "json" ? JSON.stringify(frame) : packr.pack(frame);
}

/** DecodeError is thrown by decodeFrame for input that is not a well-formed frame of plain data. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
}

/** MAX_DEPTH bounds the nesting of a decoded frame; engine messages are a few levels deep. */
export const MAX_DEPTH = 64;

/**
 * decodeFrame decodes one WebSocket message: binary frames as msgpack, text frames as JSON. It throws
 * DecodeError unless the result is plain data (null, booleans, finite numbers, strings, arrays, plain objects)
 * at most MAX_DEPTH deep — so no Buffer, Date, Map, BigInt or prototype trick reaches a handler.
 */
export function decodeFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): unknown {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  let value: unknown;
  try {
    value = isBinary ? packr.unpack(buf) : JSON.parse(buf.toString("utf8"));
  } catch (e) {
    throw new DecodeError(`undecodable ${isBinary ? "msgpack" : "JSON"} frame: ${(e as Error).message}`);
  }
  if (!isPlainData(value, 0)) throw new DecodeError("frame is not plain data");
  return value;
}

/** codecOf tells which codec a received message used. */
export function codecOf(isBinary: boolean): Codec {
  return isBinary ? "msgpack" : "json";
}

function isPlainData(v: unknown, depth: number): boolean {
  if (v === null || v === undefined) return true;
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v);
    case "object": {
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(v)) {
        for (const x of v) if (!isPlainData(x, depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in v) {
        if (!Object.hasOwn(v, k)) return false;
        if (!isPlainData((v as Record<string, unknown>)[k], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
