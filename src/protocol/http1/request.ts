/**
 * Reading one request out of the shared tables without making strings until
 * asked. A RequestView starts over the transport's input region (valid only
 * during the batch that delivered it); detach() copies its bytes out so it
 * survives the batch.
 */
import {
  E_BODY_LEN,
  E_BODY_OFF,
  E_FLAGS,
  E_GEN,
  E_HEAD_LEN,
  E_HEAD_OFF,
  E_HEADER_COUNT,
  E_HEADER_INDEX,
  E_LENGTH_HI,
  E_LENGTH_LO,
  E_METHOD,
  E_PATH_LEN,
  E_SEQ,
  E_SLOT,
  E_TARGET_LEN,
  E_TARGET_OFF,
  F_TARGET_FORM_SHIFT,
  HEADER_STRIDE,
} from "../../transport/layout.js";

export const FORM_ORIGIN = 0;
export const FORM_ABSOLUTE = 1;
export const FORM_AUTHORITY = 2;
export const FORM_ASTERISK = 3;

const METHODS = ["", "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

export class RequestView {
  slot: number;
  gen: number;
  seq: number;
  buf: Buffer;
  rows: Int32Array;
  /** Subtracted from every absolute offset (non-zero once detached). */
  base: number;
  rowBase: number;
  headerCount: number;
  methodCode: number;
  methodLen: number;
  versionMinor: number;
  flags: number;
  headOff: number;
  headLen: number;
  targetOff: number;
  targetLen: number;
  pathLen: number;
  bodyOff: number;
  bodyLen: number;
  contentLength: number;

  constructor(ev: Int32Array, i: number, input: Buffer, rows: Int32Array) {
    this.slot = ev[i + E_SLOT]!;
    this.gen = ev[i + E_GEN]!;
    this.seq = ev[i + E_SEQ]!;
    this.buf = input;
    this.rows = rows;
    this.base = 0;
    this.rowBase = ev[i + E_HEADER_INDEX]! * HEADER_STRIDE;
    this.headerCount = ev[i + E_HEADER_COUNT]!;
    const m = ev[i + E_METHOD]!;
    this.methodCode = m & 0xff;
    this.versionMinor = (m >> 8) & 0xff;
    this.methodLen = m >>> 16;
    this.flags = ev[i + E_FLAGS]!;
    this.headOff = ev[i + E_HEAD_OFF]!;
    this.headLen = ev[i + E_HEAD_LEN]!;
    this.targetOff = ev[i + E_TARGET_OFF]!;
    this.targetLen = ev[i + E_TARGET_LEN]!;
    this.pathLen = ev[i + E_PATH_LEN]!;
    this.bodyOff = ev[i + E_BODY_OFF]!;
    this.bodyLen = ev[i + E_BODY_LEN]!;
    this.contentLength = (ev[i + E_LENGTH_HI]! >>> 0) * 0x100000000 + (ev[i + E_LENGTH_LO]! >>> 0);
  }

  get targetForm(): number {
    return (this.flags >> F_TARGET_FORM_SHIFT) & 3;
  }

  method(): string {
    return this.methodCode !== 0 ? METHODS[this.methodCode]! : this.latin1(this.headOff, this.headOff + this.methodLen);
  }

  target(): string {
    return this.latin1(this.targetOff, this.targetOff + this.targetLen);
  }

  /** The path bytes [start, end) in `buf` coordinates (after detach too). */
  pathStart(): number {
    let s = this.targetOff - this.base;
    const end = s + this.pathLen;
    if (this.targetForm === FORM_ABSOLUTE) {
      // scheme "://" authority path: route on the path (RFC 9112 §3.2.2).
      const b = this.buf;
      let i = s;
      while (i + 2 < end && !(b[i] === 0x3a && b[i + 1] === 0x2f && b[i + 2] === 0x2f)) i++;
      i += 3;
      while (i < end && b[i] !== 0x2f) i++;
      s = i;
    }
    return s;
  }

  pathEnd(): number {
    return this.targetOff - this.base + this.pathLen;
  }

  targetEnd(): number {
    return this.targetOff - this.base + this.targetLen;
  }

  /** Value of the first header called `name` (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    const i = this.#find(name, 0);
    if (i < 0) return undefined;
    const r = this.rows;
    const off = r[i + 2]! - this.base;
    return this.buf.toString("latin1", off, off + r[i + 3]!);
  }

  /** Every value of header `name`, in order. */
  headerValues(name: string): string[] {
    const out: string[] = [];
    const r = this.rows;
    for (let i = this.#find(name, 0); i >= 0; i = this.#find(name, i + HEADER_STRIDE)) {
      const off = r[i + 2]! - this.base;
      out.push(this.buf.toString("latin1", off, off + r[i + 3]!));
    }
    return out;
  }

  /** All header fields as [name, value] pairs, in order, duplicates kept. */
  headerPairs(): [string, string][] {
    const out: [string, string][] = [];
    const r = this.rows;
    const end = this.rowBase + this.headerCount * HEADER_STRIDE;
    for (let i = this.rowBase; i < end; i += HEADER_STRIDE) {
      const n = r[i]! - this.base;
      const v = r[i + 2]! - this.base;
      out.push([this.buf.toString("latin1", n, n + r[i + 1]!), this.buf.toString("latin1", v, v + r[i + 3]!)]);
    }
    return out;
  }

  /** Copies the head (and an inline body) out of the shared region. */
  detach(): void {
    if (this.base !== 0 || this.buf.length === 0) return;
    const start = this.headOff;
    const end = Math.max(this.headOff + this.headLen, this.bodyOff + this.bodyLen);
    this.buf = Buffer.from(this.buf.subarray(start, end));
    this.base = start;
    const rows = this.rows.slice(this.rowBase, this.rowBase + this.headerCount * HEADER_STRIDE);
    this.rows = rows;
    this.rowBase = 0;
  }

  /** The inline body bytes (a view; copy before keeping). */
  inlineBody(): Buffer {
    const off = this.bodyOff - this.base;
    return this.buf.subarray(off, off + this.bodyLen);
  }

  latin1(absStart: number, absEnd: number): string {
    return this.buf.toString("latin1", absStart - this.base, absEnd - this.base);
  }

  #find(name: string, from: number): number {
    const r = this.rows;
    const b = this.buf;
    const n = name.length;
    const end = this.rowBase + this.headerCount * HEADER_STRIDE;
    for (let i = Math.max(from, this.rowBase); i < end; i += HEADER_STRIDE) {
      if (r[i + 1] !== n) continue;
      const off = r[i]! - this.base;
      let k = 0;
      for (; k < n; k++) {
        let x = b[off + k]!;
        let y = name.charCodeAt(k);
        if (x >= 65 && x <= 90) x += 32;
        if (y >= 65 && y <= 90) y += 32;
        if (x !== y) break;
      }
      if (k === n) return i;
    }
    return -1;
  }
}
