/**
 * The application server: routes, middleware, the handler pipeline and the
 * lifecycle, over the native transport.
 *
 * Per batch of requests the reactor makes one call into onBatch. A request
 * whose handlers finish synchronously (or within the batch's microtasks) is
 * answered straight into shared memory and released without leaving the
 * batch; only contexts still running when the batch ends copy their request
 * bytes out of the shared region (onBatchEnd).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { ErrorCodes, FaradError, HttpError } from "../common/errors.js";
import { FORM_ASTERISK } from "../protocol/http1/request.js";
import { STATUS_TEXT } from "../protocol/http1/status.js";
import { synthesize } from "../protocol/http1/synthetic.js";
import { captured, type InjectRequest, type InjectResponse } from "./inject.js";
import { chRequestStart, chResponseFinish, diagnosticMessage, finishDiagnostics, type DiagnosticMessage } from "./diagnostics.js";
import { M_CLOSE, M_HEAD, M_KEEP_ALIVE, ResponseWriter } from "../protocol/http1/writer.js";
import {
  C_BUFFERED_BYTES,
  C_CONNECTIONS,
  C_DETACH,
  C_EVENTS,
  C_PARSE_ERRORS,
  C_READ_PAUSED,
  C_REQUESTS,
  C_TIMEOUTS,
  C_ACCEPTED,
  C_ACCEPT_PAUSED,
  C_OVER_BUDGET,
  E_BODY_LEN,
  E_BODY_OFF,
  E_FLAGS,
  E_GEN,
  E_READ_US,
  E_SEQ,
  E_SLOT,
  E_TYPE,
  EV_BODY,
  EV_CLOSE,
  EV_DRAIN,
  EV_REQUEST,
  EVENT_STRIDE,
  F_BODY_END,
  F_BODY_ERROR,
  F_CHUNKED,
  F_EXPECT_CONTINUE,
  F_HAS_BODY,
  F_KEEP_ALIVE,
  REC_CLOSE,
} from "../transport/layout.js";
import { NativeTransport } from "../transport/native.js";
import { MatchKind, METHOD_GET, METHOD_HEAD, METHOD_OPTIONS, Router, RouteGroup, type RouteInfo, type RouteMatch } from "../route/index.js";
import { Context, needsContext, RequestContext, S_CLOSE, S_ENDED, S_PENDING, S_RELEASED, type ContextHost, type Handler } from "./context.js";
import { resolveOptions, type ResolvedOptions, type ServerOptions } from "./options.js";
import { endStream, OUT_NONE, releaseBody, settleDrain } from "./streaming.js";
export type { InjectRequest, InjectResponse } from "./inject.js";

export interface ListenOptions {
  host?: string;
  port?: number;
}

export interface AddressInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
}

export interface ServerStats {
  connections: number;
  accepted: number;
  requests: number;
  parseErrors: number;
  timeouts: number;
  readPaused: number;
  bufferedBytes: number;
  /** True while reading is paused everywhere because buffered input passed maxBufferedBytes. */
  overBudget: boolean;
  /** True while accepting is paused because the process ran out of descriptors (EMFILE). */
  acceptPaused: boolean;
  pendingHandlers: number;
}

/** Per-route settings: `app.addRoute(method, path, handlers, options)`. */
export interface RouteOptions {
  /** This route's handler deadline in ms (overrides the server's handlerTimeout; 0 = none). */
  handlerTimeout?: number;
}

/**
 * Observes every request: start() before the first handler runs, finish()
 * after the response was handed to the reactor (ctx is still readable
 * there). ctx.timings holds the engine's timestamps while tracers exist.
 */
export interface Tracer {
  start(ctx: RequestContext): void;
  finish(ctx: RequestContext): void;
}

export type Hook = () => void | Promise<void>;

interface RouteData extends RouteOptions {
  chain: Handler[] | null;
  needC: boolean;
  version: number;
  /** Handler deadline in ms; -1: the server's. */
  timeout: number;
}

/** Contexts waiting on a deadline of one duration: appending keeps them sorted. */
interface DeadlineList {
  ms: number;
  head: RequestContext | null;
  tail: RequestContext | null;
}

/** The long-lived context of the request being handled, while `asyncContext` is on. */
const contextStorage = new AsyncLocalStorage<Context>();

/**
 * The long-lived context (`c`) of the request whose handler is running, from
 * anywhere in its async call tree (loggers, tracers). Needs the server
 * option `asyncContext: true`; undefined outside a request.
 */
export function currentContext(): Context | undefined {
  return contextStorage.getStore();
}

function routeData(o: RouteOptions | undefined): RouteData {
  const t = o?.handlerTimeout;
  if (t !== undefined && (!Number.isInteger(t) || t < 0 || t > 2 ** 31 - 1)) {
    throw new FaradError(ErrorCodes.INVALID_OPTION, `invalid route option handlerTimeout: expected an integer from 0 to ${2 ** 31 - 1}, got ${String(t)}`);
  }
  return { chain: null, needC: false, version: -1, timeout: t ?? -1 };
}

/** An Allow value with HEAD added where GET is allowed: HEAD is served from GET routes. */
function withHead(allow: string): string {
  const methods = allow.split(", ");
  if (!methods.includes("GET") || methods.includes("HEAD")) return allow;
  methods.push("HEAD");
  return methods.sort().join(", ");
}

function runChain(ctx: RequestContext): Promise<void> | void {
  return ctx.next();
}

/** Unsent bytes per connection past which reading pauses and write() says wait. */
const OUT_HIGH_WATER = 1 << 20;
/** An unread request body up to this much is read and dropped to keep the connection; more closes it. */
const DRAIN_CAP = 64 * 1024;

const STATE_NEW = 0;
const STATE_LISTENING = 1;
const STATE_CLOSING = 2;
const STATE_CLOSED = 3;

export class Server extends RouteGroup<Handler, RouteOptions> {
  readonly config: ResolvedOptions;
  readonly #router: Router<Handler, RouteOptions>;
  readonly #match;
  #middleware: Handler[] = [];
  #version = 0;
  #notFound: Handler = (ctx) => ctx.string(404, "Not Found");
  #notFoundChain: Handler[] | null = null;
  #methodNotAllowed: Handler = (ctx) => ctx.string(405, "Method Not Allowed");
  #methodNotAllowedChain: Handler[] | null = null;
  #onError: ((err: unknown, ctx: RequestContext) => void) | null = null;
  #transport: NativeTransport | null = null;
  #writer: ResponseWriter | null = null;
  #state = STATE_NEW;
  #closePromise: Promise<void> | null = null;
  #address: AddressInfo | null = null;
  readonly #host: ContextHost;
  /** Contexts created in the current batch that may still point into its memory. */
  #batchLive: RequestContext[] = [];
  /** Pending (async) contexts, one list per deadline duration (0: none). */
  #deadlines = new Map<number, DeadlineList>();
  #pendingCount = 0;
  #deadlineTimer: NodeJS.Timeout | null = null;
  #deadlineAt = Infinity;
  #onRun: Hook[] = [];
  #onShutdown: Hook[] = [];
  #tracers: Tracer[] = [];
  /** performance.now() when the current batch reached JS (while tracing). */
  #batchTime = 0;
  /** Per connection slot: pending contexts (a chain through _slotNext). */
  #bySlot: (RequestContext | undefined)[] = [];
  /** Per connection slot: the context whose body is streaming in. */
  #bodyTarget: (RequestContext | undefined)[] = [];
  #groupData = new WeakMap<object, RouteData>();
  /** Per connection slot: the streamed response waiting for a drain event. */
  #drainWait: (RequestContext | undefined)[] = [];
  #als = false;
  /** Per connection slot: seq of the last request read (see #end). */
  #lastSeq: number[] = [];
  #injectSeq = 0;
  /**
   * Date.now() when the batch (or inject()) being dispatched reached JS:
   * the deadlines of its requests count from it, so a request's deadline is
   * the same whenever and wherever it is computed. One clock read per batch;
   * a later dispatch never sets an earlier time (barring a clock step), so
   * deadlines stay sorted within a duration's list.
   */
  #dispatchNow = 0;
  /** The diagnostics_channel messages of requests published as started and not yet finished. */
  #diag = new WeakMap<RequestContext, DiagnosticMessage>();
  #diagOpen = 0;

  constructor(options?: ServerOptions) {
    const resolved = resolveOptions(options);
    const router = new Router<Handler, RouteOptions>({
      redirectTrailingSlash: resolved.redirectTrailingSlash,
      redirectFixedPath: resolved.redirectFixedPath,
      handleMethodNotAllowed: resolved.handleMethodNotAllowed,
      removeExtraSlash: resolved.removeExtraSlash,
      unescapePathValues: resolved.unescapePathValues,
    });
    super(router as never, "", []);
    this.config = resolved;
    this.#als = resolved.asyncContext;
    this.#router = router;
    this.#match = router.createMatch();
    const bodyLimit = resolved.bodyLimit;
    this.#host = {
      bodyLimit,
      unescapePathValues: resolved.unescapePathValues,
      // A pending context's deadline was fixed by #pending; one still in its
      // synchronous dispatch gets the same value #pending will compute.
      deadline: (ctx) => ((ctx._state & S_PENDING) !== 0 ? ctx._deadline : this.#deadlineIn(this.#timeoutOf(ctx))),
      peer: (slot, gen) => (slot >= 0 && this.#transport !== null ? this.#transport.handle.peerAddress(slot, gen) : null),
      endNow: (ctx) => this.#end(ctx),
      pauseBody: (ctx, pause) => void this.#transport?.handle.pauseBody(ctx._slot, ctx._gen, ctx._seq, pause),
      giveBack: (slab) => this.#transport?.giveBack(slab),
      sendContinue: (ctx) => void this.#transport?.handle.sendContinue(ctx._slot, ctx._gen, ctx._seq),
      beginStream: (ctx, length) => {
        const mode = this.#modeOf(ctx);
        if (ctx._capture === null && this.#writer !== null) {
          this.#writer.writeHead(ctx._slot, ctx._gen, ctx._seq, ctx._status, ctx._ctype, ctx._headers, mode, length);
        }
        return mode & M_CLOSE ? REC_CLOSE : 0;
      },
      writeChunk: (ctx, bytes, flags, chunked) =>
        this.#transport !== null && ctx._slot >= 0 ? this.#transport.handle.writeChunk(ctx._slot, ctx._gen, ctx._seq, bytes, flags, chunked) : -1,
      sendFile: (ctx, fd, offset, length, flags) =>
        this.#transport !== null && ctx._slot >= 0 && this.#transport.handle.sendFile(ctx._slot, ctx._gen, ctx._seq, fd, offset, length, flags),
      waitDrain: (ctx) => {
        if (ctx._slot >= 0) this.#drainWait[ctx._slot] = ctx;
      },
      writeHighWater: OUT_HIGH_WATER,
    };
  }

  // ---------------------------------------------------------- registration

  /**
   * Adds global middleware: it runs for every request, before route and
   * group middleware, and also for 404 and 405 answers.
   */
  override use(...middleware: Handler[]): this {
    for (const m of middleware) if (typeof m !== "function") throw new TypeError("middleware must be a function");
    this.#middleware.push(...middleware);
    this.#version++;
    this.#notFoundChain = null;
    this.#methodNotAllowedChain = null;
    return this;
  }

  override addRoute(method: string | readonly string[], path: string, handlers: readonly Handler[], options?: RouteOptions): this {
    for (const h of handlers) if (typeof h !== "function") throw new TypeError(`handler for ${path} must be a function`);
    return super.addRoute(method, path, handlers, routeData(options));
  }

  /** Runs `hook` before listening; hooks run in order and a failing one fails listen(). */
  onRun(hook: Hook): this {
    if (typeof hook !== "function") throw new TypeError("onRun hook must be a function");
    this.#onRun.push(hook);
    return this;
  }

  /** Runs `hook` during close(), concurrently with the others, bounded by exitWaitTimeout. */
  onShutdown(hook: Hook): this {
    if (typeof hook !== "function") throw new TypeError("onShutdown hook must be a function");
    this.#onShutdown.push(hook);
    return this;
  }

  /** Installs a tracer (see Tracer). */
  tracer(t: Tracer): this {
    if (t === null || typeof t !== "object" || typeof t.start !== "function" || typeof t.finish !== "function") {
      throw new TypeError("a tracer has start(ctx) and finish(ctx) methods");
    }
    this.#tracers.push(t);
    return this;
  }

  /** The handler for requests no route matches (after global middleware). Default: 404 text. */
  notFound(handler: Handler): this {
    this.#notFound = handler;
    this.#notFoundChain = null;
    return this;
  }

  /**
   * The handler for a path that has routes for other methods only, with
   * `handleMethodNotAllowed` on (after global middleware). Status 405 and
   * `Allow` are already set when it runs. Default: 405 text.
   */
  methodNotAllowed(handler: Handler): this {
    if (typeof handler !== "function") throw new TypeError("the methodNotAllowed handler must be a function");
    this.#methodNotAllowed = handler;
    this.#methodNotAllowedChain = null;
    return this;
  }

  /** Called with errors that handlers throw; it may answer on ctx. Default: log, then 500 (or the HttpError's status). */
  onError(handler: (err: unknown, ctx: RequestContext) => void): this {
    this.#onError = handler;
    return this;
  }

  /** Every registered route, sorted. */
  routes(): RouteInfo[] {
    return this.#router.routes();
  }

  /**
   * Runs a request through the whole pipeline (middleware, router, handlers,
   * errors, rendering) in-process, without a socket. For tests.
   */
  inject(request: InjectRequest): Promise<InjectResponse> {
    const r = synthesize(request, this.#injectSeq++ & 0x7fffffff);
    const ctx = new RequestContext(r.event, 0, r.buf, r.rows, this.#host);
    // Not put back after: deadlines must grow in the order contexts go
    // pending (see #pending), also when inject() runs inside a batch.
    this.#dispatchNow = Date.now();
    return new Promise<InjectResponse>((resolve) => {
      ctx._capture = (c, mode) => resolve(captured(c, mode));
      // Its own match: inject() may run inside another request's handler.
      ctx._handlers = this.#route(ctx, this.#router.createMatch());
      if (this.#tracers.length !== 0) {
        const now = performance.now();
        this.#traceStart(ctx, now, now);
      }
      if (chRequestStart.hasSubscribers) this.#publishStart(ctx);
      this.#run(ctx);
    });
  }

  // ------------------------------------------------------------- lifecycle

  /** Starts listening; resolves to the bound address. */
  async listen(opts: ListenOptions = {}): Promise<AddressInfo> {
    if (this.#state !== STATE_NEW) {
      throw new FaradError(ErrorCodes.SERVER_STATE, "listen() may be called once, on a server that is not closed");
    }
    const o = this.config;
    const port = opts.port ?? o.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new FaradError(ErrorCodes.INVALID_OPTION, `invalid port ${String(port)}`);
    }
    let host = opts.host ?? o.host;
    if (isIP(host) === 0) host = (await lookup(host)).address;
    // Hooks run in order; one that throws fails the start (nothing is bound).
    for (const hook of this.#onRun) await hook();
    if (this.#state !== STATE_NEW) {
      throw new FaradError(ErrorCodes.SERVER_STATE, "the server was closed or started while onRun hooks ran");
    }
    this.#state = STATE_LISTENING;
    const t = new NativeTransport(
      {
        maxRequestLine: o.maxRequestLine,
        maxHeaderBytes: o.maxHeaderBytes,
        maxHeaders: o.maxHeaders,
        maxTrailerBytes: o.maxTrailerBytes,
        maxPipelined: o.maxPipelined,
        maxConnections: o.maxConnections,
        maxBufferedBytes: o.maxBufferedBytes,
        inlineBodyMax: 64 * 1024,
        headersTimeout: o.headersTimeout,
        bodyTimeout: o.bodyTimeout,
        keepAliveTimeout: o.keepAliveTimeout,
        writeTimeout: o.writeTimeout,
        lingerTimeout: o.lingerTimeout,
        outHighWater: OUT_HIGH_WATER,
        inHighWater: Math.max(256 * 1024, o.maxHeaderBytes + 16 * 1024),
        maxBatch: o.maxBatch,
        inputBytes: 1 << 20,
        outputBytes: 1 << 20,
      },
      { onBatch: () => this.#onBatch(), onBatchEnd: () => this.#onBatchEnd() },
    );
    let bound: number;
    try {
      try {
        bound = t.handle.listen(host, port, o.backlog, o.reusePort, o.ipv6Only);
      } catch (e) {
        // No IPv6 on this machine: the default "::" falls back to IPv4.
        if ((e as { code?: string }).code !== "EAFNOSUPPORT" || host !== "::" || opts.host !== undefined) throw e;
        host = "0.0.0.0";
        bound = t.handle.listen(host, port, o.backlog, o.reusePort, o.ipv6Only);
      }
    } catch (e) {
      t.handle.destroy();
      this.#state = STATE_CLOSED;
      throw e;
    }
    this.#transport = t;
    this.#writer = new ResponseWriter(t);
    this.#address = { address: host, family: host.includes(":") ? "IPv6" : "IPv4", port: bound };
    return this.#address;
  }

  /**
   * Hertz's Spin: listens, then shuts down gracefully on SIGINT or SIGTERM
   * (or the given signals). Resolves once the server has closed, whatever
   * closed it.
   */
  async spin(opts: ListenOptions & { signals?: NodeJS.Signals[] } = {}): Promise<void> {
    const signals = opts.signals ?? ["SIGINT", "SIGTERM"];
    await this.listen(opts);
    const onSignal = (): void => void this.close();
    for (const sig of signals) process.on(sig, onSignal);
    try {
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.#closePromise !== null) void this.#closePromise.then(resolve);
          else setTimeout(check, 50).unref();
        };
        check();
      });
    } finally {
      for (const sig of signals) process.off(sig, onSignal);
    }
  }

  /** The bound address, or null before listen(). */
  address(): AddressInfo | null {
    return this.#address;
  }

  /**
   * Graceful shutdown: stop accepting, close idle connections, let in-flight
   * requests finish (their responses carry Connection: close), then close
   * whatever is left after exitWaitTimeout. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.#closePromise = this.#shutdown();
    return this.#closePromise;
  }

  async #shutdown(): Promise<void> {
    const t = this.#transport;
    if (this.#state === STATE_NEW || t === null) {
      this.#state = STATE_CLOSED;
      return;
    }
    this.#state = STATE_CLOSING;
    t.handle.stopAccepting();
    t.handle.closeIdle();
    const deadline = Date.now() + this.config.exitWaitTimeout;
    // onShutdown hooks run concurrently with the draining, bounded by the same deadline.
    let hooksDone = this.#onShutdown.length === 0;
    void Promise.allSettled(this.#onShutdown.map((h) => Promise.resolve().then(h))).then((results) => {
      hooksDone = true;
      for (const r of results) if (r.status === "rejected") this.config.logger.error("farad: onShutdown hook failed", r.reason);
    });
    while ((t.control[C_CONNECTIONS]! > 0 || !hooksDone) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!hooksDone) this.config.logger.error(`farad: onShutdown hooks still running after exitWaitTimeout (${this.config.exitWaitTimeout} ms)`);
    const reason = new FaradError(ErrorCodes.SERVER_CLOSING, "the server is shutting down");
    this.#eachPending((ctx) => ctx._c?._abort(reason));
    t.handle.closeAll();
    t.handle.destroy();
    if (this.#deadlineTimer) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = null;
    this.#deadlineAt = Infinity;
    this.#state = STATE_CLOSED;
  }

  /** Counters from the reactor and the handler pipeline. */
  stats(): ServerStats {
    const c = this.#transport?.control;
    return {
      connections: c ? c[C_CONNECTIONS]! : 0,
      accepted: c ? c[C_ACCEPTED]! >>> 0 : 0,
      requests: c ? c[C_REQUESTS]! >>> 0 : 0,
      parseErrors: c ? c[C_PARSE_ERRORS]! : 0,
      timeouts: c ? c[C_TIMEOUTS]! : 0,
      readPaused: c ? c[C_READ_PAUSED]! : 0,
      bufferedBytes: c ? c[C_BUFFERED_BYTES]! : 0,
      acceptPaused: c ? c[C_ACCEPT_PAUSED] === 1 : false,
      overBudget: c ? c[C_OVER_BUDGET] === 1 : false,
      pendingHandlers: this.#pendingCount,
    };
  }

  // -------------------------------------------------------------- dispatch

  #onBatch(): void {
    const t = this.#transport!;
    const ev = t.events;
    const n = t.control[C_EVENTS]!;
    this.#dispatchNow = Date.now();
    if (this.#tracers.length !== 0) this.#batchTime = performance.now();
    for (let k = 0; k < n; k++) {
      const i = k * EVENT_STRIDE;
      const type = ev[i + E_TYPE];
      if (type === EV_REQUEST) this.#request(t, ev, i);
      else if (type === EV_BODY) this.#body(t, ev, i);
      else if (type === EV_CLOSE) this.#clientGone(ev[i + E_SLOT]!, ev[i + E_GEN]!);
      else if (type === EV_DRAIN) this.#drained(ev[i + E_SLOT]!, ev[i + E_GEN]!);
    }
    if (this.#batchLive.length > 0) t.control[C_DETACH] = 1;
  }

  #onBatchEnd(): void {
    const live = this.#batchLive;
    for (let i = 0; i < live.length; i++) {
      const ctx = live[i]!;
      if ((ctx._state & S_RELEASED) === 0) ctx._detach();
    }
    live.length = 0;
  }

  #request(t: NativeTransport, ev: Int32Array, i: number): void {
    const ctx = new RequestContext(ev, i, t.input, t.headers, this.#host);
    this.#lastSeq[ctx._slot] = ctx._seq;
    if ((ctx._flags & (F_HAS_BODY | F_BODY_END)) === F_HAS_BODY) this.#bodyTarget[ctx._slot] = ctx;
    ctx._handlers = this.#route(ctx);
    if (this.#tracers.length !== 0) this.#traceStart(ctx, this.#batchTime - ev[i + E_READ_US]! / 1000, this.#batchTime);
    if (chRequestStart.hasSubscribers) this.#publishStart(ctx);
    this.#run(ctx);
  }

  #traceStart(ctx: RequestContext, readStart: number, parsed: number): void {
    ctx._times = {
      readStart,
      headersParsed: parsed,
      bodyRead: ctx._bodyDone ? parsed : NaN,
      handlerStart: NaN,
      handlerEnd: NaN,
      writeDone: NaN,
    };
    for (const t of this.#tracers) {
      try {
        t.start(ctx);
      } catch (e) {
        this.config.logger.error("farad: tracer start() failed", e);
      }
    }
  }

  /** Publishes node:http's request start with node-like stand-ins (see diagnostics.ts). */
  #publishStart(ctx: RequestContext): void {
    const msg = this.#diagnosticMessage(ctx);
    this.#diag.set(ctx, msg);
    this.#diagOpen++;
    chRequestStart.publish(msg);
  }

  #diagnosticMessage(ctx: RequestContext): DiagnosticMessage {
    return diagnosticMessage(ctx, this, ctx._slot >= 0 ? this.#address?.port : undefined);
  }

  /** True if someone watches ctx finish: a tracer, or a diagnostics_channel subscriber. */
  #watched(ctx: RequestContext): boolean {
    return ctx._times !== null || this.#diagOpen !== 0 || chResponseFinish.hasSubscribers;
  }

  /** The response is out (or dropped): tell tracers and diagnostics subscribers. */
  #traceFinish(ctx: RequestContext): void {
    for (const t of this.#tracers) {
      try {
        t.finish(ctx);
      } catch (e) {
        this.config.logger.error("farad: tracer finish() failed", e);
      }
    }
    let msg = this.#diagOpen !== 0 ? this.#diag.get(ctx) : undefined;
    if (msg !== undefined) {
      this.#diag.delete(ctx);
      this.#diagOpen--;
    } else if (chResponseFinish.hasSubscribers) {
      msg = this.#diagnosticMessage(ctx);
    }
    if (msg === undefined) return;
    for (const e of finishDiagnostics(msg)) this.config.logger.error("farad: a diagnostics_channel listener failed", e);
  }

  /** The handler chain for a request; makes ctx._c when a handler may use it (needsContext). */
  #route(ctx: RequestContext, match = this.#match): Handler[] {
    const chain = this.#lookup(ctx, match);
    if (ctx._c === undefined && ctx._route === null && needsContext(chain)) ctx._c = new Context(this.#deadlineIn(this.config.handlerTimeout));
    return chain;
  }

  #lookup(ctx: RequestContext, m: RouteMatch<Handler, RouteOptions>): Handler[] {
    if (ctx._targetForm === FORM_ASTERISK) {
      return this.#withMiddleware(ctx._methodCode === METHOD_OPTIONS ? this.#optionsAsterisk : this.#notFound);
    }
    const start = ctx._pathStart();
    const end = ctx._pathEnd();
    let route = this.#router.find(ctx._methodCode, ctx._methodCode === 0 ? ctx._method() : undefined, ctx._buf, start, end, m, ctx._targetEnd());
    // HEAD is GET without the body (RFC 9110 §9.3.2): without a HEAD route, use the GET one.
    if (route === null && ctx._methodCode === METHOD_HEAD && m.kind !== MatchKind.REDIRECT) {
      route = this.#router.find(METHOD_GET, undefined, ctx._buf, start, end, m, ctx._targetEnd());
    }
    if (route !== null) {
      ctx._route = route;
      // No copy: read from the match while the chain runs synchronously.
      if (m.count > 0) ctx._match = m;
      let data = route.options as RouteData | undefined;
      if (data === undefined || data.version === undefined) {
        // Routes registered through groups carry the caller's options (or
        // none), not our RouteData.
        data = this.#groupData.get(route);
        if (data === undefined) this.#groupData.set(route, (data = routeData(route.options)));
      }
      if (data.version !== this.#version) {
        data.chain = this.#middleware.length ? [...this.#middleware, ...route.handlers] : (route.handlers as Handler[]);
        data.needC = needsContext(data.chain);
        data.version = this.#version;
      }
      if (data.needC) ctx._c = new Context(this.#deadlineIn(data.timeout >= 0 ? data.timeout : this.config.handlerTimeout));
      return data.chain!;
    }
    if (m.kind === MatchKind.REDIRECT) {
      const status = m.status;
      const location = m.location;
      return this.#withMiddleware((c) => {
        c.setHeader("Location", location);
        c.string(status, `Redirecting to ${location}`);
      });
    }
    if (m.kind === MatchKind.METHOD_NOT_ALLOWED) {
      // Set before the chain runs, so middleware and the handler see (and may change) them.
      ctx.setHeader("Allow", withHead(m.allow));
      ctx._status = 405;
      if (this.#methodNotAllowedChain === null) this.#methodNotAllowedChain = this.#withMiddleware(this.#methodNotAllowed);
      return this.#methodNotAllowedChain;
    }
    if (this.#notFoundChain === null) this.#notFoundChain = this.#withMiddleware(this.#notFound);
    return this.#notFoundChain;
  }

  readonly #optionsAsterisk: Handler = (ctx) => {
    // RFC 9110 §9.3.7: OPTIONS * asks about the server as a whole.
    const methods = new Set<string>(["OPTIONS"]);
    for (const r of this.#router.routes()) methods.add(r.method);
    if (methods.has("GET")) methods.add("HEAD");
    ctx.setHeader("Allow", [...methods].sort().join(", "));
    ctx.status(204);
  };

  #withMiddleware(h: Handler): Handler[] {
    return this.#middleware.length ? [...this.#middleware, h] : [h];
  }

  #run(ctx: RequestContext): void {
    let r: Promise<void> | void;
    if (ctx._times !== null) ctx._times.handlerStart = performance.now();
    try {
      r = this.#als ? contextStorage.run(ctx.context, runChain, ctx) : ctx.next();
    } catch (e) {
      this.#fail(ctx, e);
      this.#settle(ctx);
      return;
    }
    if (r === undefined) {
      this.#settle(ctx);
      return;
    }
    this.#pending(ctx);
    void this.#settleAfter(ctx, r);
  }

  /**
   * Settles ctx once its chain's promise has. A method rather than a pair of
   * arrow functions given to then(): running a chain allocates no closure
   * per request (docs/context.md, "The chain").
   */
  async #settleAfter(ctx: RequestContext, chain: PromiseLike<void>): Promise<void> {
    try {
      await chain;
    } catch (e) {
      this.#fail(ctx, e);
    }
    this.#settle(ctx);
  }

  /** The chain has finished: write the response if the handlers did not, then release. */
  #settle(ctx: RequestContext): void {
    if (ctx._state & S_RELEASED) return;
    if (ctx._times !== null) ctx._times.handlerEnd = performance.now();
    if ((ctx._state & S_ENDED) === 0) this.#end(ctx);
    // An in-process request whose response was streamed: hand over what was collected.
    else if (ctx._capture !== null && ctx._out !== OUT_NONE) ctx._capture(ctx, this.#modeOf(ctx));
    if (this.#watched(ctx)) this.#traceFinish(ctx);
    this.#release(ctx);
  }

  /** How the response to ctx is framed and whether the connection survives it. */
  #modeOf(ctx: RequestContext): number {
    let mode = 0;
    // While draining, only the last request read on a connection closes it:
    // a client discards whatever follows a "close" (RFC 9112 §9.6).
    if ((ctx._flags & F_KEEP_ALIVE) === 0 || ctx._state & S_CLOSE) mode |= M_CLOSE;
    else if (this.#state === STATE_CLOSING && ctx._slot >= 0 && this.#lastSeq[ctx._slot] === ctx._seq) mode |= M_CLOSE;
    else if (ctx._versionMinor === 0) mode |= M_KEEP_ALIVE;
    if (ctx._methodCode === METHOD_HEAD) mode |= M_HEAD;
    if (!ctx._bodyDone && (ctx._flags & F_HAS_BODY) !== 0) {
      // A body nobody read: a small remainder is read and dropped to keep
      // the connection; a large or unknown one closes it. So does a client
      // still waiting for 100 Continue: it may never send the body.
      const rest = ctx._contentLength - ctx._received;
      const waiting = (ctx._flags & F_EXPECT_CONTINUE) !== 0 && !ctx._continued;
      if ((ctx._flags & F_CHUNKED) !== 0 || rest > DRAIN_CAP || waiting || ctx._bodyError !== null) mode |= M_CLOSE;
      else if (ctx._bodyPaused && ctx._slot >= 0) {
        ctx._bodyPaused = false;
        this.#transport?.handle.pauseBody(ctx._slot, ctx._gen, ctx._seq, false);
      }
    }
    return mode;
  }

  #end(ctx: RequestContext): void {
    if (ctx._out !== OUT_NONE) {
      endStream(ctx);
      return;
    }
    ctx._state |= S_ENDED;
    // Written even when the client has shut down its side: it may still read
    // (a half-close), and the reactor closes once the responses are out.
    const mode = this.#modeOf(ctx);
    if (ctx._capture !== null) {
      ctx._capture(ctx, mode);
      return;
    }
    try {
      this.#writer!.write(ctx._slot, ctx._gen, ctx._seq, ctx._status, ctx._ctype, ctx._headers, ctx._body, mode);
    } catch (e) {
      this.config.logger.error("farad: could not write a response", e);
    }
    if (ctx._times !== null) ctx._times.writeDone = performance.now();
  }

  #fail(ctx: RequestContext, err: unknown): void {
    if (ctx._state & (S_ENDED | S_RELEASED)) {
      this.config.logger.error("farad: handler failed after its response was sent", err);
      return;
    }
    if (this.#onError !== null) {
      try {
        this.#onError(err, ctx);
        return;
      } catch (e) {
        err = e;
      }
    }
    // Reset what the handler may have set: an error response stands alone.
    ctx._headers = null;
    ctx._ctype = null;
    if (err instanceof HttpError) {
      if (err.status >= 500) this.config.logger.error(`farad: ${ctx._method()} ${ctx._target()} failed`, err);
      if (err.expose && err.body !== undefined) ctx.json(err.status, err.body);
      else ctx.string(err.status, err.expose && err.message ? err.message : (STATUS_TEXT[err.status] ?? "Error"));
      if (err.status === 413) ctx._state |= S_CLOSE;
      return;
    }
    this.config.logger.error(`farad: ${ctx._method()} ${ctx._target()} failed`, err);
    ctx.string(500, "Internal Server Error");
  }

  #release(ctx: RequestContext): void {
    ctx._state |= S_RELEASED;
    ctx._match = null;
    releaseBody(ctx);
    const slot = ctx._slot;
    if (slot >= 0 && this.#bodyTarget[slot] === ctx) this.#bodyTarget[slot] = undefined;
    if (slot >= 0 && this.#drainWait[slot] === ctx) this.#drainWait[slot] = undefined;
    if (ctx._state & S_PENDING) this.#unpend(ctx);
  }

  // ----------------------------------------------------- pending contexts

  /** The deadline of a request being dispatched, with a handler timeout of `ms` (0: none). */
  #deadlineIn(ms: number): number {
    return ms > 0 ? this.#dispatchNow + ms : Infinity;
  }

  /** The handler deadline of ctx's route in ms (0: none). */
  #timeoutOf(ctx: RequestContext): number {
    const route = ctx._route;
    if (route !== null) {
      const o = route.options as RouteData | undefined;
      const data = o !== undefined && o.version !== undefined ? o : this.#groupData.get(route);
      if (data !== undefined && data.timeout >= 0) return data.timeout;
    }
    return this.config.handlerTimeout;
  }

  #pending(ctx: RequestContext): void {
    ctx._state |= S_PENDING;
    // It will outlive the next lookup, which reuses the match.
    ctx._ownParams();
    if (ctx._capture === null) this.#batchLive.push(ctx);
    const ms = this.#timeoutOf(ctx);
    let list = this.#deadlines.get(ms);
    if (list === undefined) this.#deadlines.set(ms, (list = { ms, head: null, tail: null }));
    // Computed once: c, if made already, has it.
    ctx._deadline = ctx._c !== undefined ? ctx._c.deadline : this.#deadlineIn(ms);
    // Every entry of a list has the same duration: appending keeps it sorted.
    ctx._prev = list.tail;
    if (list.tail) list.tail._next = ctx;
    else list.head = ctx;
    list.tail = ctx;
    this.#pendingCount++;
    const slot = ctx._slot;
    if (slot >= 0) {
      ctx._slotNext = this.#bySlot[slot] ?? null;
      this.#bySlot[slot] = ctx;
    }
    if (ctx._deadline < this.#deadlineAt) this.#armDeadline();
  }

  #unpend(ctx: RequestContext): void {
    ctx._state &= ~S_PENDING;
    const list = this.#deadlines.get(this.#timeoutOf(ctx))!;
    if (ctx._prev) ctx._prev._next = ctx._next;
    else list.head = ctx._next;
    if (ctx._next) ctx._next._prev = ctx._prev;
    else list.tail = ctx._prev;
    ctx._prev = ctx._next = null;
    this.#pendingCount--;
    const slot = ctx._slot;
    if (slot < 0) return;
    let p = this.#bySlot[slot];
    if (p === ctx) this.#bySlot[slot] = ctx._slotNext ?? undefined;
    else {
      while (p && p._slotNext !== ctx) p = p._slotNext ?? undefined;
      if (p) p._slotNext = ctx._slotNext;
    }
    ctx._slotNext = null;
  }

  /** One timer for the earliest deadline over all lists. */
  #armDeadline(): void {
    let at = Infinity;
    for (const list of this.#deadlines.values()) if (list.head !== null && list.head._deadline < at) at = list.head._deadline;
    if (at === this.#deadlineAt) return;
    if (this.#deadlineTimer !== null) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = null;
    this.#deadlineAt = at;
    // unref: a deadline alone must not keep the process alive (the
    // listening socket does that; inject() has none).
    if (at !== Infinity) this.#deadlineTimer = setTimeout(() => this.#expire(), Math.max(0, at - Date.now())).unref();
  }

  #expire(): void {
    this.#deadlineTimer = null;
    this.#deadlineAt = Infinity;
    const now = Date.now();
    for (const list of this.#deadlines.values()) {
      while (list.head !== null && list.head._deadline <= now) {
        const ctx = list.head;
        const err = new FaradError(ErrorCodes.HANDLER_TIMEOUT, `handler did not finish within ${list.ms} ms`);
        ctx._c?._abort(err);
        if ((ctx._state & S_ENDED) === 0) {
          // No Connection: close here: later pipelined requests may have been
          // answered already, and the late handler's own response is dropped
          // by the reactor (its sequence number has been answered).
          ctx._headers = null;
          ctx._ctype = null;
          ctx.string(503, "Service Unavailable: the handler timed out");
          this.#end(ctx);
        }
        if (this.#watched(ctx)) this.#traceFinish(ctx);
        this.#release(ctx);
      }
    }
    this.#armDeadline();
  }

  /** Every pending context (for shutdown). */
  #eachPending(fn: (ctx: RequestContext) => void): void {
    for (const list of this.#deadlines.values()) {
      for (let ctx = list.head; ctx !== null; ) {
        const next = ctx._next;
        fn(ctx);
        ctx = next;
      }
    }
  }

  // ------------------------------------------------------ body and close

  #body(t: NativeTransport, ev: Int32Array, i: number): void {
    const slot = ev[i + E_SLOT]!;
    const ctx = this.#bodyTarget[slot];
    if (ctx === undefined) return;
    if (ctx._gen !== ev[i + E_GEN] || ctx._seq !== ev[i + E_SEQ]) return;
    const flags = ev[i + E_FLAGS]!;
    const off = ev[i + E_BODY_OFF]!;
    const slab = t.slab;
    ctx._onBody(slab.bytes.subarray(off, off + ev[i + E_BODY_LEN]!), slab, (flags & F_BODY_END) !== 0, (flags & F_BODY_ERROR) !== 0);
    if (flags & F_BODY_END) {
      this.#bodyTarget[slot] = undefined;
      if (ctx._times !== null) ctx._times.bodyRead = performance.now();
    }
  }

  #drained(slot: number, gen: number): void {
    const ctx = this.#drainWait[slot];
    if (ctx === undefined || ctx._gen !== gen) return;
    this.#drainWait[slot] = undefined;
    settleDrain(ctx, false);
  }

  #clientGone(slot: number, gen: number): void {
    const waiting = this.#drainWait[slot];
    if (waiting !== undefined && waiting._gen === gen) {
      this.#drainWait[slot] = undefined;
      settleDrain(waiting, true);
    }
    const err = new FaradError(ErrorCodes.CLIENT_GONE, "the client closed the connection");
    const body = this.#bodyTarget[slot];
    if (body !== undefined && body._gen === gen) {
      body._fail(new FaradError(ErrorCodes.BODY_ABORTED, "the client closed the connection before sending the whole body"));
      this.#bodyTarget[slot] = undefined;
    }
    for (let ctx = this.#bySlot[slot]; ctx; ctx = ctx._slotNext ?? undefined) {
      if (ctx._gen !== gen) continue;
      (ctx._c ??= new Context(ctx._deadline))._abort(err);
    }
  }
}
