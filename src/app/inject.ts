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

export function captured(ctx: RequestContext, mode: number): InjectResponse {
  const status = ctx._status;
  const headers: Record<string, string | string[]> = {};
  const add = (k: string, v: string): void => {
    const key = k.toLowerCase();
    const had = headers[key];
    headers[key] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  };
  let body = ctx._body === null ? Buffer.alloc(0) : typeof ctx._body === "string" ? Buffer.from(ctx._body) : Buffer.from(ctx._body);
  if (!bodyless(status)) {
    if (ctx._ctype !== null) {
      const line = ctx._ctype.toString("latin1");
      add("content-type", line.slice(line.indexOf(":") + 2, -2));
    }
    add("content-length", String(body.length));
  } else {
    body = Buffer.alloc(0);
  }
  add("date", new Date().toUTCString());
  if (mode & M_CLOSE) add("connection", "close");
  const h = ctx._headers;
  if (h !== null) for (let i = 0; i < h.length; i += 2) add(h[i]!, h[i + 1]!);
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

