/**
 * Server-sent events (HTML Living Standard §9.2): ctx.sse() turns the
 * response into a text/event-stream and returns a writer for events.
 *
 * Each event is one ctx.write(), so a heartbeat never lands inside an event.
 * Backpressure: send() hands the event to the reactor at once and returns
 * false once the connection's unsent bytes pass the high-water mark (await
 * drain() before sending more if you can wait). A producer that cannot wait
 * (a broadcast to many clients) may keep sending: the bytes queue in the
 * reactor up to `maxBuffered`, and past that the stream is closed, because a
 * client that far behind is better served by reconnecting with
 * Last-Event-ID than by silently losing events. Events are never dropped
 * one by one.
 *
 * The stream lives as long as the handler chain: the handler must await
 * `closed` (the server ends the response when the chain settles).
 */
import { ErrorCodes, FaradError } from "../common/errors.js";
import type { RequestContext } from "./context.js";

export interface SseOptions {
  /** Milliseconds between heartbeat comments while nothing else was sent; 0 disables. Default 15000. */
  heartbeatMs?: number;
  /** A `retry:` field (the client's reconnection delay in ms) sent first. Default: none. */
  retry?: number;
  /** Unsent bytes queued for this client past which the stream is closed as too slow. Default 1 MiB. */
  maxBuffered?: number;
}

export interface SseEvent {
  /** The data: a string as is (CR, LF and CRLF split it into several data lines); anything else as JSON. */
  data?: unknown;
  /** The event type (no CR or LF). */
  event?: string;
  /** The event id, which the client sends back as Last-Event-ID when it reconnects (no CR, LF or NUL). */
  id?: string;
  /** The client's reconnection delay in ms. */
  retry?: number;
}

export interface SseStream {
  /** Sends an event. Returns false once the client is behind (await drain()) or the stream is closed (isClosed). */
  send(event: SseEvent): boolean;
  /** Sends a comment (ignored by clients; keeps proxies from timing the stream out). */
  comment(text: string): boolean;
  /** Resolves when the client has caught up or the stream has closed; never rejects. */
  drain(): Promise<void>;
  /** Ends the stream. Idempotent. */
  close(): void;
  /** Resolves when the stream has ended: close(), the client left, c.signal aborted (deadline, shutdown), or the client fell too far behind. */
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
  /** The Last-Event-ID request header of a reconnecting client, or undefined. */
  readonly lastEventId: string | undefined;
}

const DEFAULT_HEARTBEAT = 15_000;
const DEFAULT_MAX_BUFFERED = 1024 * 1024;
const LINE_BREAK = /\r\n|\r|\n/;

function invalid(message: string): never {
  throw new FaradError(ErrorCodes.INVALID_OPTION, message);
}

function checkLine(name: string, value: unknown, nul: boolean): string {
  if (typeof value !== "string") invalid(`sse: ${name} must be a string`);
  if (/[\r\n]/.test(value) || (nul && value.includes("\0"))) invalid(`sse: ${name} must not contain CR or LF${nul ? " or NUL" : ""}`);
  return value;
}

function checkRetry(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) invalid("sse: retry must be an integer number of milliseconds >= 0");
  return value;
}

/** The wire form of one event, ending with the blank line that dispatches it. */
export function formatEvent(ev: SseEvent): string {
  if (typeof ev !== "object" || ev === null) invalid("sse: send() takes an object { data, event, id, retry }");
  let out = "";
  if (ev.event !== undefined) out += `event: ${checkLine("event", ev.event, false)}\n`;
  // The spec ignores an id containing NUL, which would silently break resumption.
  if (ev.id !== undefined) out += `id: ${checkLine("id", ev.id, true)}\n`;
  if (ev.retry !== undefined) out += `retry: ${checkRetry(ev.retry)}\n`;
  if (ev.data !== undefined) {
    const data = typeof ev.data === "string" ? ev.data : JSON.stringify(ev.data);
    if (data !== undefined) for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  }
  return out + "\n";
}

class SseWriter implements SseStream {
  readonly closed: Promise<void>;
  readonly lastEventId: string | undefined;
  #ctx: RequestContext;
  #resolve!: () => void;
  #isClosed = false;
  #timer: NodeJS.Timeout | null = null;
  #active = false;
  #maxBuffered: number;
  #signal: AbortSignal;
  #onAbort = (): void => this.close();

  constructor(ctx: RequestContext, options: SseOptions) {
    if (typeof options !== "object" || options === null) invalid("sse: options must be an object");
    const heartbeat = options.heartbeatMs ?? DEFAULT_HEARTBEAT;
    if (typeof heartbeat !== "number" || !(heartbeat >= 0) || heartbeat > 2 ** 31 - 1) invalid("sse: heartbeatMs must be a number of ms >= 0");
    const maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    if (typeof maxBuffered !== "number" || !(maxBuffered > 0)) invalid("sse: maxBuffered must be a number of bytes > 0");
    const retry = options.retry === undefined ? undefined : checkRetry(options.retry);
    this.#ctx = ctx;
    this.#maxBuffered = maxBuffered;
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
    this.lastEventId = ctx.header("last-event-id");
    ctx.setHeader("Content-Type", "text/event-stream");
    ctx.setHeader("Cache-Control", "no-cache");
    // nginx buffers proxied responses unless told not to.
    ctx.setHeader("X-Accel-Buffering", "no");
    ctx.flushHeaders();
    this.#signal = ctx.context.signal;
    if (this.#signal.aborted) {
      this.close();
      return;
    }
    this.#signal.addEventListener("abort", this.#onAbort, { once: true });
    if (retry !== undefined) this.#write(`retry: ${retry}\n\n`);
    if (heartbeat > 0) {
      this.#timer = setInterval(() => this.#beat(), heartbeat);
      this.#timer.unref();
    }
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(event: SseEvent): boolean {
    const bytes = formatEvent(event);
    return this.#write(bytes);
  }

  comment(text: string): boolean {
    if (typeof text !== "string") invalid("sse: comment() takes a string");
    let out = "";
    for (const line of text.split(LINE_BREAK)) out += line === "" ? ":\n" : `: ${line}\n`;
    return this.#write(out);
  }

  drain(): Promise<void> {
    if (this.#isClosed || !this.#usable()) return Promise.resolve();
    const ctx = this.#ctx;
    // ctx.drain() rejects when the client has gone: then the stream is over.
    return Promise.race([ctx.drain().catch(() => this.close()), this.closed]);
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#signal.removeEventListener("abort", this.#onAbort);
    if (this.#usable()) {
      try {
        this.#ctx.end();
      } catch {
        // Ended by someone else already: nothing left to end.
      }
    }
    this.#resolve();
  }

  /** The context is still ours to write on (not released by a settled chain). */
  #usable(): boolean {
    return (this.#ctx._state & 2) === 0; // S_RELEASED
  }

  #write(text: string): boolean {
    if (this.#isClosed) return false;
    const ctx = this.#ctx;
    if (!this.#usable() || ctx._gone) {
      this.close();
      return false;
    }
    let ok: boolean;
    try {
      ok = ctx.write(text);
    } catch {
      // The response was ended elsewhere (the handler deadline answered 503).
      this.close();
      return false;
    }
    if (ctx._gone || ctx._queued > this.#maxBuffered) {
      this.close();
      return false;
    }
    this.#active = true;
    return ok;
  }

  #beat(): void {
    if (!this.#usable() || this.#ctx._gone) {
      this.close();
      return;
    }
    // Only while the line is idle. A heartbeat also refreshes the unsent
    // byte count, so a client that stopped reading is noticed (maxBuffered).
    if (!this.#active) this.#write(":\n");
    this.#active = false;
  }
}

export function openSse(ctx: RequestContext, options: SseOptions = {}): SseStream {
  return new SseWriter(ctx, options);
}
