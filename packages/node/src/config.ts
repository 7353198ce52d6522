import { readFileSync } from "node:fs";
import type { NodeId } from "@consistency-lab/kv";

/**
 * parseHostPort reads "HOST:PORT" (or ":PORT" / "PORT", host 127.0.0.1). IPv6 hosts go in brackets:
 * "[::1]:7101". Throws TypeError with a message fit for a usage error.
 */
export function parseHostPort(s: string, defaultHost = "127.0.0.1"): { host: string; port: number } {
  const m = /^(?:(?:\[([^\]]+)\]|([^:]*)):)?(\d+)$/.exec(s.trim());
  if (!m) throw new TypeError(`expected HOST:PORT, got ${JSON.stringify(s)}`);
  const host = m[1] ?? (m[2] || defaultHost);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TypeError(`port out of range in ${JSON.stringify(s)}`);
  return { host, port };
}

/** parseEndpoint checks a "ws://host:port" or "wss://host:port" URL and returns it without a trailing slash. */
export function parseEndpoint(s: string): string {
  let u: URL;
  try {
    u = new URL(s.trim());
  } catch {
    throw new TypeError(`not a URL: ${JSON.stringify(s)} (expected ws://host:port)`);
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:")
    throw new TypeError(`expected a ws:// or wss:// URL, got ${JSON.stringify(s)}`);
  if (!u.port && !u.hostname) throw new TypeError(`missing host in ${JSON.stringify(s)}`);
  return s.trim().replace(/\/+$/, "");
}

/** parseEndpoints splits "ws://a,ws://b" into checked endpoint URLs. */
export function parseEndpoints(s: string): string[] {
  const list = s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)
    .map(parseEndpoint);
  if (list.length === 0) throw new TypeError("no endpoints given");
  return list;
}

/** parsePeers reads "n2=ws://h:p,n3=ws://h:p" into a map. An empty string is no peers. */
export function parsePeers(s: string): Record<NodeId, string> {
  const out: Record<NodeId, string> = {};
  for (const part of s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    const i = part.indexOf("=");
    if (i <= 0) throw new TypeError(`--peers expects ID=ws://host:port, got ${JSON.stringify(part)}`);
    const id = part.slice(0, i);
    if (out[id] !== undefined) throw new TypeError(`peer ${id} given twice`);
    out[id] = parseEndpoint(part.slice(i + 1));
  }
  return out;
}

/**
 * readSecret reads a token from a file (trimmed), or else from the environment variable. Throws TypeError
 * when neither gives a non-empty token.
 */
export function readSecret(file: string | undefined, envName: string, what: string): string {
  if (file !== undefined) {
    let s: string;
    try {
      s = readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new TypeError(`cannot read ${what} file ${file}: ${(e as Error).message}`);
    }
    if (!s) throw new TypeError(`${what} file ${file} is empty`);
    return s;
  }
  const env = process.env[envName]?.trim();
  if (env) return env;
  throw new TypeError(`no ${what}: give --${what.replace(/ /g, "-")}-file F or set ${envName}`);
}
