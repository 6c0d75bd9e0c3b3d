/**
 * Request options, their validation, and the encoding of a request head.
 * Everything a caller can get wrong is checked here, before a connection is
 * taken, with a FARAD_ERR_INVALID_REQUEST error naming what is wrong.
 */
import { Readable } from "node:stream";

import { isToken, isValidHeaderValue } from "../protocol/http1/encode.js";
import { ClientError, ClientErrorCodes } from "./errors.js";

export type HeaderInput = Record<string, string | number | readonly string[] | undefined> | Iterable<readonly [string, string]>;

/** What a request body may be. Only strings and byte arrays can be sent twice (retries). */
export type RequestBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array | string> | null | undefined;

export interface RequestOptions {
  /** Absolute http: URL, or a path when the client has a `baseUrl` or a balancer. */
  url: string | URL;
  /** Default "GET". Case-sensitive token. */
  method?: string;
  headers?: HeaderInput;
  body?: RequestBody;
  /** Aborts the request at any point (queue, connect, send, head, body). */
  signal?: AbortSignal;
  /** Per-request overrides of the client's timeouts (ms; 0 = none). */
  connectTimeout?: number;
  headersTimeout?: number;
  bodyTimeout?: number;
  timeout?: number;
  /** Per-request override of the client's maxBodySize (bytes text()/json()/bytes() collect). */
  maxBodySize?: number;
  /** Per-request retry policy (merged over the client's). */
  retry?: RetryOptions | false;
  /** Allow retrying this request even if its method is not idempotent. */
  idempotent?: boolean;
}

export interface RetryOptions {
  /** Total attempts including the first (default 1: no retries). */
  attempts?: number;
  /** First backoff in ms (default 100); doubles each retry, full jitter. */
  baseDelay?: number;
  /** Backoff cap in ms (default 2000); also caps Retry-After. */
  maxDelay?: number;
  /** Response statuses that are retried (default [429, 502, 503, 504]). */
  statuses?: readonly number[];
  /** Error codes (ClientErrorCodes values) that are retried (default: connect failures, closed sockets, connect timeouts). */
  errors?: readonly string[];
  /** Retry non-idempotent methods too (default false). */
  nonIdempotent?: boolean;
}

export const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

// http1::Method numbers in native/http1/request_parser.h (HEAD and CONNECT
// change how a response is framed; the others are informational).
const METHOD_CODES: Record<string, number> = {
  GET: 1,
  HEAD: 2,
  POST: 3,
  PUT: 4,
  DELETE: 5,
  CONNECT: 6,
  OPTIONS: 7,
  TRACE: 8,
  PATCH: 9,
};

export function methodCode(method: string): number {
  return METHOD_CODES[method] ?? 0;
}

function invalid(message: string): ClientError {
  return new ClientError(ClientErrorCodes.INVALID_REQUEST, message);
}

/** The parts of a URL a request needs: origin key, connect address, path. */
export interface Target {
  origin: string; // "http://host:port", the pool key
  hostname: string; // without IPv6 brackets
  port: number;
  hostHeader: string;
  path: string;
}

export function parseTarget(url: string | URL, base: URL | undefined): Target {
  let u: URL;
  try {
    u = typeof url === "string" ? new URL(url, base) : url;
  } catch {
    throw invalid(`not a valid URL${base ? "" : " (relative URLs need the client's baseUrl)"}: ${String(url)}`);
  }
  if (u.protocol !== "http:") {
    throw invalid(`unsupported protocol ${u.protocol} in ${u.href}: the client speaks http: (TLS is not implemented yet)`);
  }
  if (u.username || u.password) throw invalid("credentials in the URL are not sent; set an Authorization header");
  const port = u.port ? Number(u.port) : 80;
  const hostname = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return {
    origin: `http://${u.host}`,
    hostname,
    port,
    hostHeader: u.host,
    path: (u.pathname || "/") + u.search,
  };
}

export interface EncodedHead {
  head: string;
  /** Content-Length the caller set for a streamed body, or -1. */
  declaredLength: number;
  /** The caller asked for "Expect: 100-continue". */
  expectContinue: boolean;
  /** The caller sent "Connection: close". */
  close: boolean;
  /** The whole head for a request without a body, once built. */
  bodyless?: Buffer;
}

const FORBIDDEN = new Set(["transfer-encoding", "upgrade", "keep-alive", "proxy-connection"]);

/**
 * The request head up to the framing headers. Content-Length or chunked is
 * added by the caller, who knows the body. Throws on invalid names/values.
 */
export function encodeHead(method: string, target: Target, headers: HeaderInput | undefined): EncodedHead {
  let head = `${method} ${target.path} HTTP/1.1\r\n`;
  let hasHost = false;
  let declaredLength = -1;
  let expectContinue = false;
  let close = false;
  if (headers !== undefined) {
    const pairs: Iterable<readonly [string, unknown]> =
      Symbol.iterator in headers ? (headers as Iterable<readonly [string, string]>) : Object.entries(headers);
    for (const [name, raw] of pairs) {
      if (raw === undefined) continue;
      if (!isToken(name)) throw invalid(`header name ${JSON.stringify(name)} is not a token`);
      const lower = name.toLowerCase();
      if (FORBIDDEN.has(lower)) throw invalid(`header ${name} is set by the client, not by the caller`);
      const values = Array.isArray(raw) ? (raw as string[]) : [raw];
      for (const v of values) {
        const value = typeof v === "number" ? String(v) : v;
        if (typeof value !== "string" || !isValidHeaderValue(value)) {
          throw invalid(`header ${name} has an invalid value (CR, LF, NUL or non-Latin-1): ${JSON.stringify(value)}`);
        }
        if (lower === "host") hasHost = true;
        else if (lower === "content-length") {
          if (!/^\d{1,15}$/.test(value)) throw invalid(`Content-Length must be digits, got ${JSON.stringify(value)}`);
          declaredLength = Number(value);
          continue; // written with the framing
        } else if (lower === "expect") {
          if (value.toLowerCase() !== "100-continue") throw invalid(`Expect ${JSON.stringify(value)} is not supported`);
          expectContinue = true;
        } else if (lower === "connection") {
          if (/(^|,)\s*close\s*(,|$)/i.test(value)) close = true;
        }
        head += `${name}: ${value}\r\n`;
      }
    }
  }
  if (!hasHost) head = `${head}host: ${target.hostHeader}\r\n`;
  return { head, declaredLength, expectContinue, close };
}

/** True for bodies that can be sent again on a retry. */
export function replayable(body: RequestBody): boolean {
  return body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array;
}

export function checkBody(body: unknown): asserts body is RequestBody {
  if (body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array) return;
  if (body instanceof Readable) return;
  if (typeof body === "object" && Symbol.asyncIterator in (body as object)) return;
  throw invalid("body must be a string, Uint8Array, Readable or async iterable");
}
