/**
 * The HTTP client: pools per origin on one native reactor, requests through
 * a middleware chain, retries by policy, timeouts checked by one coarse
 * tick, and a leak detector for responses nobody released.
 *
 * docs/client.md is the user's guide; the comments here say why.
 */
import type { Balancer, Endpoint } from "./balance.js";
import { ClientError, ClientErrorCodes } from "./errors.js";
import { Exchange, type ExchangeHost } from "./exchange.js";
import { Transport } from "./connection.js";
import { Pool, type PoolOptions } from "./pool.js";
import {
  IDEMPOTENT,
  checkBody,
  encodeHead,
  methodCode,
  parseTarget,
  replayable,
  type EncodedHead,
  type HeaderInput,
  type Target,
  type RequestOptions,
  type RetryOptions,
} from "./request.js";
import { ClientResponse } from "./response.js";
import { isToken } from "../protocol/http1/encode.js";

export interface ClientOptions {
  /** Base for relative request URLs, e.g. "http://127.0.0.1:8080/api/". */
  baseUrl?: string | URL;
  /**
   * Picks the upstream for requests whose URL is a path ("/users/7"): each
   * attempt (retries too) goes to balancer.pick(), and its outcome feeds the
   * balancer (docs/client-balancing.md). Exclusive with baseUrl.
   */
  balancer?: Balancer;
  /** Statuses counted as endpoint failures for the balancer (default 502, 503, 504). */
  failureStatuses?: readonly number[];
  /** Connections per origin (default 256). */
  maxConnectionsPerHost?: number;
  /** Requests waiting for a connection per origin before FARAD_ERR_POOL_QUEUE_FULL (default 10,000). */
  maxQueue?: number;
  /** ms a request may wait for a connection (default 10,000; 0 = no limit). */
  queueTimeout?: number;
  /** ms an idle connection is kept (default 10,000, as Hertz). */
  maxIdleTime?: number;
  /** Requests in flight per connection (default 1: no pipelining). */
  pipelining?: number;
  /** ms to establish a connection (default 1,000, as Hertz; 0 = no limit). */
  connectTimeout?: number;
  /** ms from sending a request to its response head (default 30,000; 0 = none). */
  headersTimeout?: number;
  /** ms without response body bytes while the body is being read (default 30,000; 0 = none). */
  bodyTimeout?: number;
  /** ms for a whole attempt, queue to last body byte (default 0 = none). */
  timeout?: number;
  /** Response bytes buffered ahead of the reader before reading pauses (default 256 KiB). */
  highWaterMark?: number;
  /** Bytes text(), json(), bytes() and the helpers collect before failing with FARAD_ERR_RESPONSE_TOO_LARGE (default 64 MiB). */
  maxBodySize?: number;
  /** Unread response bytes release() reads and drops to keep the connection (default 256 KiB). */
  maxDrainBytes?: number;
  /** ms to wait for 100 Continue before sending the body anyway (default 1,000). */
  expectContinueTimeout?: number;
  /** Response head limits (defaults 16 KiB and 100 fields). */
  maxHeaderBytes?: number;
  maxHeaders?: number;
  /** Bytes of a chunked response's trailer section (default 16 KiB). */
  maxTrailerBytes?: number;
  /** Retry policy for every request (default: one attempt, no retries). */
  retry?: RetryOptions;
  /** Headers sent with every request (a request's own headers come after). */
  headers?: HeaderInput;
  /**
   * Reporting responses dropped without release(), close() or a full read:
   * "stack" (default) records where each was made, "count" only counts,
   * false turns the detector off.
   */
  leakDetection?: "stack" | "count" | false;
  /** Called once per leaked response (default: process.emitWarning). */
  onLeak?: (err: ClientError) => void;
}

/** A request as middleware sees it (mutable). */
export interface ClientRequest extends RequestOptions {
  method: string;
}

export type ClientMiddleware = (req: ClientRequest, next: (req: ClientRequest) => Promise<ClientResponse>) => Promise<ClientResponse>;

/** What the helpers (get, post, ...) resolve to: the response with its whole body. */
export interface FullResponse {
  status: number;
  statusText: string;
  ok: boolean;
  headers: Record<string, string | string[]>;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

export interface ClientStats {
  /** Connections open or connecting, over all origins. */
  connections: number;
  idle: number;
  /** Requests not yet finished (waiting, sending, or reading a response). */
  inflight: number;
  queued: number;
  /** Responses reported by the leak detector. */
  leakedResponses: number;
}

const DEFAULT_RETRY: Required<RetryOptions> = {
  attempts: 1,
  baseDelay: 100,
  maxDelay: 2000,
  statuses: [429, 502, 503, 504],
  errors: [ClientErrorCodes.CONNECT, ClientErrorCodes.CONNECT_TIMEOUT, ClientErrorCodes.SOCKET_CLOSED],
  nonIdempotent: false,
};

const CLIENT_OPTIONS = new Set([
  "baseUrl", "balancer", "failureStatuses", "maxConnectionsPerHost", "maxQueue", "queueTimeout", "maxIdleTime",
  "pipelining", "connectTimeout", "headersTimeout", "bodyTimeout", "timeout", "highWaterMark", "maxDrainBytes",
  "expectContinueTimeout", "maxBodySize", "maxHeaderBytes", "maxHeaders", "maxTrailerBytes", "retry", "headers", "leakDetection", "onLeak",
]);


function invalidOption(message: string): ClientError {
  return new ClientError("FARAD_ERR_INVALID_OPTION", message);
}

function count(options: ClientOptions, key: keyof ClientOptions, dflt: number, min: number): number {
  const v = options[key];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw invalidOption(`client option ${key} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

export class Client implements ExchangeHost {
  readonly highWaterMark: number;
  readonly maxDrainBytes: number;
  readonly expectContinueTimeout: number;
  readonly #base: URL | undefined;
  readonly #balancer: Balancer | undefined;
  readonly #failureStatuses: ReadonlySet<number>;
  readonly #pool: PoolOptions;
  readonly #headersTimeout: number;
  readonly #bodyTimeout: number;
  readonly #timeout: number;
  readonly #retry: Required<RetryOptions>;
  readonly #headers: [string, string][];
  readonly #leak: "stack" | "count" | false;
  readonly #onLeak: (err: ClientError) => void;
  readonly #maxHeaderBytes: number;
  readonly #maxHeaders: number;
  readonly #maxTrailerBytes: number;
  readonly #maxBodySize: number;
  #transport: Transport | undefined;
  readonly #pools = new Map<string, Pool>();
  readonly #targets = new Map<string, { target: Target; heads: Map<string, EncodedHead> }>();
  readonly #active = new Set<Exchange>();
  #middleware: ClientMiddleware[] = [];
  #chain: (req: ClientRequest, watched: boolean, site: Site | undefined) => Promise<ClientResponse>;
  #tick: NodeJS.Timeout | undefined;
  #tickMs: number;
  #closed = false;
  #leaked = 0;
  readonly #registry: FinalizationRegistry<Exchange>;

  constructor(options: ClientOptions = {}) {
    if (options === null || typeof options !== "object") throw invalidOption("client options must be an object");
    for (const key of Object.keys(options)) {
      if (!CLIENT_OPTIONS.has(key)) throw invalidOption(`unknown client option ${JSON.stringify(key)}`);
    }
    try {
      this.#base = options.baseUrl === undefined ? undefined : new URL(String(options.baseUrl));
    } catch {
      throw invalidOption(`baseUrl is not a valid URL: ${String(options.baseUrl)}`);
    }
    if (options.balancer !== undefined) {
      const b = options.balancer as Partial<Balancer> | null;
      if (b === null || typeof b !== "object" || typeof b.pick !== "function" || typeof b.end !== "function") throw invalidOption("balancer must be a Balancer (roundRobin(), leastInFlight(), ...)");
      if (this.#base !== undefined) throw invalidOption("baseUrl and balancer are exclusive: a balancer picks the origin");
    }
    this.#balancer = options.balancer;
    this.#failureStatuses = new Set(options.failureStatuses ?? [502, 503, 504]);
    this.#pool = {
      maxConnections: count(options, "maxConnectionsPerHost", 256, 1),
      maxQueue: count(options, "maxQueue", 10_000, 0),
      queueTimeout: count(options, "queueTimeout", 10_000, 0),
      maxIdleTime: count(options, "maxIdleTime", 10_000, 1),
      pipelining: count(options, "pipelining", 1, 1),
      connectTimeout: count(options, "connectTimeout", 1000, 0),
    };
    this.#headersTimeout = count(options, "headersTimeout", 30_000, 0);
    this.#bodyTimeout = count(options, "bodyTimeout", 30_000, 0);
    this.#timeout = count(options, "timeout", 0, 0);
    this.highWaterMark = count(options, "highWaterMark", 256 * 1024, 1);
    this.maxDrainBytes = count(options, "maxDrainBytes", 256 * 1024, 0);
    this.expectContinueTimeout = count(options, "expectContinueTimeout", 1000, 0);
    this.#maxHeaderBytes = count(options, "maxHeaderBytes", 16384, 1);
    this.#maxHeaders = count(options, "maxHeaders", 100, 1);
    this.#maxTrailerBytes = count(options, "maxTrailerBytes", 16384, 0);
    this.#maxBodySize = count(options, "maxBodySize", 64 * 1024 * 1024, 0);
    this.#retry = mergeRetry(DEFAULT_RETRY, options.retry);
    this.#headers = [];
    if (options.headers !== undefined) {
      // Validated once here, by encoding them against a dummy target.
      encodeHead("GET", { origin: "", hostname: "", port: 0, hostHeader: "x", path: "/" }, options.headers);
      const pairs = Symbol.iterator in options.headers ? [...(options.headers as Iterable<readonly [string, string]>)] : Object.entries(options.headers);
      for (const [k, v] of pairs) {
        if (v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) this.#headers.push([k, String(one)]);
      }
    }
    const leak = options.leakDetection ?? "stack";
    if (leak !== "stack" && leak !== "count" && leak !== false) throw invalidOption(`leakDetection must be "stack", "count" or false`);
    this.#leak = leak;
    this.#onLeak = options.onLeak ?? ((err) => process.emitWarning(err.message, { code: err.code, detail: err.stack }));
    this.#tickMs = tickFor([this.#pool.connectTimeout, this.#headersTimeout, this.#bodyTimeout, this.#timeout, this.#pool.queueTimeout]);
    this.#chain = (req, watched, site) => this.#dispatch(req, watched, site);
    this.#registry = new FinalizationRegistry((ex) => this.#leakedResponse(ex));
  }

  /** Adds client middleware: `async (req, next) => { ...; const res = await next(req); ...; return res; }`. */
  use(mw: ClientMiddleware): this {
    if (typeof mw !== "function") throw invalidOption("client.use() takes a function (req, next) => Promise<ClientResponse>");
    this.#middleware.push(mw);
    const list = this.#middleware.slice();
    const run = (i: number, req: ClientRequest, watched: boolean, site: Site | undefined): Promise<ClientResponse> =>
      i === list.length ? this.#dispatch(req, watched, site) : list[i]!(req, (r) => run(i + 1, r, watched, site));
    this.#chain = (req, watched, site) => run(0, req, watched, site);
    return this;
  }

  /**
   * Sends a request; resolves when the response head arrives. The caller
   * then reads the body (body, text(), json(), bytes()) or calls release()
   * or close(): until then the response holds its connection.
   */
  request(options: RequestOptions): Promise<ClientResponse> {
    if (this.#closed) return Promise.reject(new ClientError(ClientErrorCodes.CLIENT_CLOSED, "the client was closed"));
    if (options === null || typeof options !== "object") return Promise.reject(new ClientError(ClientErrorCodes.INVALID_REQUEST, "request() takes an options object"));
    return this.#request(options as ClientRequest, true);
  }

  // `watched`: the response is the caller's to release (the helpers release
  // their own). The caller's options are not touched unless middleware is
  // installed, which is documented to see `method` filled in.
  #request(req: ClientRequest, watched: boolean): Promise<ClientResponse> {
    // Where the caller asked, for the leak report: captured here, the
    // caller's frame is two up, so a short trace (cheap) reaches it.
    const site = watched && this.#leak === "stack" ? captureSite() : undefined;
    if (this.#middleware.length === 0) return this.#dispatch(req, watched && this.#leak !== false, site);
    if (req.method === undefined) req.method = "GET";
    return this.#chain(req, watched && this.#leak !== false, site);
  }

  get(url: string | URL, options?: Omit<RequestOptions, "url" | "method" | "body">): Promise<FullResponse> {
    return this.#whole({ ...options, url, method: "GET" });
  }
  head(url: string | URL, options?: Omit<RequestOptions, "url" | "method" | "body">): Promise<FullResponse> {
    return this.#whole({ ...options, url, method: "HEAD" });
  }
  delete(url: string | URL, options?: Omit<RequestOptions, "url" | "method">): Promise<FullResponse> {
    return this.#whole({ ...options, url, method: "DELETE" });
  }
  post(url: string | URL, body?: RequestOptions["body"], options?: Omit<RequestOptions, "url" | "method" | "body">): Promise<FullResponse> {
    return this.#whole({ ...options, url, method: "POST", body });
  }
  put(url: string | URL, body?: RequestOptions["body"], options?: Omit<RequestOptions, "url" | "method" | "body">): Promise<FullResponse> {
    return this.#whole({ ...options, url, method: "PUT", body });
  }
  patch(url: string | URL, body?: RequestOptions["body"], options?: Omit<RequestOptions, "url" | "method" | "body">): Promise<FullResponse> {
    return this.#whole({ ...options, url, method: "PATCH", body });
  }

  async #whole(req: ClientRequest): Promise<FullResponse> {
    if (this.#closed) throw new ClientError(ClientErrorCodes.CLIENT_CLOSED, "the client was closed");
    const res = await this.#request(req, false);
    let body: Buffer;
    try {
      body = await res.bytes();
    } finally {
      res.release();
    }
    return {
      status: res.status,
      statusText: res.statusText,
      ok: res.ok,
      headers: res.headers,
      body,
      text: () => body.toString("utf8"),
      json: <T>() => JSON.parse(body.toString("utf8")) as T,
    };
  }

  stats(): ClientStats {
    let connections = 0;
    let idle = 0;
    let queued = 0;
    for (const p of this.#pools.values()) {
      connections += p.conns.size;
      idle += p.idle.length;
      queued += p.waiting.length;
    }
    return { connections, idle, inflight: this.#active.size, queued, leakedResponses: this.#leaked };
  }

  /** Fails what is in flight with FARAD_ERR_CLIENT_CLOSED and closes every connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new ClientError(ClientErrorCodes.CLIENT_CLOSED, "the client was closed");
    for (const p of this.#pools.values()) p.closeAll(err);
    for (const ex of [...this.#active]) ex.abort(err);
    this.#pools.clear();
    if (this.#tick !== undefined) clearInterval(this.#tick);
    this.#tick = undefined;
    this.#transport?.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  // --- dispatch ---

  // Everything about a request decided once, before its first attempt.
  #plan(req: ClientRequest, watched: boolean, site: Site | undefined): Plan {
    if (this.#closed) throw new ClientError(ClientErrorCodes.CLIENT_CLOSED, "the client was closed");
    const method = req.method ?? "GET";
    if (typeof method !== "string" || !isToken(method)) throw new ClientError(ClientErrorCodes.INVALID_REQUEST, `method ${JSON.stringify(method)} is not a token`);
    if (method === "CONNECT") throw new ClientError(ClientErrorCodes.INVALID_REQUEST, "CONNECT is not supported by request()");
    checkBody(req.body);
    let target: Target;
    let head: EncodedHead;
    const headers = this.#headers.length === 0 ? req.headers : mergeHeaders(this.#headers, req.headers);
    const balanced = this.#balancer !== undefined && typeof req.url === "string" && req.url.startsWith("/");
    if (balanced) {
      // The origin is picked per attempt below; the head is encoded then.
      target = parseTarget(req.url, new URL("http://balanced.invalid"));
      head = encodeHead(method, target, headers);
    } else if (typeof req.url === "string") {
      // Most programs call a handful of URLs over and over: parse each once,
      // and encode its head once when no per-request headers change it.
      let entry = this.#targets.get(req.url);
      if (entry === undefined) {
        if (this.#targets.size >= 1024) this.#targets.clear();
        entry = { target: parseTarget(req.url, this.#base), heads: new Map() };
        this.#targets.set(req.url, entry);
      }
      target = entry.target;
      if (req.headers === undefined) {
        let h = entry.heads.get(method);
        if (h === undefined) {
          h = encodeHead(method, target, headers);
          entry.heads.set(method, h);
        }
        head = h;
      } else {
        head = encodeHead(method, target, headers);
      }
    } else {
      target = parseTarget(req.url, this.#base);
      head = encodeHead(method, target, headers);
    }
    const policy = req.retry === false ? DEFAULT_RETRY : req.retry === undefined ? this.#retry : mergeRetry(this.#retry, req.retry);
    const attempts = req.retry === false ? 1 : policy.attempts;
    // Only a body that can be sent twice is ever retried; a non-idempotent
    // method only when the caller says it is safe.
    const canRetry = replayable(req.body) && (req.idempotent === true || IDEMPOTENT.has(method));
    const retryAny = canRetry || (replayable(req.body) && policy.nonIdempotent);
    const plan = new Plan(req, method, target, head, headers, balanced, policy, attempts, canRetry, retryAny, watched, site);
    plan.connectTimeout = optMs(req.connectTimeout, this.#pool.connectTimeout, "connectTimeout");
    plan.headersTimeout = optMs(req.headersTimeout, this.#headersTimeout, "headersTimeout");
    plan.bodyTimeout = optMs(req.bodyTimeout, this.#bodyTimeout, "bodyTimeout");
    plan.totalTimeout = optMs(req.timeout, this.#timeout, "timeout");
    plan.maxBody = req.maxBodySize === undefined ? this.#maxBodySize : optMs(req.maxBodySize, 0, "maxBodySize");
    // The tick runs at the client's resolution unless this request asks
    // for shorter timeouts (the common case costs no comparison).
    plan.ownTimeouts = req.connectTimeout !== undefined || req.headersTimeout !== undefined || req.bodyTimeout !== undefined || req.timeout !== undefined;
    if (!balanced) plan.pool = this.#poolFor(target.origin, target.hostname, target.port);
    return plan;
  }

  #dispatch(req: ClientRequest, watched: boolean, site: Site | undefined): Promise<ClientResponse> {
    let plan: Plan;
    try {
      plan = this.#plan(req, watched, site);
    } catch (e) {
      return Promise.reject(e);
    }
    if (plan.balanced || plan.attempts > 1) return this.#attempts(plan);
    // The common case, one attempt, without an async frame per request: the
    // exchange itself resends on a fresh connection when a pooled one was
    // stale.
    const ex = this.#exchange(plan, plan.target, plan.head, plan.pool, null);
    ex.resendIfStale = plan.canRetry;
    return ex.start(false);
  }

  // A pooled connection the server had closed: send once more on a fresh
  // one, whatever the policy (nothing reached the server).
  #stale(plan: Plan, ex: Exchange, err: ClientError): boolean {
    return plan.canRetry && ex.reusedConnection && !ex.responseStarted && err.code === ClientErrorCodes.SOCKET_CLOSED;
  }

  #exchange(plan: Plan, target: Target, head: EncodedHead, pool: Pool, ep: Endpoint | null): Exchange {
    const req = plan.req;
    const ex = new Exchange(this, pool, plan.method, methodCode(plan.method), head, req.body, plan.connectTimeout, plan.headersTimeout, plan.bodyTimeout, plan.totalTimeout, req.signal);
    if (ep !== null) {
      ex.balancer = this.#balancer!;
      ex.endpoint = ep;
      ex.failureStatuses = this.#failureStatuses;
      this.#balancer!.start(ep);
    }
    ex.watched = plan.watched;
    ex.maxBodySize = plan.maxBody;
    ex.site = plan.site;
    // Per attempt: the tick stops while nothing is in flight.
    this.#ensureTick(plan.ownTimeouts ? plan : undefined);
    return ex;
  }

  // Attempts under a retry policy or a balancer (a stale connection is
  // resent here, on a freshly picked endpoint).
  async #attempts(plan: Plan): Promise<ClientResponse> {
    const { req, policy, attempts, retryAny } = plan;
    let { target, head, pool } = plan;
    let fresh = false;
    let staleRetried = false;
    for (let attempt = 1; ; attempt++) {
      let ep: Endpoint | null = null;
      if (plan.balanced) {
        ep = this.#balancer!.pick(); // throws FARAD_ERR_NO_ENDPOINT when none is usable
        const hostPort = ep.host.includes(":") ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
        target = { origin: `http://${hostPort}`, hostname: ep.host, port: ep.port, hostHeader: hostPort, path: target.path };
        head = encodeHead(plan.method, target, plan.headers);
        pool = this.#poolFor(target.origin, target.hostname, target.port);
      }
      const ex = this.#exchange(plan, target, head, pool, ep);
      try {
        const res = await ex.start(fresh);
        fresh = false;
        if (attempt < attempts && retryAny && policy.statuses.includes(res.status)) {
          const delay = retryAfter(res.header("retry-after"), policy.maxDelay) ?? backoff(policy, attempt);
          res.release();
          await sleep(delay, req.signal);
          continue;
        }
        return res;
      } catch (e) {
        const err = e as ClientError;
        if (!staleRetried && this.#stale(plan, ex, err)) {
          staleRetried = true;
          fresh = true;
          attempt--;
          continue;
        }
        if (attempt < attempts && retryAny && !ex.responseStarted && policy.errors.includes(err.code)) {
          await sleep(backoff(policy, attempt), req.signal);
          continue;
        }
        throw err;
      }
    }
  }

  #poolFor(origin: string, hostname: string, port: number): Pool {
    let p = this.#pools.get(origin);
    if (p === undefined) {
      this.#transport ??= new Transport({ maxHeaderBytes: this.#maxHeaderBytes, maxHeaders: this.#maxHeaders, maxTrailerBytes: this.#maxTrailerBytes });
      p = new Pool(this.#transport, hostname, port, this.#pool, () => this.#ensureTick(undefined));
      this.#pools.set(origin, p);
    }
    return p;
  }

  // --- ExchangeHost ---

  track(ex: Exchange): void {
    this.#active.add(ex);
    this.#transport!.hold();
  }

  untrack(ex: Exchange): void {
    if (this.#active.delete(ex)) this.#transport!.unhold();
  }

  register(face: ClientResponse, ex: Exchange): void {
    // Registration is deferred to the next turn and skipped for responses
    // settled by then (most are read at once): a FinalizationRegistry entry
    // costs more than the rest of a small request. The list holds the face
    // until then, so nothing is collected unwatched.
    if (this.#watch.length === 0) setImmediate(this.#watchPending);
    this.#watch.push(face, ex);
  }

  readonly #watch: (ClientResponse | Exchange)[] = [];
  readonly #watchPending = (): void => {
    const w = this.#watch;
    for (let i = 0; i < w.length; i += 2) {
      const ex = w[i + 1] as Exchange;
      if (!ex.settled) this.#registry.register(w[i] as ClientResponse, ex);
    }
    w.length = 0;
  };

  #leakedResponse(ex: Exchange): void {
    if (ex.settled) return;
    this.#leaked++;
    const closed = ex.reclaim();
    const err = new ClientError(
      ClientErrorCodes.RESPONSE_LEAKED,
      `a response (${ex.method} -> ${ex.status}) was garbage-collected without release(), close() or reading its body${closed ? "; it held its connection, which was closed" : ""}. Call res.release() (or use \`await using\`)`,
    );
    // The site's stack starts with a header line ("Error" or the object's
    // name); the frames after it are where request() was called.
    if (ex.site?.stack) err.stack = `${err.stack}\n  the response was created:\n${ex.site.stack.split("\n").slice(1).join("\n")}`;
    try {
      this.#onLeak(err);
    } catch {
      // A reporter that throws must not break the finalizer.
    }
  }

  // --- timers: one coarse tick for every deadline ---

  #ensureTick(t: Plan | undefined): void {
    if (t !== undefined) {
      const want = tickFor([t.connectTimeout, t.headersTimeout, t.bodyTimeout, t.totalTimeout]);
      if (want < this.#tickMs) {
        this.#tickMs = want;
        if (this.#tick !== undefined) {
          clearInterval(this.#tick);
          this.#tick = undefined;
        }
      }
    }
    if (this.#tick !== undefined || this.#closed) return;
    this.#tick = setInterval(() => this.#onTick(), this.#tickMs);
    this.#tick.unref();
  }

  #onTick(): void {
    const now = performance.now();
    for (const ex of this.#active) {
      if (ex.deadline > 0 && ex.deadline <= now) {
        ex.abort(new ClientError(ClientErrorCodes.REQUEST_TIMEOUT, `the request did not finish within ${ex.timeout} ms (timeout)`));
      } else if (ex.headDeadline > 0 && ex.headDeadline <= now) {
        ex.abort(new ClientError(ClientErrorCodes.HEADERS_TIMEOUT, `no response head within ${ex.headersTimeout} ms (headersTimeout)`));
      } else if (ex.bodyIdleDeadline > 0 && ex.bodyIdleDeadline <= now) {
        // A reader that is slow (the connection paused for it) is not the server's fault.
        if (ex.conn?.paused) ex.bodyIdleDeadline = now + ex.bodyTimeout;
        else ex.abort(new ClientError(ClientErrorCodes.BODY_TIMEOUT, `no response body bytes for ${ex.bodyTimeout} ms (bodyTimeout)`));
      }
    }
    let idle = 0;
    for (const p of this.#pools.values()) {
      p.expire(now);
      p.expireConnects(now);
      p.sweep(now);
      idle += p.conns.size;
    }
    if (this.#active.size === 0 && idle === 0 && this.#tick !== undefined) {
      clearInterval(this.#tick);
      this.#tick = undefined;
    }
  }
}

type Site = { stack?: string };

// One request's decisions (target, encoded head, policy, timeouts), shared
// by its attempts.
class Plan {
  connectTimeout = 0;
  headersTimeout = 0;
  bodyTimeout = 0;
  totalTimeout = 0;
  maxBody = 0;
  ownTimeouts = false;
  pool: Pool = undefined as unknown as Pool;
  constructor(
    readonly req: ClientRequest,
    readonly method: string,
    readonly target: Target,
    readonly head: EncodedHead,
    readonly headers: HeaderInput | [string, string][] | undefined,
    readonly balanced: boolean,
    readonly policy: Required<RetryOptions>,
    readonly attempts: number,
    readonly canRetry: boolean,
    readonly retryAny: boolean,
    readonly watched: boolean,
    readonly site: Site | undefined,
  ) {}
}

// The caller's frames are what a leak report needs; a short trace keeps the
// capture (which walks and translates optimized frames) cheap.
function captureSite(): Site {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 3;
  // Frames from request() up are the caller's: that is what the report
  // names. A plain object: an Error would capture a second time.
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, Client.prototype.request);
  Error.stackTraceLimit = limit;
  return site;
}

function tickFor(timeouts: number[]): number {
  let min = Infinity;
  for (const t of timeouts) if (t > 0 && t < min) min = t;
  return min === Infinity ? 250 : Math.min(250, Math.max(5, Math.floor(min / 8)));
}

function optMs(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new ClientError(ClientErrorCodes.INVALID_REQUEST, `${name} must be a number of ms >= 0, got ${String(v)}`);
  return v;
}

function mergeRetry(base: Required<RetryOptions>, over: RetryOptions | undefined): Required<RetryOptions> {
  if (over === undefined) return base;
  if (over === null || typeof over !== "object") throw invalidOption("retry must be an object");
  const r = { ...base, ...over };
  if (!Number.isInteger(r.attempts) || r.attempts < 1) throw invalidOption(`retry.attempts must be an integer >= 1, got ${String(r.attempts)}`);
  if (!(r.baseDelay >= 0) || !(r.maxDelay >= 0)) throw invalidOption("retry delays must be >= 0");
  if (!Array.isArray(r.statuses) || !Array.isArray(r.errors)) throw invalidOption("retry.statuses and retry.errors must be arrays");
  return r;
}

function backoff(policy: Required<RetryOptions>, attempt: number): number {
  // Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^n)].
  return Math.random() * Math.min(policy.maxDelay, policy.baseDelay * 2 ** (attempt - 1));
}

function retryAfter(v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (Number.isFinite(s) && s >= 0) return Math.min(max, s * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.min(max, Math.max(0, at - Date.now()));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ClientError(ClientErrorCodes.ABORTED, "the request was aborted", { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ClientError(ClientErrorCodes.ABORTED, "the request was aborted", { cause: signal!.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function mergeHeaders(defaults: [string, string][], own: HeaderInput | undefined): [string, string][] {
  if (own === undefined) return defaults;
  const names = new Set<string>();
  const pairs = Symbol.iterator in own ? [...(own as Iterable<readonly [string, string]>)] : Object.entries(own);
  const add: [string, string][] = [];
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    names.add(k.toLowerCase());
    for (const one of Array.isArray(v) ? v : [v]) add.push([k, String(one)]);
  }
  // A request's own header replaces a default of the same name.
  return defaults.filter(([k]) => !names.has(k.toLowerCase())).concat(add);
}
