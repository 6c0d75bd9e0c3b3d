/**
 * The two contexts of a request, as in Hertz.
 *
 * RequestContext (`ctx`) belongs to one request. It reads the request out of
 * the reactor's shared memory lazily and collects the response; the server
 * writes the response when the handler chain has finished. When the response
 * has been written and the chain has settled, the context is released, and
 * any later use throws FARAD_ERR_CONTEXT_RELEASED instead of reading the next
 * request's data.
 *
 * Context (`c`) may outlive the request: its AbortSignal, deadline and values
 * stay usable for work the handler started.
 */
import type { Static, TObject } from "@sinclair/typebox";
import { ErrorCodes, FaradError } from "../common/errors.js";
import { isToken, isValidHeaderValue } from "../protocol/http1/encode.js";
import { RequestView } from "../protocol/http1/request.js";
import { F_BODY_END } from "../transport/layout.js";
import {
  deliverBody,
  drain,
  endStream,
  failBody,
  flushHeaders,
  openBodyStream,
  openLentBody,
  OUT_NONE,
  readBody,
  send,
  write,
  type BodySource,
  type BodyStreamOptions,
  type SendOptions,
  type StreamHost,
} from "./streaming.js";
import type { Readable } from "node:stream";
import type { BodySlab } from "../transport/native.js";
import type { LentBody } from "./lent-body.js";
import { sendFile, type FileOptions } from "./file.js";
import { openSse, type SseOptions, type SseStream } from "./sse.js";
import { readMultipart, type MultipartOptions, type MultipartReader } from "./multipart.js";
import { METHOD_GET, METHOD_HEAD, paramValue, type Route, type RouteMatch } from "../route/index.js";
import { bindRequest, tryBindRequest, type BindOptions, type BindResult } from "./bind.js";
import { requestCookies, serializeClearCookie, serializeCookie, type ClearCookieOptions, type CookieOptions } from "./cookie.js";
import { formatEtag, modifiedSinceFresh, noneMatchFresh } from "./etag.js";
import { checkRedirectCode, redirectLocation, serializerFor, type JsonOptions } from "./render.js";

export type Handler = (ctx: RequestContext, c: Context) => unknown;

// RequestContext state bits
export const S_ENDED = 1; // the response has been written (or handed to the writer)
export const S_RELEASED = 2; // the context may no longer be used
export const S_PENDING = 4; // the chain is running asynchronously
export const S_CLOSE = 8; // close the connection after the response

const ABORTED_INDEX = 1 << 30;

/** What the server core gives each context (kept out of the public surface). */
export interface ContextHost extends StreamHost {
  bodyLimit: number;
  unescapePathValues: boolean;
  /** ctx's handler deadline (ms since the epoch, or Infinity): the same value whenever it is asked. */
  deadline(ctx: RequestContext): number;
  /** The client's [address, port] of a connection, or null. */
  peer(slot: number, gen: number): [string, number] | null;
  /** Writes ctx's whole response now (end() without a stream). */
  endNow(ctx: RequestContext): void;
}

/**
 * True if some handler of the chain may use the long-lived context: any
 * whose declared parameter count is not exactly 1. `(ctx) =>` alone opts
 * out; `(ctx, c) =>` opts in, and so do `() =>` and `(...args) =>`, whose
 * length says nothing about what they pass on (a wrapper's `c` must not be
 * missing).
 */
export function needsContext(chain: readonly Handler[]): boolean {
  for (const h of chain) if (h.length !== 1) return true;
  return false;
}

const CT_TEXT = Buffer.from("Content-Type: text/plain; charset=utf-8\r\n");
const CT_JSON = Buffer.from("Content-Type: application/json; charset=utf-8\r\n");
const CT_HTML = Buffer.from("Content-Type: text/html; charset=utf-8\r\n");
const ctypeCache = new Map<string, Buffer>();

function contentTypeLine(type: string): Buffer {
  let line = ctypeCache.get(type);
  if (line === undefined) {
    if (!isValidHeaderValue(type)) throw new FaradError(ErrorCodes.INVALID_HEADER, `invalid Content-Type ${JSON.stringify(type)}`);
    line = Buffer.from(`Content-Type: ${type}\r\n`, "latin1");
    if (ctypeCache.size < 256) ctypeCache.set(type, line);
  }
  return line;
}

function released(): never {
  throw new FaradError(
    ErrorCodes.CONTEXT_RELEASED,
    "this RequestContext was released when its request finished; copy the values you need before the response ends, or keep the long-lived context (the handler's second argument) instead",
  );
}

export class Context {
  #controller: AbortController | null = null;
  #reason: unknown = undefined;
  #aborted = false;
  #values: Map<unknown, unknown> | null = null;
  /**
   * Milliseconds since the epoch by which the handler chain must finish (the
   * route's handlerTimeout, else the server's, counted from when the request
   * reached the handlers), or Infinity. The 503 is due at this time.
   */
  readonly deadline: number;

  constructor(deadline: number) {
    this.deadline = deadline;
  }

  /** Aborts when the client goes away, the deadline passes, or the server shuts down. */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get<T = unknown>(key: unknown): T | undefined {
    return this.#values?.get(key) as T | undefined;
  }

  set(key: unknown, value: unknown): this {
    (this.#values ??= new Map()).set(key, value);
    return this;
  }

  /** @internal */
  _abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * When a request went through each stage, in performance.now() milliseconds
 * (NaN for a stage not reached). Filled while a tracer is installed.
 */
export interface Timings {
  /** The first byte of the request head was read by the reactor. */
  readStart: number;
  /** The head was parsed (the batch that carried it reached JS). */
  headersParsed: number;
  /** The whole body had arrived (= headersParsed for bodies that came with the head). */
  bodyRead: number;
  handlerStart: number;
  handlerEnd: number;
  /** The response was handed to the reactor (for a streamed one, its end: end(), send(), file(), the chain settling). */
  writeDone: number;
}

/**
 * The part of a request's state that only some requests need: a body read
 * in body events, a streamed response, and the bookkeeping of a handler
 * chain that went asynchronous. Made on first use, so a request answered
 * synchronously allocates one small object (measured: construction cost
 * grows with the field count, and fields holding doubles such as Infinity
 * cost a heap number each). RequestContext exposes every field through an
 * accessor of the old name (`_received`, `_out`, ...), so its users do not
 * know where the state lives.
 */
class ContextExtension {
  // request body streamed in body events
  chunks: Buffer[] | null = null;
  received = 0;
  bodyDone: boolean;
  bodyError: Error | null = null;
  bodyWaiter: { resolve(b: Buffer): void; reject(e: Error): void } | null = null;
  bodyMode = 0;
  bodyPaused = false;
  continued = false;
  stream: Readable | null = null;
  lent: LentBody | null = null;
  streamLimit = Infinity;
  // streamed response (src/app/streaming.ts)
  out = OUT_NONE;
  chunked = false;
  length = -1;
  written = 0;
  queued = 0;
  gone = false;
  endFlags = 0;
  drainWaiter: { promise: Promise<void>; resolve(): void; reject(e: Error): void } | null = null;
  // a pending chain: the server's lists, the deadline, params owned by the context
  deadline = Infinity;
  prev: RequestContext | null = null;
  next: RequestContext | null = null;
  slotNext: RequestContext | null = null;
  params: number[] | null = null;
  paramBuf: Uint8Array | null = null;

  constructor(bodyDone: boolean) {
    this.bodyDone = bodyDone;
  }
}

const NO_HANDLERS: readonly Handler[] = Object.freeze([]);

// Fields are `declare`d and assigned in the constructor, and super() has no
// arguments (see RequestView).
export class RequestContext extends RequestView {
  /** @internal */ declare _host: ContextHost;
  /** @internal */ declare _state: number;
  /** @internal */ declare _handlers: readonly Handler[];
  /** @internal */ declare _index: number;
  /** @internal */ declare _route: Route<Handler, unknown> | null;
  /**
   * @internal The router's reused match while it is still this request's:
   * a synchronous chain reads its params from it with no copy; a context
   * that goes async copies them first (_ownParams), before the next lookup.
   */
  declare _match: RouteMatch<Handler, unknown> | null;
  /**
   * @internal The long-lived context, made up front when needsContext() says
   * so, else on demand (ctx.context). Undefined rather than null, so that a
   * handler `(ctx, c = ctx.context)` gets its default.
   */
  declare _c: Context | undefined;
  // response
  /** @internal */ declare _status: number;
  /** @internal */ declare _ctype: Buffer | null;
  /** @internal */ declare _headers: string[] | null;
  /** @internal */ declare _body: string | Uint8Array | null;
  /** @internal In-process requests (inject) hand the response here instead of to a socket. */
  declare _capture: ((ctx: RequestContext, mode: number) => void) | null;
  /** @internal Timestamps (performance.now() ms), stamped only while a tracer is installed. */
  declare _times: Timings | null;
  /** @internal See ContextExtension. */
  declare _ext: ContextExtension | null;

  constructor(ev: Int32Array, i: number, input: Buffer, rows: Int32Array, host: ContextHost) {
    super();
    this._view(ev, i, input, rows);
    this._host = host;
    this._state = 0;
    this._handlers = NO_HANDLERS;
    this._index = -1;
    this._route = null;
    this._match = null;
    this._c = undefined;
    this._status = 200;
    this._ctype = null;
    this._headers = null;
    this._body = null;
    this._capture = null;
    this._times = null;
    this._ext = null;
  }

  /** @internal */
  _x(): ContextExtension {
    return (this._ext ??= new ContextExtension((this._flags & F_BODY_END) !== 0));
  }

  // The extension's fields under their old names (see ContextExtension).
  /** @internal */ get _chunks(): Buffer[] | null { return this._ext === null ? null : this._ext.chunks; }
  /** @internal */ set _chunks(v: Buffer[] | null) { this._x().chunks = v; }
  /** @internal */ get _received(): number { return this._ext === null ? 0 : this._ext.received; }
  /** @internal */ set _received(v: number) { this._x().received = v; }
  /** @internal */ get _bodyDone(): boolean { return this._ext === null ? (this._flags & F_BODY_END) !== 0 : this._ext.bodyDone; }
  /** @internal */ set _bodyDone(v: boolean) { this._x().bodyDone = v; }
  /** @internal */ get _bodyError(): Error | null { return this._ext === null ? null : this._ext.bodyError; }
  /** @internal */ set _bodyError(v: Error | null) { this._x().bodyError = v; }
  /** @internal */ get _bodyWaiter(): ContextExtension["bodyWaiter"] { return this._ext === null ? null : this._ext.bodyWaiter; }
  /** @internal */ set _bodyWaiter(v: ContextExtension["bodyWaiter"]) { this._x().bodyWaiter = v; }
  /** @internal */ get _bodyMode(): number { return this._ext === null ? 0 : this._ext.bodyMode; }
  /** @internal */ set _bodyMode(v: number) { this._x().bodyMode = v; }
  /** @internal */ get _bodyPaused(): boolean { return this._ext === null ? false : this._ext.bodyPaused; }
  /** @internal */ set _bodyPaused(v: boolean) { this._x().bodyPaused = v; }
  /** @internal */ get _continued(): boolean { return this._ext === null ? false : this._ext.continued; }
  /** @internal */ set _continued(v: boolean) { this._x().continued = v; }
  /** @internal */ get _stream(): Readable | null { return this._ext === null ? null : this._ext.stream; }
  /** @internal */ set _stream(v: Readable | null) { this._x().stream = v; }
  /** @internal */ get _lent(): LentBody | null { return this._ext === null ? null : this._ext.lent; }
  /** @internal */ set _lent(v: LentBody | null) { this._x().lent = v; }
  /** @internal */ get _streamLimit(): number { return this._ext === null ? Infinity : this._ext.streamLimit; }
  /** @internal */ set _streamLimit(v: number) { this._x().streamLimit = v; }
  /** @internal */ get _out(): number { return this._ext === null ? OUT_NONE : this._ext.out; }
  /** @internal */ set _out(v: number) { this._x().out = v; }
  /** @internal */ get _chunked(): boolean { return this._ext === null ? false : this._ext.chunked; }
  /** @internal */ set _chunked(v: boolean) { this._x().chunked = v; }
  /** @internal Declared Content-Length of a streamed response, -1 if none. */
  get _length(): number { return this._ext === null ? -1 : this._ext.length; }
  /** @internal */ set _length(v: number) { this._x().length = v; }
  /** @internal */ get _written(): number { return this._ext === null ? 0 : this._ext.written; }
  /** @internal */ set _written(v: number) { this._x().written = v; }
  /** @internal */ get _queued(): number { return this._ext === null ? 0 : this._ext.queued; }
  /** @internal */ set _queued(v: number) { this._x().queued = v; }
  /** @internal */ get _gone(): boolean { return this._ext === null ? false : this._ext.gone; }
  /** @internal */ set _gone(v: boolean) { this._x().gone = v; }
  /** @internal */ get _endFlags(): number { return this._ext === null ? 0 : this._ext.endFlags; }
  /** @internal */ set _endFlags(v: number) { this._x().endFlags = v; }
  /** @internal */ get _drainWaiter(): ContextExtension["drainWaiter"] { return this._ext === null ? null : this._ext.drainWaiter; }
  /** @internal */ set _drainWaiter(v: ContextExtension["drainWaiter"]) { this._x().drainWaiter = v; }
  /** @internal */ get _deadline(): number { return this._ext === null ? Infinity : this._ext.deadline; }
  /** @internal */ set _deadline(v: number) { this._x().deadline = v; }
  /** @internal */ get _prev(): RequestContext | null { return this._ext === null ? null : this._ext.prev; }
  /** @internal */ set _prev(v: RequestContext | null) { this._x().prev = v; }
  /** @internal */ get _next(): RequestContext | null { return this._ext === null ? null : this._ext.next; }
  /** @internal */ set _next(v: RequestContext | null) { this._x().next = v; }
  /** @internal */ get _slotNext(): RequestContext | null { return this._ext === null ? null : this._ext.slotNext; }
  /** @internal */ set _slotNext(v: RequestContext | null) { this._x().slotNext = v; }
  /** @internal Param offsets owned by this context (see _ownParams). */
  get _params(): number[] | null { return this._ext === null ? null : this._ext.params; }
  /** @internal */ set _params(v: number[] | null) { this._x().params = v; }
  /** @internal */ get _paramBuf(): Uint8Array | null { return this._ext === null ? null : this._ext.paramBuf; }
  /** @internal */ set _paramBuf(v: Uint8Array | null) { this._x().paramBuf = v; }

  // ---------------------------------------------------------------- request

  /** The request method, e.g. "GET" or "PROPFIND". */
  get method(): string {
    if (this._state & S_RELEASED) released();
    return this._method();
  }

  /** The raw request target as sent (path and query, percent-encoded). */
  get url(): string {
    if (this._state & S_RELEASED) released();
    return this._target();
  }

  /** The path part of the target, percent-encoded as sent. */
  get path(): string {
    if (this._state & S_RELEASED) released();
    return this._buf.toString("latin1", this._pathStart(), this._pathEnd());
  }

  /** The route template that matched, e.g. "/user/:id" (for metrics labels); "" if none. */
  get fullPath(): string {
    if (this._state & S_RELEASED) released();
    return this._route?.fullPath ?? "";
  }

  /** "1.1" or "1.0". */
  get httpVersion(): string {
    if (this._state & S_RELEASED) released();
    return this._versionMinor === 1 ? "1.1" : "1.0";
  }

  /** The first value of query parameter `name` (decoded), or undefined. */
  query(name: string): string | undefined {
    if (this._state & S_RELEASED) released();
    const end = this._targetEnd();
    const q = this._pathEnd();
    if (q >= end) return undefined;
    return new URLSearchParams(this._buf.toString("latin1", q + 1, end)).get(name) ?? undefined;
  }

  /** The value of route parameter `name` (decoded by default), or undefined. */
  param(name: string): string | undefined {
    if (this._state & S_RELEASED) released();
    const route = this._route;
    if (route === null) return undefined;
    const i = route.paramNames.indexOf(name);
    if (i < 0) return undefined;
    const m = this._match;
    if (m !== null) return paramValue(m.buf, m.params[2 * i]!, m.params[2 * i + 1]!, this._host.unescapePathValues);
    if (this._params === null) return undefined;
    const p = this._params;
    const base = this._paramBuf === null ? this._base : 0;
    const buf = this._paramBuf ?? this._buf;
    return paramValue(buf, p[2 * i]! - base, p[2 * i + 1]! - base, this._host.unescapePathValues);
  }

  /** The first value of header `name` (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    if (this._state & S_RELEASED) released();
    return this._header(name);
  }

  /** Every value of header `name`, in order. */
  headerValues(name: string): string[] {
    if (this._state & S_RELEASED) released();
    return this._headerValues(name);
  }

  /** All header fields as [name, value] pairs, in the order sent, duplicates kept. */
  headers(): [string, string][] {
    if (this._state & S_RELEASED) released();
    return this._headerPairs();
  }

  /**
   * The whole request body, at most `bodyLimit` bytes (a 413 HttpError past
   * it). The Buffer is the caller's to keep.
   */
  body(): Promise<Buffer> {
    if (this._state & S_RELEASED) released();
    return readBody(this);
  }

  /**
   * The body as a Readable with backpressure: while the stream is full the
   * reactor stops reading this connection. No size limit unless `limit` is
   * given (then a 413 HttpError past it). Use it or body(), not both.
   */
  bodyStream(options?: BodyStreamOptions): Readable {
    if (this._state & S_RELEASED) released();
    return openBodyStream(this, options);
  }

  /**
   * The body as chunks lent to the handler: each is valid until the next
   * one is asked for, the loop ends or the request finishes; copy one
   * (`Buffer.from(chunk)`) to keep it. No copy and no garbage per byte, so
   * the fast way to read a large upload. Backpressure and `limit` as for
   * bodyStream(); use one of body(), bodyStream() and bodyChunks().
   *
   * ```ts
   * for await (const chunk of ctx.bodyChunks()) hash.update(chunk);
   * ```
   */
  bodyChunks(options?: BodyStreamOptions): AsyncIterableIterator<Buffer> {
    if (this._state & S_RELEASED) released();
    return openLentBody(this, options);
  }

  /** The client's IP address as accepted (IPv4-mapped IPv6 for IPv4 clients on a "::" listener), or "" if gone. */
  get remoteAddress(): string {
    if (this._state & S_RELEASED) released();
    return this._host.peer(this._slot, this._gen)?.[0] ?? "";
  }

  /** The client's port, or 0 if gone. */
  get remotePort(): number {
    if (this._state & S_RELEASED) released();
    return this._host.peer(this._slot, this._gen)?.[1] ?? 0;
  }

  /** The response status set so far (200 until a handler sets one). */
  get statusCode(): number {
    if (this._state & S_RELEASED) released();
    return this._status;
  }

  /** Stage timestamps, while a tracer is installed (see Timings); null otherwise. */
  get timings(): Readonly<Timings> | null {
    return this._times;
  }

  /** The long-lived context of this request. */
  get context(): Context {
    if (this._state & S_RELEASED) released();
    return (this._c ??= new Context(this._host.deadline(this)));
  }

  // --------------------------------------------------------------- response

  /** Sets the status code of the response. */
  status(code: number): this {
    if (this._state & S_RELEASED) released();
    this._status = checkStatus(code);
    return this;
  }

  /** Sets a response header, replacing one of the same name. */
  setHeader(name: string, value: string | number): this {
    if (this._state & S_RELEASED) released();
    const v = typeof value === "number" ? String(value) : value;
    checkHeader(name, v);
    const lower = name.toLowerCase();
    if (lower === "content-type") {
      this._ctype = contentTypeLine(v);
      return this;
    }
    if (lower === "content-length") {
      // Declares the length of a streamed body (write()/send()); whole
      // bodies always get the length they have.
      const n = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new FaradError(ErrorCodes.INVALID_HEADER, `invalid Content-Length ${JSON.stringify(v)}`);
      if (this._out !== OUT_NONE) throw new FaradError(ErrorCodes.RESPONSE_SENT, "Content-Length must be set before the first write()");
      this._length = n;
      return this;
    }
    if (lower === "transfer-encoding" || lower === "date") {
      throw new FaradError(ErrorCodes.INVALID_HEADER, `${name} is set by farad; do not set it`);
    }
    if (lower === "connection") {
      if (v.toLowerCase() === "close") this._state |= S_CLOSE;
      return this;
    }
    const h = (this._headers ??= []);
    for (let i = 0; i < h.length; i += 2) {
      if (h[i]!.toLowerCase() === lower) {
        h[i + 1] = v;
        return this;
      }
    }
    h.push(name, v);
    return this;
  }

  /** Adds a response header, keeping others of the same name (Set-Cookie). */
  addHeader(name: string, value: string): this {
    if (this._state & S_RELEASED) released();
    checkHeader(name, value);
    (this._headers ??= []).push(name, value);
    return this;
  }

  /** Responds with text/plain. */
  string(code: number, text: string): void {
    this.#respond(code, CT_TEXT, text);
  }

  /**
   * Responds with JSON.stringify(value) as application/json; with
   * `options.schema`, with a serializer compiled from that schema.
   */
  json(code: number, value: unknown, options?: JsonOptions): void {
    const s = options?.schema === undefined ? JSON.stringify(value) : serializerFor(options.schema)(value);
    this.#respond(code, CT_JSON, s === undefined ? "null" : s);
  }

  /** Responds with text/html. */
  html(code: number, html: string): void {
    this.#respond(code, CT_HTML, html);
  }

  /** Responds with bytes of the given content type. */
  data(code: number, contentType: string, bytes: Uint8Array | string): void {
    this.#respond(code, contentTypeLine(contentType), bytes);
  }

  // ------------------------------------ binding, cookies, redirects, ETags
  // (src/app/bind.ts, cookie.ts, etag.ts, render.ts; docs/binding.md and
  // docs/rendering.md)

  /**
   * Fills one object typed by `schema` from the route parameters, query,
   * headers, cookies and body (see `t`), coerced and checked. Rejects with a
   * BindError (400 listing the fields, or 415) that answers as JSON.
   */
  bind<T extends TObject>(schema: T, options?: BindOptions): Promise<Static<T>> {
    if (this._state & S_RELEASED) released();
    return bindRequest(this, schema, options);
  }

  /** As bind(), but resolves to `{ ok: false, error, errors }` instead of rejecting. */
  tryBind<T extends TObject>(schema: T, options?: BindOptions): Promise<BindResult<Static<T>>> {
    if (this._state & S_RELEASED) released();
    return tryBindRequest(this, schema, options);
  }

  /** The value of request cookie `name` as sent (not decoded), or undefined. */
  cookie(name: string): string | undefined {
    if (this._state & S_RELEASED) released();
    return requestCookies(this).get(name);
  }

  /** Appends a Set-Cookie header; throws FARAD_ERR_INVALID_COOKIE for what a browser would reject. */
  setCookie(name: string, value: string, options?: CookieOptions): this {
    return this.addHeader("Set-Cookie", serializeCookie(name, value, options));
  }

  /** Appends a Set-Cookie header that removes cookie `name` (give the path and domain it was set with). */
  clearCookie(name: string, options?: ClearCookieOptions): this {
    return this.addHeader("Set-Cookie", serializeClearCookie(name, options));
  }

  /** Responds with a redirect (301, 302, 303, 307 or 308) to `location`, and no body. */
  redirect(code: number, location: string): void {
    if (this._state & S_RELEASED) released();
    this.setHeader("Location", redirectLocation(location));
    this.#respond(checkRedirectCode(code), null, null);
  }

  /** Responds with 204 No Content. */
  noContent(): void {
    this.#respond(204, null, null);
  }

  /** Sets the ETag header: `value` is quoted unless it already is an entity-tag. */
  etag(value: string, options?: { weak?: boolean }): this {
    return this.setHeader("ETag", formatEtag(value, options?.weak === true));
  }

  /**
   * True if the client's cached copy is current (RFC 9110 §13.1): for a GET
   * or HEAD with a 2xx status so far, If-None-Match weakly matches the ETag
   * set on this response (or is "*"), or, without If-None-Match,
   * Last-Modified is no later than If-Modified-Since.
   */
  fresh(): boolean {
    if (this._state & S_RELEASED) released();
    // RFC 9110 §13.2.1: 304 answers only GET and HEAD.
    if (this._methodCode !== METHOD_GET && this._methodCode !== METHOD_HEAD) return false;
    if (this._status < 200 || this._status > 299) return false;
    const inm = this._header("if-none-match");
    if (inm !== undefined) return noneMatchFresh(inm, this.#responseHeader("etag"));
    const ims = this._header("if-modified-since");
    if (ims !== undefined) return modifiedSinceFresh(ims, this.#responseHeader("last-modified"));
    return false;
  }

  /** If fresh(), responds 304 Not Modified (headers kept, no body) and returns true. */
  notModified(): boolean {
    if (!this.fresh()) return false;
    this.#respond(304, null, null);
    return true;
  }

  #responseHeader(lower: string): string | undefined {
    const h = this._headers;
    if (h === null) return undefined;
    for (let i = 0; i < h.length; i += 2) if (h[i]!.toLowerCase() === lower) return h[i + 1];
    return undefined;
  }

  // ------------------------------------------- streamed responses (streaming.ts)

  /**
   * Sends a part of a streamed body (the head goes out first, with
   * Content-Length if set, else chunked coding). Returns false once the
   * connection's unsent bytes pass the high-water mark: await drain().
   */
  write(chunk: string | Uint8Array): boolean {
    if (this._state & S_RELEASED) released();
    return write(this, chunk);
  }

  /** Resolves when the connection can take more (rejects if the client left). */
  drain(): Promise<void> {
    if (this._state & S_RELEASED) released();
    return drain(this);
  }

  /** Ends a streamed response, after an optional last part. Without earlier writes it sends `chunk` as the whole body. */
  end(chunk?: string | Uint8Array): void {
    if (this._state & S_RELEASED) released();
    if (this._out === OUT_NONE) {
      this._body = chunk ?? this._body;
      this._host.endNow(this);
      return;
    }
    if (chunk !== undefined) write(this, chunk);
    endStream(this);
  }

  /** Sends the response head now, before any body. */
  flushHeaders(): void {
    if (this._state & S_RELEASED) released();
    flushHeaders(this);
  }

  /**
   * Responds with a file, sent by the reactor with sendfile(2): single
   * ranges, conditional requests, HEAD, Content-Type from the extension
   * (see FileOptions). A missing file is a 404 HttpError.
   */
  file(path: string, options?: FileOptions): Promise<void> {
    if (this._state & S_RELEASED) released();
    return sendFile(this, path, options);
  }

  /** Pipes a Readable, an async iterable or a web ReadableStream into the response with backpressure; resolves when sent. */
  send(source: BodySource, options?: SendOptions): Promise<void> {
    if (this._state & S_RELEASED) released();
    return send(this, source, options);
  }

  // ------------------------- server-sent events and multipart uploads
  // (src/app/sse.ts and multipart.ts; docs/streaming.md)

  /**
   * Turns the response into a text/event-stream (headers sent at once) and
   * returns its writer. The handler must keep the chain pending while it
   * streams: `await sse.closed`.
   */
  sse(options?: SseOptions): SseStream {
    if (this._state & S_RELEASED) released();
    return openSse(this, options);
  }

  /**
   * The parts of a multipart/form-data body as they arrive, for `for await`:
   * fields as strings, files as Readables with backpressure to the socket.
   * A limit passed is a 413 MultipartError; a malformed body a 400; another
   * Content-Type a 415.
   */
  multipart(options?: MultipartOptions): MultipartReader {
    if (this._state & S_RELEASED) released();
    return readMultipart(this, options);
  }

  // -------------------------------------------------------------- the chain

  /**
   * Runs the rest of the handler chain. Code after `await ctx.next()` runs
   * after every later handler has finished (post-processing). A middleware
   * that does not call next() lets the chain continue after it returns.
   */
  next(): Promise<void> | void {
    if (this._state & S_RELEASED) released();
    const hs = this._handlers;
    while (++this._index < hs.length) {
      // _c was made up front if any handler of the chain may use it (needsContext).
      const r = hs[this._index]!(this, this._c as Context) as PromiseLike<unknown> | undefined;
      if (r !== undefined && r !== null && typeof (r as PromiseLike<unknown>).then === "function") {
        // The last handler's promise is the chain's: no continuation needed.
        return this._index + 1 >= hs.length ? (r as Promise<void>) : continueAfter(this, r);
      }
    }
  }

  /** Stops the chain: no later handler runs. */
  abort(): void {
    if (this._state & S_RELEASED) released();
    this._index = ABORTED_INDEX;
  }

  /** Stops the chain and responds with `code` and an empty body. */
  abortWithStatus(code: number): void {
    this.abort();
    this.#respond(code, null, null);
  }

  /** Stops the chain and responds with `code` and a JSON body. */
  abortWithJSON(code: number, value: unknown): void {
    this.abort();
    this.json(code, value);
  }

  /** True once the chain was stopped with abort(). */
  get isAborted(): boolean {
    return this._index >= ABORTED_INDEX;
  }

  // ------------------------------------------------------------- internals

  #respond(code: number, ctype: Buffer | null, body: string | Uint8Array | null): void {
    if (this._state & S_RELEASED) released();
    this._status = checkStatus(code);
    this._ctype = ctype ?? this._ctype;
    this._body = body;
  }

  /** @internal Copies the params out of the router's shared match, which the next lookup reuses. */
  _ownParams(): void {
    const m = this._match;
    if (m === null) return;
    this._match = null;
    if (m.count === 0) return;
    const p: number[] = new Array(m.count * 2);
    for (let k = 0; k < p.length; k++) p[k] = m.params[k]!;
    this._params = p;
    // A cleaned path (removeExtraSlash) lives in the match's own buffer.
    if (m.buf !== this._buf) this._paramBuf = Uint8Array.from(m.buf);
  }

  /** @internal Body bytes arrived: a view of `slab` (see deliverBody). */
  _onBody(chunk: Buffer, slab: BodySlab | null, end: boolean, error: boolean): void {
    deliverBody(this, chunk, slab, end, error);
  }

  /** @internal */
  _fail(err: Error): void {
    failBody(this, err);
  }

}

async function continueAfter(ctx: RequestContext, pending: PromiseLike<unknown>): Promise<void> {
  await pending;
  if (!(ctx._state & S_RELEASED)) await ctx.next();
}

function checkStatus(code: number): number {
  if (!Number.isInteger(code) || code < 200 || code > 999) {
    throw new FaradError(ErrorCodes.INVALID_STATUS, `invalid response status ${code}: use an integer from 200 to 999`);
  }
  return code;
}

function checkHeader(name: string, value: string): void {
  if (typeof name !== "string" || !isToken(name)) {
    throw new FaradError(ErrorCodes.INVALID_HEADER, `invalid header name ${JSON.stringify(name)}`);
  }
  if (typeof value !== "string" || !isValidHeaderValue(value)) {
    throw new FaradError(ErrorCodes.INVALID_HEADER, `invalid value for header ${name}: CR, LF, NUL and non-Latin-1 characters are not allowed`);
  }
}
