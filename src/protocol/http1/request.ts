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

/**
 * The request fields and readers shared by every request object. The app
 * layer's RequestContext extends it, so one object per request carries both
 * (members are `_`-prefixed to stay out of the public API).
 */
export class RequestView {
  /** @internal */ _slot: number;
  /** @internal */ _gen: number;
  /** @internal */ _seq: number;
  /** @internal */ _buf: Buffer;
  /** @internal */ _rows: Int32Array;
  /** Subtracted from every absolute offset (non-zero once detached). */
  /** @internal */ _base: number;
  /** @internal */ _rowBase: number;
  /** @internal */ _headerCount: number;
  /** @internal */ _methodCode: number;
  /** @internal */ _methodLen: number;
  /** @internal */ _versionMinor: number;
  /** @internal */ _flags: number;
  /** @internal */ _headOff: number;
  /** @internal */ _headLen: number;
  /** @internal */ _targetOff: number;
  /** @internal */ _targetLen: number;
  /** @internal */ _pathLen: number;
  /** @internal */ _bodyOff: number;
  /** @internal */ _bodyLen: number;
  /** @internal */ _contentLength: number;

  constructor(ev: Int32Array, i: number, input: Buffer, rows: Int32Array) {
    this._slot = ev[i + E_SLOT]!;
    this._gen = ev[i + E_GEN]!;
    this._seq = ev[i + E_SEQ]!;
    this._buf = input;
    this._rows = rows;
    this._base = 0;
    this._rowBase = ev[i + E_HEADER_INDEX]! * HEADER_STRIDE;
    this._headerCount = ev[i + E_HEADER_COUNT]!;
    const m = ev[i + E_METHOD]!;
    this._methodCode = m & 0xff;
    this._versionMinor = (m >> 8) & 0xff;
    this._methodLen = m >>> 16;
    this._flags = ev[i + E_FLAGS]!;
    this._headOff = ev[i + E_HEAD_OFF]!;
    this._headLen = ev[i + E_HEAD_LEN]!;
    this._targetOff = ev[i + E_TARGET_OFF]!;
    this._targetLen = ev[i + E_TARGET_LEN]!;
    this._pathLen = ev[i + E_PATH_LEN]!;
    this._bodyOff = ev[i + E_BODY_OFF]!;
    this._bodyLen = ev[i + E_BODY_LEN]!;
    this._contentLength = (ev[i + E_LENGTH_HI]! >>> 0) * 0x100000000 + (ev[i + E_LENGTH_LO]! >>> 0);
  }

  /** @internal */ get _targetForm(): number {
    return (this._flags >> F_TARGET_FORM_SHIFT) & 3;
  }

  /** @internal */ _method(): string {
    return this._methodCode !== 0 ? METHODS[this._methodCode]! : this._latin1(this._headOff, this._headOff + this._methodLen);
  }

  /** @internal */ _target(): string {
    return this._latin1(this._targetOff, this._targetOff + this._targetLen);
  }

  /** The path bytes [start, end) in `buf` coordinates (after detach too). */
  /** @internal */ _pathStart(): number {
    let s = this._targetOff - this._base;
    const end = s + this._pathLen;
    if (this._targetForm === FORM_ABSOLUTE) {
      // scheme "://" authority path: route on the path (RFC 9112 §3.2.2).
      const b = this._buf;
      let i = s;
      while (i + 2 < end && !(b[i] === 0x3a && b[i + 1] === 0x2f && b[i + 2] === 0x2f)) i++;
      i += 3;
      while (i < end && b[i] !== 0x2f) i++;
      s = i;
    }
    return s;
  }

  /** @internal */ _pathEnd(): number {
    return this._targetOff - this._base + this._pathLen;
  }

  /** @internal */ _targetEnd(): number {
    return this._targetOff - this._base + this._targetLen;
  }

  /** Value of the first header called `name` (case-insensitive), or undefined. */
  /** @internal */ _header(name: string): string | undefined {
    const i = this.#find(name, 0);
    if (i < 0) return undefined;
    const r = this._rows;
    const off = r[i + 2]! - this._base;
    return this._buf.toString("latin1", off, off + r[i + 3]!);
  }

  /** Every value of header `name`, in order. */
  /** @internal */ _headerValues(name: string): string[] {
    const out: string[] = [];
    const r = this._rows;
    for (let i = this.#find(name, 0); i >= 0; i = this.#find(name, i + HEADER_STRIDE)) {
      const off = r[i + 2]! - this._base;
      out.push(this._buf.toString("latin1", off, off + r[i + 3]!));
    }
    return out;
  }

  /** All header fields as [name, value] pairs, in order, duplicates kept. */
  /** @internal */ _headerPairs(): [string, string][] {
    const out: [string, string][] = [];
    const r = this._rows;
    const end = this._rowBase + this._headerCount * HEADER_STRIDE;
    for (let i = this._rowBase; i < end; i += HEADER_STRIDE) {
      const n = r[i]! - this._base;
      const v = r[i + 2]! - this._base;
      out.push([this._buf.toString("latin1", n, n + r[i + 1]!), this._buf.toString("latin1", v, v + r[i + 3]!)]);
    }
    return out;
  }

  /** Copies the head (and an inline body) out of the shared region. */
  /** @internal */ _detach(): void {
    if (this._base !== 0 || this._buf.length === 0) return;
    const start = this._headOff;
    const end = Math.max(this._headOff + this._headLen, this._bodyOff + this._bodyLen);
    this._buf = Buffer.from(this._buf.subarray(start, end));
    this._base = start;
    const rows = this._rows.slice(this._rowBase, this._rowBase + this._headerCount * HEADER_STRIDE);
    this._rows = rows;
    this._rowBase = 0;
  }

  /** The inline body bytes (a view; copy before keeping). */
  /** @internal */ _inlineBody(): Buffer {
    const off = this._bodyOff - this._base;
    return this._buf.subarray(off, off + this._bodyLen);
  }

  /** @internal */ _latin1(absStart: number, absEnd: number): string {
    return this._buf.toString("latin1", absStart - this._base, absEnd - this._base);
  }

  #find(name: string, from: number): number {
    const r = this._rows;
    const b = this._buf;
    const n = name.length;
    const end = this._rowBase + this._headerCount * HEADER_STRIDE;
    for (let i = Math.max(from, this._rowBase); i < end; i += HEADER_STRIDE) {
      if (r[i + 1] !== n) continue;
      const off = r[i]! - this._base;
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
