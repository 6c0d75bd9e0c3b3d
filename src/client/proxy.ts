/**
 * A reverse proxy as a farad handler: the request body streams upstream and
 * the response streams back, with flow control both ways (the client stops
 * reading the downstream body while the upstream socket is full, and stops
 * reading upstream while the downstream client is slow), so any body size
 * costs bounded memory.
 *
 * Hop-by-hop fields (RFC 9110 §7.6.1) are dropped in both directions, with
 * any the Connection field names; X-Forwarded-For/-Proto/-Host are set;
 * upstream failures answer 502 and upstream timeouts 504; the upstream
 * request is aborted when the downstream client goes away.
 */
import type { RequestContext } from "../app/context.js";
import { ErrorCodes } from "../common/errors.js";
import { BalanceErrorCodes, type Balancer } from "./balance.js";
import { Client } from "./client.js";
import { ClientError, ClientErrorCodes } from "./errors.js";
import type { ClientResponse } from "./response.js";

export interface ProxyOptions {
  /** Upstream origin, optionally with a base path: "http://10.0.0.5:8080/api". */
  target?: string | URL;
  /** Picks an upstream per request instead of `target` (each outcome feeds it back). */
  balancer?: Balancer;
  /** The client to send with, for `target` (default: one owned by this proxy). */
  client?: Client;
  /** Upstream timeouts (ms), passed to each request (defaults: the client's). */
  connectTimeout?: number;
  headersTimeout?: number;
  bodyTimeout?: number;
  timeout?: number;
  /** Keep the downstream Host header instead of the upstream's (default false). */
  preserveHost?: boolean;
  /** Set X-Forwarded-For, -Proto and -Host (default true). */
  xForwarded?: boolean;
  /** Rewrites the path (with query) before it is appended to the target's base path. */
  rewrite?: (path: string) => string;
  /** Upstream statuses counted as endpoint failures by the balancer (default: 502, 503, 504). */
  failureStatuses?: readonly number[];
}

/** The proxy handler; `close()` closes its own client (not one passed in). */
export interface ProxyHandler {
  (ctx: RequestContext): Promise<void>;
  close(): void;
}

// RFC 9110 §7.6.1 and the de-facto ones; plus what farad frames itself.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Request bodies up to this size (declared by Content-Length) are forwarded whole. */
const SMALL_BODY = 64 * 1024;

function invalid(message: string): ClientError {
  return new ClientError("FARAD_ERR_INVALID_OPTION", message);
}

function connectionNamed(value: string | undefined): Set<string> | null {
  if (!value) return null;
  const out = new Set<string>();
  for (const t of value.split(",")) {
    const name = t.trim().toLowerCase();
    if (name) out.add(name);
  }
  return out;
}

export function proxy(options: ProxyOptions): ProxyHandler {
  if (options === null || typeof options !== "object") throw invalid("proxy() takes an options object");
  if ((options.target === undefined) === (options.balancer === undefined)) throw invalid("proxy() needs exactly one of target and balancer");
  let base: URL | undefined;
  if (options.target !== undefined) {
    try {
      base = new URL(String(options.target));
    } catch {
      throw invalid(`proxy target is not a valid URL: ${String(options.target)}`);
    }
    if (base.protocol !== "http:") throw invalid(`proxy target must be http: (TLS upstream is not implemented yet), got ${base.protocol}`);
  }
  const basePath = base ? base.pathname.replace(/\/$/, "") : "";
  if (options.balancer !== undefined && options.client !== undefined) throw invalid("proxy(): with a balancer the proxy makes its own client; configure timeouts through the proxy options");
  const own = options.client === undefined;
  // With a balancer, the client picks each attempt's endpoint and reports
  // its outcome (client.ts); a path URL is what selects that mode.
  const client =
    options.client ??
    new Client({ leakDetection: false, balancer: options.balancer, failureStatuses: options.failureStatuses });
  const origin = base ? base.origin : "";
  const xForwarded = options.xForwarded ?? true;

  const handler = (async (ctx: RequestContext): Promise<void> => {
    const path = options.rewrite ? options.rewrite(ctx.url) : ctx.url;

    // Request headers, minus hop-by-hop ones and any Connection names.
    const reqHeaders = ctx.headers();
    const named = connectionNamed(ctx.header("connection"));
    const out: [string, string][] = [];
    let hasBody = false;
    let declared = -1;
    for (const [name, value] of reqHeaders) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || named?.has(lower)) {
        if (lower === "transfer-encoding") hasBody = true; // chunked: a body follows
        continue;
      }
      if (lower === "host" && !options.preserveHost) continue;
      if (lower === "content-length") {
        declared = Number(value);
        hasBody = declared !== 0;
        // A small body is forwarded whole and framed by the client; a large
        // one streams and keeps its declared length.
        if (declared <= SMALL_BODY) continue;
      }
      if (xForwarded && (lower === "x-forwarded-for" || lower === "x-forwarded-proto" || lower === "x-forwarded-host")) continue;
      out.push([name, value]);
    }
    if (xForwarded) {
      const prior = ctx.header("x-forwarded-for");
      out.push(["x-forwarded-for", prior ? `${prior}, ${ctx.remoteAddress}` : ctx.remoteAddress]);
      out.push(["x-forwarded-proto", ctx.header("x-forwarded-proto") ?? "http"]);
      const host = ctx.header("x-forwarded-host") ?? ctx.header("host");
      if (host !== undefined) out.push(["x-forwarded-host", host]);
    }

    let res: ClientResponse;
    try {
      res = await client.request({
        url: `${origin}${basePath}${path}`,
        method: ctx.method,
        headers: out,
        // A small declared body is read whole (one write upstream); anything
        // else streams with flow control both ways.
        body: !hasBody ? undefined : declared >= 0 && declared <= SMALL_BODY ? await ctx.body() : ctx.bodyStream(),
        signal: ctx.context.signal,
        connectTimeout: options.connectTimeout,
        headersTimeout: options.headersTimeout,
        bodyTimeout: options.bodyTimeout,
        timeout: options.timeout,
        retry: false,
      });
    } catch (e) {
      answerFailure(ctx, e);
      return;
    }
    await relay(ctx, res);
  }) as ProxyHandler;
  handler.close = () => {
    if (own) client.close();
  };
  return handler;
}

function answerFailure(ctx: RequestContext, e: unknown): void {
  if (ctx.context.aborted) return; // the downstream client left: nobody to answer
  const code = (e as ClientError).code;
  if (code === BalanceErrorCodes.NO_ENDPOINT) {
    ctx.setHeader("x-farad-upstream-error", code);
    ctx.string(503, "no upstream available");
    return;
  }
  const timeout =
    code === ClientErrorCodes.CONNECT_TIMEOUT ||
    code === ClientErrorCodes.HEADERS_TIMEOUT ||
    code === ClientErrorCodes.REQUEST_TIMEOUT ||
    code === ClientErrorCodes.QUEUE_TIMEOUT;
  if (code === ClientErrorCodes.REQUEST_BODY || code === ErrorCodes.BODY_ABORTED) {
    // Reading the downstream request body failed: the client is at fault (or gone).
    ctx.string(400, "the request body could not be read");
    return;
  }
  ctx.setHeader("x-farad-upstream-error", code ?? ClientErrorCodes.UPSTREAM);
  ctx.string(timeout ? 504 : 502, timeout ? "upstream timed out" : "bad gateway");
}

async function relay(ctx: RequestContext, res: ClientResponse): Promise<void> {
  const raw = res.rawHeaders;
  const named = connectionNamed(res.header("connection"));
  let length = -1;
  ctx.status(res.status);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || lower === "date") continue;
    if (lower === "content-length") {
      length = Number(raw[i + 1]);
      continue;
    }
    if (lower === "content-type") ctx.setHeader(name, raw[i + 1]!);
    else ctx.addHeader(name, raw[i + 1]!);
  }
  const bodyless = ctx.method === "HEAD" || res.status === 204 || res.status === 304 || (res.status >= 100 && res.status < 200);
  if (bodyless) {
    res.release();
    if (length >= 0 && ctx.method === "HEAD") {
      // The length of the body a GET would get: a stream head with that
      // Content-Length, ended with no bytes (HEAD sends none).
      ctx.setHeader("content-length", length);
      ctx.flushHeaders();
    }
    ctx.end();
    return;
  }
  if (res._ex.bodyWaiting) {
    // The whole body came with the head (small responses): one buffer, one
    // write, no stream machinery.
    ctx.end(await res.bytes());
    return;
  }
  try {
    await ctx.send(res.body, length >= 0 ? { length } : undefined);
  } catch (e) {
    // Upstream failed mid-body (or the client left): the status is gone,
    // so the downstream connection is closed rather than ended cleanly.
    res.close();
    throw e;
  }
}
