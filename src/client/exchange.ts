/**
 * One request and its response on a connection: sends the request (head,
 * then the body with backpressure), receives the response head and body
 * from the connection, enforces the timeouts and the signal, and holds the
 * body's state for the ClientResponse face.
 *
 * Body modes: NONE (nobody asked yet: buffered up to the high-water mark,
 * then the connection is paused), STREAM (a Readable), COLLECT (text(),
 * bytes(), json()), DRAIN (release() before the end: read and dropped up to
 * maxDrainBytes), DONE (consumed, released or closed).
 */
import { Readable } from "node:stream";

import type { Balancer, Endpoint } from "./balance.js";
import type { Connection } from "./connection.js";
import { HEAD_BODY_MASK, HEAD_HTTP11, HEAD_INFORMATIONAL } from "./connection.js";
import { ClientError, ClientErrorCodes, errnoName } from "./errors.js";
import type { Pool } from "./pool.js";
import { type EncodedHead, type RequestBody } from "./request.js";
import { ClientResponse } from "./response.js";

const S_NEW = 0;
const S_QUEUED = 1;
const S_SENT = 2; // on a connection, waiting for the head
const S_BODY = 3; // head delivered, body in progress
const S_DONE = 4;

const M_NONE = 0;
const M_STREAM = 1;
const M_COLLECT = 2;
const M_DRAIN = 3;
const M_DONE = 4;

const kFace = Symbol("farad.response");
const CRLF = Buffer.from("\r\n");
const LAST_CHUNK = Buffer.from("0\r\n\r\n");
/** Request body bytes unsent on the socket before the sender waits for a drain. */
const SEND_HIGH_WATER = 256 * 1024;
/** A body this small goes out in one write with the head. */
const INLINE_BODY = 64 * 1024;

/** What an exchange needs from its client (timers, limits, accounting). */
export interface ExchangeHost {
  readonly highWaterMark: number;
  readonly maxDrainBytes: number;
  readonly expectContinueTimeout: number;
  track(ex: Exchange): void;
  untrack(ex: Exchange): void;
  register(face: ClientResponse, ex: Exchange): void;
}

export class Exchange {
  state = S_NEW;
  conn: Connection | null = null;
  /** The request was written whole (a connection can be reused only then). */
  requestSent = false;
  /** The connection it went out on had served requests before. */
  reusedConnection = false;
  /** A byte of the response had arrived when it failed. */
  responseStarted = false;

  // Deadlines (performance.now() ms; 0 = none). The client's tick checks them.
  queueDeadline = 0;
  headDeadline = 0;
  bodyIdleDeadline = 0;
  deadline = 0;

  // The head, copied out of the batch at arrival: its bytes as one latin1
  // string and each field's name/value offsets into it, decoded lazily.
  // Holding the batch's slab instead would keep 512 KiB of external memory
  // alive per response for as long as the response object lives, which got
  // slabs promoted to the old generation and cost a full collection every
  // few hundred 64 KiB responses.
  #head = "";
  #fields: number[] | null = null;
  #contentLength = -1;
  status = 0;
  #flags = 0;

  // The body.
  #mode = M_NONE;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #received = 0;
  #drained = 0;
  #complete = false;
  #error: ClientError | null = null;
  #stream: WeakRef<Readable> | null = null;
  // The stream, held strongly while its reader waits for data: a reader
  // suspended in for-await is otherwise reachable only through this
  // exchange, and a weak reference alone would let it be collected mid-read.
  // Dropped while the stream is full, so an abandoned one can be collected
  // (and reported).
  #streamHold: Readable | null = null;
  #collect: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  #continue: (() => void) | null = null;
  #resolve: (r: ClientResponse) => void = noop;
  #reject: (e: Error) => void = noop;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | null = null;
  /** Where the request was made, for the leak report (when enabled). */
  site: { stack?: string } | undefined;
  /** Bytes text()/json()/bytes() may collect. */
  maxBodySize = Infinity;
  /** The caller gets the face (request()); helpers that read it whole do not register it. */
  watched = true;
  /** Send again on a fresh connection if a reused one turns out closed (replayable, idempotent requests). */
  resendIfStale = false;
  /** The balancer and endpoint this attempt went to, told how it ended (once). */
  balancer: Balancer | null = null;
  endpoint: Endpoint | null = null;
  failureStatuses: ReadonlySet<number> | null = null;
  #t0 = 0;
  #headMs = -1;

  constructor(
    readonly host: ExchangeHost,
    readonly pool: Pool,
    readonly method: string,
    readonly methodCode: number,
    readonly head: EncodedHead,
    readonly body: RequestBody,
    readonly connectTimeout: number,
    readonly headersTimeout: number,
    readonly bodyTimeout: number,
    readonly timeout: number,
    signal: AbortSignal | undefined,
  ) {
    if (timeout > 0) this.deadline = performance.now() + timeout;
    this.#signal = signal;
  }

  /** Queues for a connection; resolves with the response once its head arrives. */
  start(fresh: boolean): Promise<ClientResponse> {
    return new Promise<ClientResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const signal = this.#signal;
      if (signal !== undefined) {
        if (signal.aborted) {
          const err = abortError(signal);
          this.#balanceEnd(err);
          this.state = S_DONE;
          reject(err);
          return;
        }
        this.#onAbort = () => this.abort(abortError(signal));
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
      this.state = S_QUEUED;
      this.#t0 = performance.now();
      this.host.track(this);
      this.pool.acquire(this, fresh);
    });
  }

  /** The pool gives a connection: send the request. */
  attach(conn: Connection): void {
    if (this.state !== S_QUEUED) {
      // Gave up while queued: hand the connection straight back.
      if (conn.exchanges.length === 0) this.pool.put(conn);
      return;
    }
    this.conn = conn;
    this.reusedConnection = conn.served > 0;
    this.state = S_SENT;
    conn.exchanges.push(this);
    this.#send(conn);
  }

  #send(conn: Connection): void {
    const body = this.body;
    const h = this.head;
    if (body === undefined || body === null) {
      const needsLength = this.methodCode === 3 || this.methodCode === 4 || this.methodCode === 9; // POST PUT PATCH
      // Encoded once per head (the client caches heads per URL and method);
      // the core copies what the socket does not take at once.
      const bytes = (h.bodyless ??= Buffer.from(`${h.head}${needsLength ? "content-length: 0\r\n" : ""}\r\n`, "latin1"));
      this.#written(conn.write(bytes, this.methodCode), true);
      return;
    }
    if (typeof body === "string" || body instanceof Uint8Array) {
      const payload = typeof body === "string" ? Buffer.from(body, "utf8") : body;
      const headStr = `${h.head}content-length: ${payload.length}\r\n\r\n`;
      if (h.expectContinue && payload.length > 0) {
        this.#written(conn.write(Buffer.from(headStr, "latin1"), this.methodCode), false);
        this.#awaitContinue(() => this.#written(conn.write(payload, -1), true));
        return;
      }
      if (payload.length <= INLINE_BODY) {
        const headLen = headStr.length;
        const out = Buffer.allocUnsafe(headLen + payload.length);
        out.write(headStr, 0, headLen, "latin1");
        out.set(payload, headLen);
        this.#written(conn.write(out, this.methodCode), true);
      } else {
        if (!this.#written(conn.write(Buffer.from(headStr, "latin1"), this.methodCode), false)) return;
        this.#written(conn.write(payload, -1), true);
      }
      return;
    }
    const length = h.declaredLength;
    const headStr = length >= 0 ? `${h.head}content-length: ${length}\r\n\r\n` : `${h.head}transfer-encoding: chunked\r\n\r\n`;
    if (!this.#written(conn.write(Buffer.from(headStr, "latin1"), this.methodCode), false)) return;
    const pump = () => void this.#pump(conn, body as AsyncIterable<Uint8Array | string>, length);
    if (h.expectContinue) this.#awaitContinue(pump);
    else pump();
  }

  // The body waits for 100 Continue, a final response, or the timeout.
  #awaitContinue(send: () => void): void {
    let timer: NodeJS.Timeout | undefined;
    const go = () => {
      if (this.#continue === null) return;
      this.#continue = null;
      clearTimeout(timer);
      if (this.state === S_SENT || (this.state === S_BODY && !this.#complete)) send();
    };
    this.#continue = go;
    timer = setTimeout(go, this.host.expectContinueTimeout);
  }

  /** Checks a write's result; false when the exchange failed. */
  #written(r: number, last: boolean): boolean {
    if (r < 0) {
      // The core closed the socket already; destroy() tells everyone on it.
      const name = errnoName(-r);
      const code = name === "EPIPE" || name === "ECONNRESET" ? ClientErrorCodes.SOCKET_CLOSED : ClientErrorCodes.SOCKET;
      this.conn?.destroy(new ClientError(code, `writing the request failed: ${name}`, { errno: name }), this.responseStarted);
      return false;
    }
    if (last) {
      this.requestSent = true;
      // The head timeout runs from the end of the request, as in undici: a
      // slow upload is paced by flow control, not by this timer. Bytes still
      // queued in the core are not sent yet: start it when they drain.
      if (this.headersTimeout > 0) {
        if (r === 0) this.#armHead();
        else this.conn?.drained().then(() => this.#armHead());
      }
    }
    return true;
  }

  #armHead(): void {
    if (this.state === S_SENT) this.headDeadline = performance.now() + this.headersTimeout;
  }

  async #pump(conn: Connection, body: AsyncIterable<Uint8Array | string>, length: number): Promise<void> {
    const chunked = length < 0;
    let sent = 0;
    try {
      for await (const part of body) {
        if (this.conn !== conn || !conn.open || this.state === S_DONE && !this.#complete) return;
        const buf = typeof part === "string" ? Buffer.from(part, "utf8") : part;
        if (!(buf instanceof Uint8Array)) throw new TypeError("a request body chunk must be a string or Uint8Array");
        if (buf.length === 0) continue;
        sent += buf.length;
        if (!chunked && sent > length) throw new RangeError(`the body is longer than its Content-Length ${length}`);
        let r: number;
        if (chunked) {
          if (buf.length <= 16384) {
            r = conn.write(Buffer.concat([Buffer.from(`${buf.length.toString(16)}\r\n`, "latin1"), buf, CRLF]), -1);
          } else {
            r = conn.write(Buffer.from(`${buf.length.toString(16)}\r\n`, "latin1"), -1);
            if (r >= 0) r = conn.write(buf, -1);
            if (r >= 0) r = conn.write(CRLF, -1);
          }
        } else {
          r = conn.write(buf, -1);
        }
        if (!this.#written(r, false)) return;
        if (r > SEND_HIGH_WATER) await conn.drained();
      }
      if (this.conn !== conn || !conn.open) return;
      if (!chunked && sent !== length) throw new RangeError(`the body ended after ${sent} of its Content-Length ${length} bytes`);
      this.#written(chunked ? conn.write(LAST_CHUNK, -1) : 0, true);
      // A response that ended before the request body did could not reuse
      // the connection; it was closed then (Connection.onEnd).
    } catch (e) {
      const err = new ClientError(ClientErrorCodes.REQUEST_BODY, `reading the request body failed: ${(e as Error).message}`, { cause: e });
      if (this.conn === conn && conn.open) conn.destroy(err);
      else this.fail(err);
    }
  }

  // --- events from the connection ---

  onHead(ev: Int32Array, at: number, bytes: Buffer): void {
    const flags = ev[at + 1]!;
    this.responseStarted = true;
    if ((flags & HEAD_INFORMATIONAL) !== 0) {
      if (ev[at]! === 100) this.#continue?.();
      return;
    }
    if (this.state !== S_SENT) return;
    // A final response before the body went (100-continue refused): the
    // body is not sent; the connection closes after this response.
    if (this.#continue !== null) {
      this.#continue = null;
      if (this.conn) this.conn.closeAfter = true;
    }
    this.status = ev[at]!;
    this.#flags = flags;
    this.#copyHead(ev, at, bytes);
    this.state = S_BODY;
    this.headDeadline = 0;
    this.#headMs = performance.now() - this.#t0;
    if (this.bodyTimeout > 0) this.bodyIdleDeadline = performance.now() + this.bodyTimeout;
    const face = new ClientResponse(this, this.status, (flags & HEAD_HTTP11) !== 0);
    if (this.watched) this.host.register(face, this);
    const resolve = this.#resolve;
    this.#resolve = noop;
    this.#reject = noop;
    resolve(face);
  }

  onData(chunk: Buffer): void {
    if (this.state !== S_BODY) return;
    this.#received += chunk.length;
    if (this.bodyTimeout > 0) this.bodyIdleDeadline = performance.now() + this.bodyTimeout;
    switch (this.#mode) {
      case M_STREAM: {
        const s = this.#stream?.deref();
        if (s === undefined || s.destroyed) return;
        if (!s.push(chunk)) {
          this.#streamHold = null;
          this.conn?.pause(true);
        }
        return;
      }
      case M_DRAIN:
        this.#drained += chunk.length;
        if (this.#drained > this.host.maxDrainBytes) this.#abandon();
        return;
      case M_DONE:
        return;
      default:
        this.#chunks.push(chunk);
        this.#buffered += chunk.length;
        if (this.#mode === M_NONE) {
          if (this.#buffered >= this.host.highWaterMark) this.conn?.pause(true);
        } else if (this.#buffered > this.maxBodySize) {
          // text()/json()/bytes() and the helpers hold the whole body: a
          // server sending without end must not take the process with it.
          this.abort(new ClientError(ClientErrorCodes.BODY_TOO_LARGE, `the response body is larger than maxBodySize (${this.maxBodySize} bytes); read it as a stream instead`));
        }
    }
  }

  onEnd(): void {
    if (this.state !== S_BODY) return;
    this.#complete = true;
    this.#balanceEnd(null);
    this.#finish();
    switch (this.#mode) {
      case M_STREAM: {
        const s = this.#stream?.deref();
        this.#streamHold = null;
        if (s !== undefined && !s.destroyed) s.push(null);
        break;
      }
      case M_COLLECT:
        this.#settleCollect();
        break;
      case M_DRAIN:
        this.#mode = M_DONE;
        break;
    }
  }

  /** The connection failed or closed; `started`: a response byte had arrived on it. */
  onConnectionError(err: ClientError, started: boolean, reused: boolean): void {
    this.responseStarted ||= started;
    this.reusedConnection ||= reused;
    // A pooled connection the server had closed while idle: nothing reached
    // the server, so the request goes once more on a fresh connection,
    // whatever the retry policy.
    if (this.resendIfStale && this.state === S_SENT && this.reusedConnection && !this.responseStarted && err.code === ClientErrorCodes.SOCKET_CLOSED) {
      this.resendIfStale = false;
      this.conn = null;
      this.state = S_QUEUED;
      this.requestSent = false;
      this.headDeadline = 0;
      this.#continue = null;
      this.pool.acquire(this, true);
      return;
    }
    this.fail(err);
  }

  /** Fails the exchange wherever it is. */
  fail(err: ClientError): void {
    if (this.state === S_DONE) return;
    this.#balanceEnd(err);
    const wasBody = this.state === S_BODY;
    if (this.state === S_QUEUED) this.pool.dequeue(this);
    this.#finish();
    if (!wasBody) {
      const reject = this.#reject;
      this.#reject = noop;
      this.#resolve = noop;
      reject(err);
      return;
    }
    this.#error = err;
    switch (this.#mode) {
      case M_STREAM: {
        const s = this.#stream?.deref();
        if (s !== undefined && !s.destroyed) s.destroy(err);
        break;
      }
      case M_COLLECT: {
        const c = this.#collect;
        this.#collect = null;
        c?.reject(err);
        break;
      }
      case M_DRAIN:
        this.#mode = M_DONE;
        break;
    }
  }

  /** Aborted by the signal or a timeout: fail and close the connection if it carries us. */
  abort(err: ClientError): void {
    if (this.state === S_DONE) return;
    const conn = this.conn;
    // Whether a response byte had arrived decides if a retry may follow.
    if (conn !== null && conn.open && this.state !== S_QUEUED) conn.destroy(err, this.responseStarted);
    this.fail(err);
  }

  // Leaves the in-flight set and drops the signal listener; idempotent.
  #finish(): void {
    if (this.state === S_DONE) return;
    this.state = S_DONE;
    this.headDeadline = 0;
    this.bodyIdleDeadline = 0;
    this.deadline = 0;
    this.queueDeadline = 0;
    this.host.untrack(this);
    if (this.#onAbort !== null) {
      this.#signal!.removeEventListener("abort", this.#onAbort);
      this.#onAbort = null;
    }
  }

  // Tells the balancer how the attempt went: latency to the head, failure
  // for transport errors, timeouts and the failure statuses; an abort by
  // the caller says nothing about the endpoint.
  #balanceEnd(err: ClientError | null): void {
    const b = this.balancer;
    if (b === null) return;
    this.balancer = null;
    const ep = this.endpoint!;
    if (err !== null && (err.code === ClientErrorCodes.ABORTED || err.code === ClientErrorCodes.CLIENT_CLOSED || err.code === ClientErrorCodes.REQUEST_BODY)) {
      b.cancel(ep);
      return;
    }
    // A transport failure at any point, or a failure status, counts against the endpoint.
    const ok = err === null && !(this.failureStatuses?.has(this.status) ?? false);
    b.end(ep, { ok, latencyMs: this.#headMs >= 0 ? this.#headMs : performance.now() - this.#t0 });
  }

  // Gives up the connection mid-body (close(), or too much to drain).
  #abandon(): void {
    this.#balanceEnd(null);
    const conn = this.conn;
    this.#mode = M_DONE;
    this.#chunks = [];
    this.#buffered = 0;
    if (this.state === S_BODY) {
      this.#finish();
      if (conn !== null && conn.open) conn.destroy(new ClientError(ClientErrorCodes.SOCKET_CLOSED, "the response was closed by the caller"));
    }
  }

  // --- the face's calls ---

  stream(face: ClientResponse): Readable {
    if (this.#mode !== M_NONE) throw bodyUsed();
    this.#mode = M_STREAM;
    const s = new Readable({
      highWaterMark: this.host.highWaterMark,
      read: () => {
        this.#streamHold = s;
        this.conn?.pause(false);
      },
      destroy: (err, cb) => {
        this.#streamHold = null;
        // Destroyed before the end by the reader: the connection cannot be
        // reused with an unread remainder.
        if (this.#mode === M_STREAM) {
          if (this.#complete) this.#mode = M_DONE;
          else this.#abandon();
        }
        cb(err);
      },
    });
    (s as unknown as Record<symbol, unknown>)[kFace] = face; // the face lives as long as its stream
    this.#stream = new WeakRef(s);
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#buffered = 0;
    for (const c of chunks) s.push(c);
    if (this.#error !== null) s.destroy(this.#error);
    else if (this.#complete) s.push(null);
    s.once("end", () => {
      if (this.#mode === M_STREAM) this.#mode = M_DONE;
    });
    return s;
  }

  collect(_face: ClientResponse): Promise<Buffer> {
    if (this.#mode !== M_NONE) return Promise.reject(bodyUsed());
    if (this.#error !== null) {
      this.#mode = M_DONE;
      return Promise.reject(this.#error);
    }
    const declared = this.contentLength();
    if (declared > this.maxBodySize || this.#buffered > this.maxBodySize) {
      const err = new ClientError(ClientErrorCodes.BODY_TOO_LARGE, `the response body (${declared >= 0 ? `${declared} bytes` : "unknown length"}) is larger than maxBodySize (${this.maxBodySize} bytes); read it as a stream instead`);
      this.#mode = M_DONE;
      this.#chunks = [];
      this.abort(err);
      return Promise.reject(err);
    }
    this.#mode = M_COLLECT;
    if (this.#complete) return Promise.resolve(this.#take());
    this.conn?.pause(false);
    return new Promise<Buffer>((resolve, reject) => {
      this.#collect = { resolve, reject };
    });
  }

  #settleCollect(): void {
    const c = this.#collect;
    if (c === null) return;
    this.#collect = null;
    c.resolve(this.#take());
  }

  #take(): Buffer {
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#buffered = 0;
    this.#mode = M_DONE;
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  release(): void {
    switch (this.#mode) {
      case M_DONE:
      case M_DRAIN:
        return;
      case M_COLLECT:
        return; // already reading to the end
      case M_STREAM: {
        const s = this.#stream?.deref();
        this.#mode = M_NONE;
        if (s !== undefined && !s.destroyed) {
          this.#mode = M_DRAIN; // destroy() below must not abandon
          s.destroy();
        }
        break;
      }
    }
    this.#chunks = [];
    this.#buffered = 0;
    if (this.#complete || this.#error !== null || this.state !== S_BODY) {
      this.#mode = M_DONE;
      return;
    }
    // Drain a small remainder so the connection can be reused; a known
    // larger one is not worth reading.
    const total = this.contentLength();
    if (total >= 0 && total - this.#received > this.host.maxDrainBytes) {
      this.#abandon();
      return;
    }
    this.#mode = M_DRAIN;
    this.#drained = 0;
    this.conn?.pause(false);
  }

  closeByUser(): void {
    if (this.#complete || this.#error !== null || this.state !== S_BODY) {
      this.release();
      return;
    }
    const s = this.#mode === M_STREAM ? this.#stream?.deref() : undefined;
    this.#abandon();
    if (s !== undefined && !s.destroyed) s.destroy();
  }

  /** The whole body has arrived and nobody has taken it yet. */
  get bodyWaiting(): boolean {
    return this.#complete && this.#mode === M_NONE && this.#error === null;
  }

  /** True when nothing was left to read or the caller released, closed or read it all. */
  get settled(): boolean {
    if (this.#mode === M_DONE || this.#mode === M_DRAIN || this.#mode === M_COLLECT) return true;
    if (this.#mode === M_STREAM) return this.#streamHold !== null || this.#stream?.deref() !== undefined;
    return this.#complete && this.#received === 0;
  }

  /** Closes what a dropped response still holds (the leak detector's cleanup). */
  reclaim(): boolean {
    if (this.#complete || this.#error !== null || this.state !== S_BODY) {
      this.#mode = M_DONE;
      this.#chunks = [];
      return false;
    }
    this.#abandon();
    return true;
  }

  // --- head accessors for the face ---

  #copyHead(ev: Int32Array, at: number, bytes: Buffer): void {
    const kind = this.#flags & HEAD_BODY_MASK;
    this.#contentLength = kind === 1 ? (ev[at + 3]! >>> 0) + (ev[at + 4]! >>> 0) * 2 ** 32 : kind === 0 ? 0 : -1;
    const off = ev[at + 5]!;
    this.#head = bytes.toString("latin1", off, off + ev[at + 6]!);
    const n = ev[at + 7]!;
    const fields = new Array<number>(n * 4);
    // Words per field: name offset, name length, value offset, value length.
    for (let i = 0, p = at + 8; i < n * 4; i += 2, p += 2) {
      fields[i] = ev[p]! - off;
      fields[i + 1] = ev[p + 1]!;
    }
    this.#fields = fields;
  }

  contentLength(): number {
    return this.#contentLength;
  }

  reason(): string {
    const h = this.#head;
    // "HTTP/1.1 200 Reason\r\n": the reason starts at 13 when present.
    const end = h.indexOf("\r");
    return end > 13 ? h.slice(13, end) : "";
  }

  rawHeaders(): string[] {
    const f = this.#fields;
    if (f === null) return [];
    const h = this.#head;
    const out = new Array<string>(f.length / 2);
    for (let i = 0; i < f.length; i += 2) out[i / 2] = h.slice(f[i]!, f[i]! + f[i + 1]!);
    return out;
  }

  headerObject(): Record<string, string | string[]> {
    const raw = this.rawHeaders();
    const out: Record<string, string | string[]> = Object.create(null);
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const value = raw[i + 1]!;
      const prev = out[name];
      if (name === "set-cookie") {
        if (prev === undefined) out[name] = [value];
        else (prev as string[]).push(value);
      } else {
        out[name] = prev === undefined ? value : `${prev as string}, ${value}`;
      }
    }
    return out;
  }

  header(lower: string): string | undefined {
    const f = this.#fields;
    if (f === null) return undefined;
    const h = this.#head;
    let found: string | undefined;
    for (let i = 0; i < f.length; i += 4) {
      const len = f[i + 1]!;
      if (len !== lower.length) continue;
      if (h.slice(f[i]!, f[i]! + len).toLowerCase() !== lower) continue;
      const v = h.slice(f[i + 2]!, f[i + 2]! + f[i + 3]!);
      found = found === undefined ? v : `${found}, ${v}`;
    }
    return found;
  }
}

function noop(): void {}

function bodyUsed(): ClientError {
  return new ClientError(ClientErrorCodes.BODY_USED, "the response body was already read, released or closed");
}

function abortError(signal: AbortSignal): ClientError {
  return new ClientError(ClientErrorCodes.ABORTED, "the request was aborted", { cause: signal.reason });
}
