/**
 * ctx.bodyChunks(): the request body as lent chunks, the fast way to read a
 * large upload. Each chunk is a view of the reactor's body slab (no copy)
 * that the handler borrows until it asks for the next one (or the loop ends,
 * or the request finishes); then the slab's bytes can be read into again.
 * So a body read this way allocates no memory per byte and leaves no
 * garbage for the GC, which is what bodyStream()'s own-your-chunk contract
 * cannot avoid (docs/streaming.md, "Upload throughput"). A handler that
 * wants to keep a chunk copies it (Buffer.from(chunk)).
 *
 * Flow control as for bodyStream(): past LENT_HIGH_WATER bytes waiting, the
 * reactor stops delivering this body until the handler catches up.
 */
import type { BodySlab } from "../transport/native.js";
import type { RequestContext } from "./context.js";

/** Bytes waiting for the handler before the reactor pauses this body. */
const LENT_HIGH_WATER = 1024 * 1024;

export interface LentBodyHost {
  /** Stops (true) or resumes the body's delivery. */
  pause(ctx: RequestContext, pause: boolean): void;
  /** A lent chunk of `slab` is no longer in use. */
  giveBack(slab: BodySlab): void;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

export class LentBody implements AsyncIterableIterator<Buffer> {
  readonly #ctx: RequestContext;
  readonly #host: LentBodyHost;
  /** Chunks not handed out yet, and the slab each was lent from (null: the chunk is ours). */
  #queue: Buffer[] = [];
  #slabs: (BodySlab | null)[] = [];
  #queued = 0;
  /** The slab of the chunk the handler holds now. */
  #current: BodySlab | null = null;
  #waiter: { resolve(r: IteratorResult<Buffer>): void; reject(e: Error): void } | null = null;
  #ended = false;
  #error: Error | null = null;
  /** The handler stopped (return(), or the request finished): nothing more is lent. */
  #closed = false;

  constructor(ctx: RequestContext, host: LentBodyHost) {
    this.#ctx = ctx;
    this.#host = host;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Gives back the chunk handed out last, then lends the next one. */
  next(): Promise<IteratorResult<Buffer>> {
    this.#giveBackCurrent();
    if (this.#queue.length > 0) return Promise.resolve({ done: false, value: this.#take() });
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#ended || this.#closed) return Promise.resolve(DONE);
    if (this.#waiter !== null) return Promise.reject(new Error("bodyChunks(): next() called again before the last one settled"));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** The loop ended early (break, throw): every chunk is given back. */
  return(): Promise<IteratorResult<Buffer>> {
    this.close();
    return Promise.resolve(DONE);
  }

  /** A body event's bytes, lent from `slab` (null: not lent, ours to keep). */
  push(chunk: Buffer, slab: BodySlab | null): void {
    if (this.#closed) {
      if (slab !== null) this.#host.giveBack(slab);
      return;
    }
    const w = this.#waiter;
    if (w !== null && this.#queue.length === 0) {
      this.#waiter = null;
      this.#current = slab;
      w.resolve({ done: false, value: chunk });
      return;
    }
    this.#queue.push(chunk);
    this.#slabs.push(slab);
    this.#queued += chunk.length;
    if (this.#queued > LENT_HIGH_WATER) this.#host.pause(this.#ctx, true);
  }

  /** The body's last byte arrived. */
  end(): void {
    this.#ended = true;
    const w = this.#waiter;
    if (w !== null && this.#queue.length === 0) {
      this.#waiter = null;
      w.resolve(DONE);
    }
  }

  /** The body failed: queued chunks are dropped, the next next() rejects. */
  fail(err: Error): void {
    if (this.#error !== null || this.#ended) return;
    this.#error = err;
    this.#dropQueue();
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w.reject(err);
    }
  }

  /** Nothing more is lent; every chunk comes back (the request finished, or return()). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#giveBackCurrent();
    this.#dropQueue();
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w.resolve(DONE);
    }
  }

  #take(): Buffer {
    const chunk = this.#queue.shift()!;
    this.#current = this.#slabs.shift()!;
    this.#queued -= chunk.length;
    if (this.#queued <= LENT_HIGH_WATER / 4) this.#host.pause(this.#ctx, false);
    return chunk;
  }

  #giveBackCurrent(): void {
    const s = this.#current;
    if (s === null) return;
    this.#current = null;
    this.#host.giveBack(s);
  }

  #dropQueue(): void {
    for (const s of this.#slabs) if (s !== null) this.#host.giveBack(s);
    this.#queue = [];
    this.#slabs = [];
    this.#queued = 0;
  }
}
