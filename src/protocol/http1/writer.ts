/**
 * Serializes HTTP/1.1 responses straight into the transport's shared output
 * region and leaves one record per response for the reactor, which writes
 * everything of one batch with one sendmsg per connection. Responses made
 * inside a batch (or its microtasks) are applied by the reactor when the
 * batch call returns; responses made later are flushed once per microtask
 * checkpoint, so many async responses still share a system call.
 */
import {
  C_IN_BATCH,
  C_NOW_SEC,
  C_OUT_RECORDS,
  C_OUT_USED,
  R_FLAGS,
  R_GEN,
  R_LEN,
  R_OFF,
  R_SEQ,
  R_SLOT,
  REC_CLOSE,
  REC_END,
  RECORD_STRIDE,
} from "../../transport/layout.js";
import type { NativeTransport } from "../../transport/native.js";
import { utf8Length, writeLatin1, writeUint, writeUtf8 } from "./encode.js";
import { bodyless, statusLine } from "./status.js";

/** Response modes. */
export const M_HEAD = 1; // HEAD request: headers as for GET, no body bytes
export const M_CLOSE = 2; // close the connection after this response
export const M_KEEP_ALIVE = 4; // HTTP/1.0 client asked for keep-alive: say yes

const CONTENT_LENGTH = Buffer.from("Content-Length: ");
const CONNECTION_CLOSE = Buffer.from("Connection: close\r\n");
const NO_TYPE = Buffer.alloc(0);
const CHUNKED = Buffer.from("Transfer-Encoding: chunked\r\n");
const CONNECTION_KEEP_ALIVE = Buffer.from("Connection: keep-alive\r\n");
// Whole-response bodies bigger than this go to the reactor as their own
// buffer instead of being copied into the shared region.
const EXTERNAL_BODY = 64 * 1024;
// Strings up to this many UTF-16 units are written on the guess that they
// are ASCII (see write()); 3 bytes per unit are reserved for them.
const GUESS_MAX = 16 * 1024;

export class ResponseWriter {
  readonly #t: NativeTransport;
  readonly #out: Buffer;
  readonly #records: Int32Array;
  readonly #control: Int32Array;
  readonly #recordCap: number;
  #flushQueued = false;
  /**
   * Per content-type line Buffer (callers reuse a few constant ones), per
   * status: the lead of a whole response's head (see #lead). Cleared when
   * the second changes, since the leads hold the Date line.
   */
  readonly #leads = new Map<Buffer, Buffer[]>();
  #lastStatus = -1;
  #lastType: Buffer | null = null;
  #lastLead: Buffer = NO_TYPE;
  #dateSec = -1;
  #dateLine: Buffer = NO_TYPE;
  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#control[C_OUT_RECORDS]! > 0) this.#t.handle.flush();
  };

  constructor(transport: NativeTransport) {
    this.#t = transport;
    this.#out = transport.output;
    this.#records = transport.records;
    this.#control = transport.control;
    this.#recordCap = transport.recordCapacity;
  }

  /**
   * Writes a complete response. `contentType` is a pre-encoded
   * "Content-Type: ...\r\n" line or null; `headers` is a flat
   * [name, value, ...] list of validated Latin-1 strings.
   *
   * The head is the lead (status line, Content-Type, Date and
   * "Content-Length: ", one piece made once per second per status and
   * type), the length, then Connection and the handler's headers: one copy
   * and a few bytes for the usual response. Field order carries no meaning
   * between different names (RFC 9110 §5.3).
   */
  write(
    slot: number,
    gen: number,
    seq: number,
    status: number,
    contentType: Buffer | null,
    headers: string[] | null,
    body: string | Uint8Array | null,
    mode: number,
  ): void {
    const noBody = bodyless(status);
    const head = (mode & M_HEAD) !== 0;
    // A string's UTF-8 length is only known once it is encoded: a short one
    // is written on the guess that it is ASCII (UTF-16 length = byte length)
    // and rewritten if the guess was wrong, instead of scanning it twice.
    const guess = typeof body === "string" && !noBody && !head && body.length <= GUESS_MAX;
    let bodyLen = 0;
    if (body !== null && !noBody) {
      if (typeof body !== "string") bodyLen = body.byteLength;
      else bodyLen = guess ? body.length : utf8Length(body);
    }
    const sendBody = bodyLen > 0 && !head;
    const lead = this.#lead(status, noBody ? null : contentType);

    let need = lead.length + 48;
    if (headers !== null) for (let i = 0; i < headers.length; i++) need += headers[i]!.length + 2;
    const external = sendBody && bodyLen > EXTERNAL_BODY;
    if (sendBody && !external) need += guess ? 3 * bodyLen : bodyLen;

    let pos = this.#reserve(need);
    const out = this.#out;
    const start = pos;
    out.set(lead, pos);
    pos += lead.length;
    const lengthAt = pos;
    pos = afterLead(out, pos, noBody ? -1 : bodyLen, mode, headers);
    const flags = REC_END | (mode & M_CLOSE ? REC_CLOSE : 0);
    if (external) {
      this.#record(slot, gen, seq, start, pos - start, 0);
      this.#control[C_OUT_USED] = pos;
      const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : (body as Uint8Array);
      this.#t.handle.writeExternal(slot, gen, seq, bytes, flags);
      return;
    }
    if (sendBody) {
      if (typeof body === "string") {
        const end = writeUtf8(out, pos, body);
        if (guess && end - pos !== bodyLen) {
          // Not ASCII: the head said the wrong length; write it again.
          pos = afterLead(out, lengthAt, end - pos, mode, headers);
          pos = writeUtf8(out, pos, body);
        } else {
          pos = end;
        }
      } else {
        pos += copyInto(out, pos, body!);
      }
    }
    this.#record(slot, gen, seq, start, pos - start, flags);
    this.#control[C_OUT_USED] = pos;
  }

  /**
   * Writes only the head of a response whose body follows in parts
   * (writeChunk / sendFile): with Content-Length when `length` >= 0, else
   * Transfer-Encoding: chunked. The record does not end the response.
   */
  writeHead(
    slot: number,
    gen: number,
    seq: number,
    status: number,
    contentType: Buffer | null,
    headers: string[] | null,
    mode: number,
    length: number,
  ): void {
    const noBody = bodyless(status);
    const line = statusLine(status);
    const date = this.#date();
    let need = line.length + date.length + 128 + (contentType?.length ?? 0);
    if (headers !== null) for (let i = 0; i < headers.length; i++) need += headers[i]!.length + 2;
    let pos = this.#reserve(need);
    const out = this.#out;
    const start = pos;
    out.set(line, pos);
    pos += line.length;
    if (!noBody) {
      if (contentType !== null) {
        out.set(contentType, pos);
        pos += contentType.length;
      }
      if (length >= 0) {
        out.set(CONTENT_LENGTH, pos);
        pos = writeUint(out, pos + CONTENT_LENGTH.length, length);
        out[pos++] = 13;
        out[pos++] = 10;
      } else {
        out.set(CHUNKED, pos);
        pos += CHUNKED.length;
      }
    }
    pos = writeTail(out, pos, date, mode, headers);
    this.#record(slot, gen, seq, start, pos - start, 0);
    this.#control[C_OUT_USED] = pos;
  }

  /** Sends anything written outside a batch now (normally a microtask does it). */
  flushNow(): void {
    this.#flush();
  }

  /**
   * Status line, Content-Type line, Date line and "Content-Length: " (no
   * Content-Type or Content-Length for a bodyless status) as one piece.
   */
  #lead(status: number, contentType: Buffer | null): Buffer {
    this.#date();
    // Most servers answer the same (status, type) over and over.
    if (status === this.#lastStatus && contentType === this.#lastType) return this.#lastLead;
    let byType = this.#leads.get(contentType ?? NO_TYPE);
    if (byType === undefined) {
      byType = [];
      // Content types outside the callers' caches (a new Buffer each time)
      // would grow this without bound within a second.
      if (this.#leads.size < 512) this.#leads.set(contentType ?? NO_TYPE, byType);
    }
    let p = byType[status];
    if (p === undefined) {
      const noBody = bodyless(status);
      const parts = [statusLine(status)];
      if (contentType !== null && !noBody) parts.push(contentType);
      parts.push(this.#dateLine);
      if (!noBody) parts.push(CONTENT_LENGTH);
      p = Buffer.concat(parts);
      byType[status] = p;
    }
    this.#lastStatus = status;
    this.#lastType = contentType;
    this.#lastLead = p;
    return p;
  }

  #reserve(need: number): number {
    const used = this.#control[C_OUT_USED]!;
    if (used + need <= this.#out.length && this.#control[C_OUT_RECORDS]! < this.#recordCap) return used;
    // Full: hand what is there to the reactor now; it resets both counters.
    this.#t.handle.flush();
    if (need > this.#out.length) throw new RangeError(`response head of ${need} bytes exceeds the output region`);
    return 0;
  }

  #record(slot: number, gen: number, seq: number, off: number, len: number, flags: number): void {
    const n = this.#control[C_OUT_RECORDS]!;
    const r = n * RECORD_STRIDE;
    const rec = this.#records;
    rec[r + R_SLOT] = slot;
    rec[r + R_GEN] = gen;
    rec[r + R_SEQ] = seq;
    rec[r + R_OFF] = off;
    rec[r + R_LEN] = len;
    rec[r + R_FLAGS] = flags;
    this.#control[C_OUT_RECORDS] = n + 1;
    // Inside a batch the reactor applies records when the call returns.
    if (this.#control[C_IN_BATCH] === 0 && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  #date(): Buffer {
    const sec = this.#control[C_IN_BATCH] === 1 ? this.#control[C_NOW_SEC]! : Math.floor(Date.now() / 1000);
    if (sec !== this.#dateSec) {
      this.#dateSec = sec;
      this.#dateLine = Buffer.from(`Date: ${new Date(sec * 1000).toUTCString()}\r\n`, "latin1");
      this.#leads.clear();
      this.#lastStatus = -1;
    }
    return this.#dateLine;
  }
}

/**
 * After a lead: the Content-Length value (`length` < 0: none, a bodyless
 * status), Connection, the handler's headers and the empty line.
 */
function afterLead(out: Buffer, pos: number, length: number, mode: number, headers: string[] | null): number {
  if (length >= 0) {
    pos = writeUint(out, pos, length);
    out[pos++] = 13;
    out[pos++] = 10;
  }
  if (headers === null && (mode & (M_CLOSE | M_KEEP_ALIVE)) === 0) {
    out[pos++] = 13;
    out[pos++] = 10;
    return pos;
  }
  return writeFields(out, pos, mode, headers);
}

/** The end of every head: Date, Connection, the handler's headers, the empty line. */
function writeTail(out: Buffer, pos: number, date: Buffer, mode: number, headers: string[] | null): number {
  out.set(date, pos);
  return writeFields(out, pos + date.length, mode, headers);
}

/** Connection, the handler's headers, the empty line. */
function writeFields(out: Buffer, pos: number, mode: number, headers: string[] | null): number {
  if (mode & M_CLOSE) {
    out.set(CONNECTION_CLOSE, pos);
    pos += CONNECTION_CLOSE.length;
  } else if (mode & M_KEEP_ALIVE) {
    out.set(CONNECTION_KEEP_ALIVE, pos);
    pos += CONNECTION_KEEP_ALIVE.length;
  }
  if (headers !== null) {
    for (let i = 0; i < headers.length; i += 2) {
      pos = writeLatin1(out, pos, headers[i]!);
      out[pos++] = 58; // ':'
      out[pos++] = 32;
      pos = writeLatin1(out, pos, headers[i + 1]!);
      out[pos++] = 13;
      out[pos++] = 10;
    }
  }
  out[pos++] = 13;
  out[pos++] = 10;
  return pos;
}

function copyInto(out: Buffer, pos: number, src: Uint8Array): number {
  const n = src.byteLength;
  if (n <= 64) {
    for (let i = 0; i < n; i++) out[pos + i] = src[i]!;
    return n;
  }
  out.set(src, pos);
  return n;
}
