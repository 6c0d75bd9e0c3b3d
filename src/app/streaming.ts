/**
 * Streaming in both directions, with flow control end to end.
 *
 * Request bodies: the reactor reads body bytes into the transport's body
 * slab and names them in body events; the views go to the request's
 * Readable (ctx.bodyStream()) or its buffer (ctx.body()) without a copy. When the Readable is full, or nobody has asked for the body
 * yet and 64 KiB are waiting, JS tells the reactor to stop delivering
 * (pauseBody); the reactor then stops reading the socket once its own input
 * high-water mark is reached, and the client's TCP window closes. Memory per
 * upload is bounded whatever the upload's size or the consumer's speed.
 *
 * Response bodies: ctx.write() sends the head on first use and each chunk
 * straight to the reactor (chunked coding unless a Content-Length was set);
 * it returns false once the connection's unsent bytes pass the high-water
 * mark, and ctx.drain() resolves when the reactor reports them drained.
 */
import { readSync } from "node:fs";
import { Readable } from "node:stream";
import { ErrorCodes, FaradError, HttpError } from "../common/errors.js";
import type { BodySlab } from "../transport/native.js";
import type { RequestContext } from "./context.js";
import { LentBody } from "./lent-body.js";

/** Bytes held for a body nobody has asked for yet, before delivery pauses. */
const UNCLAIMED_BODY = 64 * 1024;
/**
 * Readable high-water mark of ctx.bodyStream(). Large enough that a consumer
 * keeping up never pauses the reactor (each pause/resume costs a round
 * trip), small enough to bound memory per upload.
 */
const STREAM_HIGH_WATER = 1024 * 1024;

// Body modes
export const BODY_UNCLAIMED = 0;
export const BODY_BUFFERED = 1;
export const BODY_STREAMED = 2;

// Response stream states
export const OUT_NONE = 0;
export const OUT_STREAMING = 1;
export const OUT_ENDED = 2;

const REC_END = 1;
const REC_CLOSE = 2;

/** What the server gives contexts for streaming (the reactor's calls, by connection). */
export interface StreamHost {
  /** Stops (true) or resumes body events for ctx's connection. */
  pauseBody(ctx: RequestContext, pause: boolean): void;
  /** A chunk lent by bodyChunks() is no longer in use. */
  giveBack(slab: BodySlab): void;
  /** Sends 100 Continue for ctx's request. */
  sendContinue(ctx: RequestContext): void;
  /** Writes the response head (status, headers, framing) without ending the response; returns the record flags for the end (REC_CLOSE or 0). */
  beginStream(ctx: RequestContext, length: number): number;
  /** A body part; returns the connection's unsent bytes, or -1 if it is gone. */
  writeChunk(ctx: RequestContext, bytes: Uint8Array, flags: number, chunked: boolean): number;
  /** The body from an open file descriptor; false if the connection is gone. */
  sendFile(ctx: RequestContext, fd: number, offset: number, length: number, flags: number): boolean;
  /** Asks for ctx's drain to be settled by the next drain (or close) event of its connection. */
  waitDrain(ctx: RequestContext): void;
  /** Unsent bytes above which write() returns false. */
  writeHighWater: number;
}

// ---------------------------------------------------------------- requests

/**
 * A body event's bytes: a view of the transport's body slab `slab`, which
 * the reactor does not write again while the view may be in use, so it is
 * handed on without a copy. Lent to bodyChunks(), or else given for good
 * (the slab is then never reused).
 */
export function deliverBody(ctx: RequestContext, chunk: Buffer, slab: BodySlab | null, end: boolean, error: boolean): void {
  if (error) {
    failBody(ctx, new FaradError(ErrorCodes.BODY_ABORTED, "the request body was malformed or cut off"));
    return;
  }
  if (ctx._bodyError !== null) return;
  if (chunk.length > 0) {
    ctx._received += chunk.length;
    const lent = ctx._lent;
    if (lent === null && slab !== null) slab.kept = true;
    const stream = ctx._stream;
    if (lent !== null || stream !== null) {
      if (ctx._received > ctx._streamLimit) {
        ctx._state |= 8; // S_CLOSE: the rest of the body will not be read
        failBody(ctx, tooLarge(ctx._streamLimit));
        return;
      }
      if (lent !== null) {
        if (slab !== null) slab.leases++;
        lent.push(chunk, slab);
      } else if (!stream!.push(chunk)) setPaused(ctx, true);
    } else {
      if (ctx._bodyMode === BODY_BUFFERED && ctx._received > ctx._host.bodyLimit) {
        ctx._state |= 8;
        ctx._chunks = null;
        failBody(ctx, tooLarge(ctx._host.bodyLimit));
        return;
      }
      (ctx._chunks ??= []).push(chunk);
      if (ctx._bodyMode === BODY_UNCLAIMED && ctx._received >= UNCLAIMED_BODY) setPaused(ctx, true);
    }
  }
  if (end) {
    ctx._bodyDone = true;
    if (ctx._stream !== null) ctx._stream.push(null);
    ctx._lent?.end();
    const w = ctx._bodyWaiter;
    if (w !== null) {
      ctx._bodyWaiter = null;
      w.resolve(takeChunks(ctx));
    }
  }
}

export function failBody(ctx: RequestContext, err: Error): void {
  if (ctx._bodyError !== null) return;
  ctx._bodyError = err;
  ctx._chunks = null;
  const w = ctx._bodyWaiter;
  if (w !== null) {
    ctx._bodyWaiter = null;
    w.reject(err);
  }
  ctx._stream?.destroy(err);
  ctx._lent?.fail(err);
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `request body larger than ${limit} bytes`, { code: ErrorCodes.BODY_TOO_LARGE });
}

function setPaused(ctx: RequestContext, pause: boolean): void {
  if (ctx._bodyPaused === pause || ctx._slot < 0) return;
  ctx._bodyPaused = pause;
  ctx._host.pauseBody(ctx, pause);
}

/** The client waits for 100 Continue before it sends the body (RFC 9110 §10.1.1). */
function claimBody(ctx: RequestContext, mode: number): void {
  ctx._bodyMode = mode;
  if ((ctx._flags & 2) !== 0 && !ctx._bodyDone && !ctx._continued && ctx._slot >= 0) {
    ctx._continued = true;
    ctx._host.sendContinue(ctx);
  }
  setPaused(ctx, false);
}

export function takeChunks(ctx: RequestContext): Buffer {
  const c = ctx._chunks;
  if (c === null) return ctx._bodyLen > 0 ? Buffer.from(ctx._inlineBody()) : Buffer.alloc(0);
  const b = c.length === 1 ? c[0]! : Buffer.concat(c, ctx._received);
  ctx._chunks = [b];
  return b;
}

export function readBody(ctx: RequestContext): Promise<Buffer> {
  const limit = ctx._host.bodyLimit;
  if (ctx._contentLength > limit) {
    // Refused at once, before a 100 Continue invites the body.
    ctx._state |= 8;
    return Promise.reject(tooLarge(limit));
  }
  if (ctx._bodyMode === BODY_STREAMED) {
    return Promise.reject(new FaradError(ErrorCodes.BODY_ABORTED, "the body is being read as a stream (bodyStream() or bodyChunks())"));
  }
  if (ctx._bodyError !== null) return Promise.reject(ctx._bodyError);
  if (ctx._received > limit) {
    ctx._state |= 8;
    return Promise.reject(tooLarge(limit));
  }
  claimBody(ctx, BODY_BUFFERED);
  if (ctx._bodyDone) return Promise.resolve(takeChunks(ctx));
  if (ctx._bodyWaiter !== null) return Promise.reject(new FaradError(ErrorCodes.BODY_ABORTED, "body() is already being read"));
  return new Promise<Buffer>((resolve, reject) => {
    ctx._bodyWaiter = { resolve, reject };
  });
}

export interface BodyStreamOptions {
  /** Bytes at most; past it the stream errors with a 413 HttpError. Default: no limit. */
  limit?: number;
}

export function openBodyStream(ctx: RequestContext, options?: BodyStreamOptions): Readable {
  if (ctx._stream !== null) return ctx._stream;
  if (ctx._bodyMode === BODY_BUFFERED) {
    throw new FaradError(ErrorCodes.BODY_ABORTED, "the body is being read whole (body()); bodyStream() cannot follow");
  }
  if (ctx._lent !== null) {
    throw new FaradError(ErrorCodes.BODY_ABORTED, "the body is being read with bodyChunks(); bodyStream() cannot follow");
  }
  const limit = options?.limit ?? Infinity;
  if (!(limit >= 0)) throw new FaradError(ErrorCodes.INVALID_OPTION, "bodyStream limit must be a number >= 0");
  const stream = new Readable({
    highWaterMark: STREAM_HIGH_WATER,
    read: () => setPaused(ctx, false),
  });
  ctx._stream = stream;
  ctx._streamLimit = limit;
  if (ctx._contentLength > limit) {
    ctx._state |= 8;
    stream.destroy(tooLarge(limit));
    return stream;
  }
  if (ctx._bodyError !== null) {
    stream.destroy(ctx._bodyError);
    return stream;
  }
  // Bytes that came before anyone asked.
  const held = ctx._chunks;
  ctx._chunks = null;
  if (held !== null) for (const b of held) stream.push(b);
  else if (ctx._bodyLen > 0) stream.push(Buffer.from(ctx._inlineBody()));
  if (ctx._bodyDone) stream.push(null);
  claimBody(ctx, BODY_STREAMED);
  return stream;
}

/**
 * ctx.bodyChunks(): the body as chunks lent until the handler asks for the
 * next one (src/app/lent-body.ts).
 */
export function openLentBody(ctx: RequestContext, options?: BodyStreamOptions): LentBody {
  if (ctx._lent !== null) return ctx._lent;
  if (ctx._bodyMode === BODY_BUFFERED) {
    throw new FaradError(ErrorCodes.BODY_ABORTED, "the body is being read whole (body()); bodyChunks() cannot follow");
  }
  if (ctx._stream !== null) {
    throw new FaradError(ErrorCodes.BODY_ABORTED, "the body is being read with bodyStream(); bodyChunks() cannot follow");
  }
  const limit = options?.limit ?? Infinity;
  if (!(limit >= 0)) throw new FaradError(ErrorCodes.INVALID_OPTION, "bodyChunks limit must be a number >= 0");
  const host = ctx._host;
  const lent = new LentBody(ctx, { pause: setPaused, giveBack: (slab) => host.giveBack(slab) });
  ctx._lent = lent;
  ctx._streamLimit = limit;
  if (ctx._contentLength > limit) {
    ctx._state |= 8;
    lent.fail(tooLarge(limit));
    return lent;
  }
  if (ctx._bodyError !== null) {
    lent.fail(ctx._bodyError);
    return lent;
  }
  // Bytes that came before anyone asked (their slabs are kept: not lent).
  const held = ctx._chunks;
  ctx._chunks = null;
  if (held !== null) for (const b of held) lent.push(b, null);
  else if (ctx._bodyLen > 0) lent.push(Buffer.from(ctx._inlineBody()), null);
  if (ctx._bodyDone) lent.end();
  claimBody(ctx, BODY_STREAMED);
  return lent;
}

/** The request is finished: a body stream nobody finished reading ends here; lent chunks come back. */
export function releaseBody(ctx: RequestContext): void {
  const s = ctx._stream;
  if (s !== null && !s.readableEnded && !s.destroyed) {
    s.destroy(new FaradError(ErrorCodes.BODY_ABORTED, "the request finished before its body was read"));
  }
  ctx._lent?.close();
}

// --------------------------------------------------------------- responses

function checkOpen(ctx: RequestContext): void {
  if (ctx._out === OUT_ENDED || (ctx._state & 1) !== 0) {
    throw new FaradError(ErrorCodes.RESPONSE_SENT, "the response has already ended");
  }
}

function begin(ctx: RequestContext): void {
  ctx._endFlags = ctx._host.beginStream(ctx, ctx._length);
  ctx._chunked = ctx._length < 0;
  ctx._out = OUT_STREAMING;
}

/** Sends the head now (status and headers as set so far). */
export function flushHeaders(ctx: RequestContext): void {
  checkOpen(ctx);
  if (ctx._out === OUT_NONE) begin(ctx);
}

export function write(ctx: RequestContext, chunk: string | Uint8Array): boolean {
  checkOpen(ctx);
  if (ctx._out === OUT_NONE) begin(ctx);
  if (ctx._gone) return false;
  const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
  if (bytes.byteLength === 0) return ctx._queued < ctx._host.writeHighWater;
  ctx._written += bytes.byteLength;
  if (ctx._length >= 0 && ctx._written > ctx._length) {
    throw new FaradError(ErrorCodes.RESPONSE_SENT, `wrote ${ctx._written} bytes, more than the Content-Length of ${ctx._length}`);
  }
  // HEAD, 204 and 304 carry no body: the bytes go nowhere.
  if (ctx._methodCode === 2 || ctx._status === 204 || ctx._status === 304) return true;
  if (ctx._slot < 0) {
    // In-process (inject): collect the body for the captured response.
    ctx._body = ctx._body === null ? Buffer.from(bytes) : Buffer.concat([ctx._body as Uint8Array, bytes]);
    return true;
  }
  const q = ctx._host.writeChunk(ctx, bytes, 0, ctx._chunked);
  if (q < 0) {
    ctx._gone = true;
    return false;
  }
  ctx._queued = q;
  return q < ctx._host.writeHighWater;
}

/** Ends a streamed response (the server calls it when the chain settles too). */
export function endStream(ctx: RequestContext): void {
  if (ctx._out !== OUT_STREAMING) return;
  ctx._out = OUT_ENDED;
  ctx._state |= 1; // S_ENDED
  let flags = REC_END | ctx._endFlags;
  // Fewer bytes than the Content-Length promised: the client would wait for
  // the rest, so the connection has to end.
  if (ctx._length >= 0 && ctx._written < ctx._length && ctx._methodCode !== 2) flags |= REC_CLOSE;
  if (!ctx._gone && ctx._slot >= 0) ctx._host.writeChunk(ctx, EMPTY, flags, ctx._chunked && ctx._methodCode !== 2);
  writeDone(ctx);
  const w = ctx._drainWaiter;
  if (w !== null) {
    ctx._drainWaiter = null;
    w.resolve();
  }
}

const EMPTY = new Uint8Array(0);

/** Tracers' timestamp for the end of the response (the server stamps whole responses itself). */
function writeDone(ctx: RequestContext): void {
  if (ctx._times !== null) ctx._times.writeDone = performance.now();
}

/** Ends a streamed response (head already sent, Content-Length set) with `length` bytes of an open file. */
export function endWithFile(ctx: RequestContext, fd: number, offset: number, length: number): void {
  ctx._out = OUT_ENDED;
  ctx._state |= 1; // S_ENDED
  if (ctx._slot < 0) {
    // In-process (inject): read the range for the captured response.
    const b = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, b, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    ctx._body = b.subarray(0, got);
  } else if (!ctx._gone) {
    const flags = REC_END | ctx._endFlags;
    const ok = length === 0 ? ctx._host.writeChunk(ctx, EMPTY, flags, false) >= 0 : ctx._host.sendFile(ctx, fd, offset, length, flags);
    if (!ok) ctx._gone = true;
  }
  writeDone(ctx);
}

export function drain(ctx: RequestContext): Promise<void> {
  if (ctx._gone) return Promise.reject(clientGone());
  if (ctx._out !== OUT_STREAMING || ctx._queued < ctx._host.writeHighWater) return Promise.resolve();
  if (ctx._drainWaiter !== null) return ctx._drainWaiter.promise;
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  ctx._drainWaiter = { promise, resolve, reject };
  ctx._host.waitDrain(ctx);
  return promise;
}

/** The reactor reported the connection drained (or gone). */
export function settleDrain(ctx: RequestContext, gone: boolean): void {
  if (gone) ctx._gone = true;
  else ctx._queued = 0;
  const w = ctx._drainWaiter;
  if (w === null) return;
  ctx._drainWaiter = null;
  if (gone) w.reject(clientGone());
  else w.resolve();
}

function clientGone(): FaradError {
  return new FaradError(ErrorCodes.CLIENT_GONE, "the client closed the connection");
}

export type BodySource = Readable | AsyncIterable<Uint8Array | string> | ReadableStream<Uint8Array>;

export interface SendOptions {
  /** The body's length in bytes, when known: sent as Content-Length instead of chunked coding. */
  length?: number;
  /** Content-Type of the body. */
  contentType?: string;
}

/** Pipes a Readable, an async iterable or a web ReadableStream into the response, with backpressure. */
export async function send(ctx: RequestContext, source: BodySource, options?: SendOptions): Promise<void> {
  checkOpen(ctx);
  if (options?.length !== undefined) {
    const n = options.length;
    if (!Number.isSafeInteger(n) || n < 0) throw new FaradError(ErrorCodes.INVALID_OPTION, "send length must be an integer >= 0");
    ctx._length = n;
  }
  if (options?.contentType !== undefined) ctx.setHeader("Content-Type", options.contentType);
  const iterable = source as AsyncIterable<Uint8Array | string>;
  if (typeof (iterable as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function") {
    throw new TypeError("send(source): expected a Readable, an async iterable or a ReadableStream");
  }
  if (ctx._out === OUT_NONE) begin(ctx);
  // Breaking out of for-await destroys a Readable and cancels a web stream.
  for await (const chunk of iterable) {
    if (!write(ctx, chunk)) await drain(ctx);
  }
  endStream(ctx);
}
