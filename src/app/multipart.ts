/**
 * Streaming multipart/form-data (RFC 7578): ctx.multipart() yields the parts
 * of the body as they arrive, fields as strings and files as Readables.
 *
 * Flow control runs end to end. The body is read from ctx.bodyStream() one
 * chunk at a time and written into busboy; the next chunk is read only when
 * busboy has taken the last one and every part parsed so far has been handed
 * to the consumer. busboy holds back a chunk's callback while a file part's
 * stream is full, so a consumer that reads a file slowly stops the reading
 * of the body, which pauses the socket. Memory per request stays near one
 * fieldSize plus a few 64 KiB buffers, whatever the upload's size.
 *
 * A file part not read to its end when the next part is asked for is drained
 * (its bytes discarded). Every limit answers 413 with a message naming it.
 */
import { Busboy } from "@fastify/busboy";
import { Readable } from "node:stream";
import { ErrorCodes, FaradError, HttpError } from "../common/errors.js";
import type { RequestContext } from "./context.js";

/** Error codes of multipart parsing (err.code); the values are ErrorCodes'. */
export const MultipartErrorCodes = Object.freeze({
  /** A limit was passed: a 413; err.limit names it. */
  LIMIT: ErrorCodes.MULTIPART_LIMIT,
  /** The body is not well-formed multipart/form-data: a 400. */
  MALFORMED: ErrorCodes.MULTIPART_MALFORMED,
  /** The request is not multipart/form-data: a 415. */
  UNSUPPORTED_MEDIA_TYPE: ErrorCodes.MULTIPART_MEDIA_TYPE,
});

export type MultipartLimit = "fileSize" | "files" | "fields" | "fieldSize" | "fieldNameSize" | "parts" | "limit";

/** A multipart failure answered with its status (413, 400 or 415). */
export class MultipartError extends HttpError {
  /** The limit that was passed (413 only). */
  readonly limit: MultipartLimit | undefined;
  constructor(status: 400 | 413 | 415, code: string, message: string, limit?: MultipartLimit) {
    super(status, message, { code });
    this.name = "MultipartError";
    this.limit = limit;
  }
}

export interface MultipartOptions {
  /** Bytes in one file part. Default 10 MiB (10485760). */
  fileSize?: number;
  /** File parts. Default 10. */
  files?: number;
  /** Non-file fields. Default 100. */
  fields?: number;
  /** Bytes in one field value. Default 1 MiB (1048576). */
  fieldSize?: number;
  /** Bytes in a part's name. Default 100. */
  fieldNameSize?: number;
  /** Parts of any kind (including those skipped for lacking a form-data disposition). Default 1000. */
  parts?: number;
  /** Header lines per part; busboy ignores the lines past it (no error). Default 2000. */
  headerPairs?: number;
  /** Bytes in the whole body. Default: no limit (each part is bounded). */
  limit?: number;
}

export interface FieldPart {
  kind: "field";
  name: string;
  value: string;
  /** The part's Content-Type (text/plain when absent). */
  mimeType: string;
}

export interface FilePart {
  kind: "file";
  name: string;
  /** The file name the client sent (its last path component; "" if none). */
  filename: string;
  mimeType: string;
  /** The part's bytes as they arrive. Errors with the 413 if it passes fileSize. */
  stream: Readable;
}

export type Part = FieldPart | FilePart;

/** What ctx.multipart() returns: iterate it with for await. */
export interface MultipartReader extends AsyncIterableIterator<Part> {
  [Symbol.asyncIterator](): MultipartReader;
}

const DEFAULTS = {
  fileSize: 10 * 1024 * 1024,
  files: 10,
  fields: 100,
  fieldSize: 1024 * 1024,
  fieldNameSize: 100,
  parts: 1000,
  headerPairs: 2000,
  limit: Infinity,
} satisfies Required<MultipartOptions>;

type Limits = Required<MultipartOptions>;

function resolveLimits(o: MultipartOptions): Limits {
  if (typeof o !== "object" || o === null) throw new FaradError(ErrorCodes.INVALID_OPTION, "multipart: options must be an object");
  const out = { ...DEFAULTS };
  for (const k of Object.keys(DEFAULTS) as (keyof Limits)[]) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !(v >= 0) || (v !== Infinity && !Number.isSafeInteger(v))) {
      throw new FaradError(ErrorCodes.INVALID_OPTION, `multipart: ${k} must be an integer >= 0 (or Infinity)`);
    }
    out[k] = v;
  }
  return out;
}

function tooLarge(limit: MultipartLimit, message: string): MultipartError {
  return new MultipartError(413, MultipartErrorCodes.LIMIT, `multipart: ${message} (limit ${limit})`, limit);
}

function malformed(message: string): MultipartError {
  return new MultipartError(400, MultipartErrorCodes.MALFORMED, `malformed multipart body: ${message}`);
}

/** Contexts whose body is already being read by a reader. */
const claimed = new WeakSet<RequestContext>();

const FILE_HIGH_WATER = 64 * 1024;

class Reader implements MultipartReader {
  #ctx: RequestContext;
  #limits: Limits;
  #queue: Part[] = [];
  #error: Error | null = null;
  #finished = false;
  #started = false;
  /** The consumer stopped iterating (break, return()). */
  #stopped = false;
  /** The last file part handed out. */
  #current: Readable | null = null;
  /** The consumer waiting for a part. */
  #wakeConsumer: (() => void) | null = null;
  /** The pump waiting for the consumer to take the queued parts. */
  #wakePump: (() => void) | null = null;
  #failed: Promise<void>;
  #onFail!: () => void;

  constructor(ctx: RequestContext, limits: Limits) {
    this.#ctx = ctx;
    this.#limits = limits;
    this.#failed = new Promise((resolve) => (this.#onFail = resolve));
  }

  [Symbol.asyncIterator](): MultipartReader {
    return this;
  }

  async next(): Promise<IteratorResult<Part>> {
    if (!this.#started) this.#start();
    this.#drainCurrent();
    for (;;) {
      if (this.#error !== null) throw this.#error;
      const part = this.#queue.shift();
      if (part !== undefined) {
        if (part.kind === "file") this.#current = part.stream;
        this.#wake("pump");
        return { value: part, done: false };
      }
      if (this.#finished || this.#stopped) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.#wakeConsumer = resolve));
    }
  }

  /**
   * Ends the iteration (for await calls it on break). The file part being
   * read stays readable to its end; the rest of the body is not read (the
   * server drains a small remainder or closes the connection).
   */
  async return(): Promise<IteratorResult<Part>> {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#wake("pump");
    return { value: undefined, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<Part>> {
    await this.return();
    throw err;
  }

  #wake(who: "pump" | "consumer"): void {
    const f = who === "pump" ? this.#wakePump : this.#wakeConsumer;
    if (who === "pump") this.#wakePump = null;
    else this.#wakeConsumer = null;
    f?.();
  }

  #drainCurrent(): void {
    const s = this.#current;
    if (s !== null && !s.readableEnded && !s.destroyed) s.resume();
    this.#current = null;
  }

  #fail(err: Error): void {
    if (this.#error !== null) return;
    this.#error = err;
    // The rest of the body will not be read: the connection cannot be reused.
    this.#ctx._state |= 8; // S_CLOSE
    const s = this.#current;
    if (s !== null && !s.readableEnded && !s.destroyed) s.destroy(err);
    for (const p of this.#queue) if (p.kind === "file") p.stream.destroy(err);
    this.#queue.length = 0;
    this.#onFail();
    this.#wake("consumer");
    this.#wake("pump");
  }

  #start(): void {
    this.#started = true;
    const ctx = this.#ctx;
    const l = this.#limits;
    const ct = ctx.header("content-type");
    if (ct === undefined || !/^\s*multipart\/form-data\s*(;|$)/i.test(ct)) {
      this.#fail(new MultipartError(415, MultipartErrorCodes.UNSUPPORTED_MEDIA_TYPE, `expected a multipart/form-data body, got ${ct === undefined ? "no Content-Type" : JSON.stringify(ct)}`));
      return;
    }
    let bb: InstanceType<typeof Busboy>;
    try {
      bb = new Busboy({
        headers: { "content-type": ct },
        fileHwm: FILE_HIGH_WATER,
        limits: { fileSize: l.fileSize, files: l.files, fields: l.fields, fieldSize: l.fieldSize, parts: l.parts, headerPairs: l.headerPairs },
      });
    } catch (e) {
      this.#fail(malformed((e as Error).message));
      return;
    }
    bb.on("field", (name: string | undefined, value: string, _nameTruncated: boolean, valueTruncated: boolean, _enc: string, mimeType: string) => {
      if (!this.#checkName(name)) return;
      if (valueTruncated) {
        this.#fail(tooLarge("fieldSize", `field ${JSON.stringify(name)} is larger than ${l.fieldSize} bytes`));
        return;
      }
      if (this.#stopped || this.#error !== null) return;
      this.#queue.push({ kind: "field", name: name!, value, mimeType });
      this.#wake("consumer");
    });
    bb.on("file", (name: string | undefined, source: Readable, filename: string | undefined, _enc: string, mimeType: string) => {
      // busboy's own errors on a part (a plain "terminated early") are
      // replaced by the reader's, which go to the consumer's stream.
      source.on("error", () => {});
      if (!this.#checkName(name) || this.#stopped || this.#error !== null) {
        source.resume();
        return;
      }
      source.on("limit", () => {
        this.#fail(tooLarge("fileSize", `file ${JSON.stringify(filename ?? name)} is larger than ${l.fileSize} bytes`));
      });
      this.#queue.push({ kind: "file", name: name!, filename: filename ?? "", mimeType, stream: relay(source) });
      this.#wake("consumer");
    });
    bb.on("partsLimit", () => this.#fail(tooLarge("parts", `more than ${l.parts} parts`)));
    bb.on("filesLimit", () => this.#fail(tooLarge("files", `more than ${l.files} files`)));
    bb.on("fieldsLimit", () => this.#fail(tooLarge("fields", `more than ${l.fields} fields`)));
    bb.on("error", (e: Error) => this.#fail(malformed(e.message)));
    void this.#pump(bb);
  }

  /** RFC 7578 §4.2: every part has a name; busboy does not bound its length. */
  #checkName(name: string | undefined): boolean {
    if (name === undefined) {
      this.#fail(malformed("a part without a name in its Content-Disposition"));
      return false;
    }
    if (Buffer.byteLength(name) > this.#limits.fieldNameSize) {
      this.#fail(tooLarge("fieldNameSize", `a part name is longer than ${this.#limits.fieldNameSize} bytes`));
      return false;
    }
    return true;
  }

  /** Resolves when `p` does, or when the reader fails (whatever `p` does then). */
  #unlessFailed(p: Promise<void>): Promise<void> {
    return Promise.race([p, this.#failed]);
  }

  async #pump(bb: InstanceType<typeof Busboy>): Promise<void> {
    const limit = this.#limits.limit;
    let src: Readable;
    try {
      src = this.#ctx.bodyStream(limit === Infinity ? undefined : { limit });
    } catch (e) {
      this.#fail(e as Error);
      return;
    }
    const finished = new Promise<void>((resolve) => bb.once("finish", () => resolve()));
    try {
      for await (const chunk of src) {
        await this.#unlessFailed(new Promise<void>((resolve) => bb.write(chunk as Buffer, () => resolve())));
        // Read on only when the consumer has taken what was parsed.
        while (this.#error === null && !this.#stopped && this.#queue.length > 0) {
          await this.#unlessFailed(new Promise<void>((resolve) => (this.#wakePump = resolve)));
        }
        if (this.#error !== null) return;
        if (this.#stopped && this.#currentDone()) return;
      }
      bb.end();
      await this.#unlessFailed(finished);
      if (this.#error !== null) return;
      this.#finished = true;
      this.#wake("consumer");
    } catch (e) {
      const err = e as Error & { status?: number };
      if (err instanceof HttpError && err.status === 413) this.#fail(tooLarge("limit", `the body is larger than ${limit} bytes`));
      else this.#fail(err);
    }
  }

  #currentDone(): boolean {
    const s = this.#current;
    return s === null || s.readableEnded || s.destroyed;
  }
}

/**
 * The consumer's view of a file part: busboy's stream relayed with
 * backpressure (a full relay pauses the source, which holds back busboy),
 * so that only the reader decides how it fails.
 */
function relay(source: Readable): Readable {
  const out = new Readable({ highWaterMark: FILE_HIGH_WATER, read: () => void source.resume() });
  // Without a listener, destroying a stream nobody reads would throw.
  out.on("error", () => {});
  source.on("data", (chunk: Buffer) => {
    if (!out.destroyed && !out.push(chunk)) source.pause();
  });
  source.on("end", () => {
    if (!out.destroyed) out.push(null);
  });
  return out;
}

/** The parts of ctx's multipart/form-data body (see MultipartOptions for the limits). */
export function readMultipart(ctx: RequestContext, options: MultipartOptions = {}): MultipartReader {
  const limits = resolveLimits(options);
  if (claimed.has(ctx)) throw new FaradError(ErrorCodes.BODY_ABORTED, "multipart(): the body is already being read as multipart");
  claimed.add(ctx);
  return new Reader(ctx, limits);
}
