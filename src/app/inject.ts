/**
 * In-process requests (Server#inject): the response a client would have
 * received, built from the context instead of read off a socket.
 */
import { bodyless, STATUS_TEXT } from "../protocol/http1/status.js";
import type { SyntheticRequest } from "../protocol/http1/synthetic.js";
import { M_CLOSE, M_HEAD } from "../protocol/http1/writer.js";
import type { RequestContext } from "./context.js";

export type InjectRequest = SyntheticRequest;

/** What inject() resolves to: the response as a client would see it. */
export interface InjectResponse {
  status: number;
  statusText: string;
  /** Lower-case names; a header sent several times (Set-Cookie) has an array. */
  headers: Record<string, string | string[]>;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

/** Response headers by lower-case name; a header sent several times (Set-Cookie) has an array. */
export type HeaderRecord = Record<string, string | string[]>;

export function addHeader(headers: HeaderRecord, name: string, value: string): void {
  const key = name.toLowerCase();
  const had = headers[key];
  headers[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
}

/** The Content-Type set on ctx's response so far, or null. */
export function responseContentType(ctx: RequestContext): string | null {
  if (ctx._ctype === null) return null;
  const line = ctx._ctype.toString("latin1");
  return line.slice(line.indexOf(":") + 2, -2);
}

/** Adds the fields set on ctx's response with setHeader()/addHeader() to `headers`. */
export function addResponseFields(headers: HeaderRecord, ctx: RequestContext): void {
  const h = ctx._headers;
  if (h !== null) for (let i = 0; i < h.length; i += 2) addHeader(headers, h[i]!, h[i + 1]!);
}

export function captured(ctx: RequestContext, mode: number): InjectResponse {
  const status = ctx._status;
  const headers: HeaderRecord = {};
  let body = ctx._body === null ? Buffer.alloc(0) : typeof ctx._body === "string" ? Buffer.from(ctx._body) : Buffer.from(ctx._body);
  if (!bodyless(status)) {
    const type = responseContentType(ctx);
    if (type !== null) addHeader(headers, "content-type", type);
    addHeader(headers, "content-length", String(body.length));
  } else {
    body = Buffer.alloc(0);
  }
  addHeader(headers, "date", new Date().toUTCString());
  if (mode & M_CLOSE) addHeader(headers, "connection", "close");
  addResponseFields(headers, ctx);
  if (mode & M_HEAD) body = Buffer.alloc(0);
  return {
    status,
    statusText: STATUS_TEXT[status] ?? "",
    headers,
    body,
    text: () => body.toString("utf8"),
    json: <T>() => JSON.parse(body.toString("utf8")) as T,
  };
}

