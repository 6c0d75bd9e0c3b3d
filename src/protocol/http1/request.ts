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
  EVENT_STRIDE,
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
 *
 * Only what every request reads is copied out of the event row at
 * construction; the rest is read from the row when asked (a context is made
 * per request, so each field costs). The row is the shared event table
 * during the batch and a copy of it once the request is detached.
 *
 * It has no constructor (and no private members, which need one): the
 * subclass's constructor calls _view(). A base class with a constructor of
 * its own makes every `super()` a generic construct call that V8 does not
 * inline (measured: 6% of the JavaScript time per request); with a default
 * one, the object is allocated in place.
 * Fields are `declare`d for the same reason: a plain class-field declaration
 * compiles (ES2022) to a definition as undefined before the assignment.
 */
export class RequestView {
  /** @internal */ declare _slot: number;
  /** @internal */ declare _gen: number;
  /** @internal */ declare _seq: number;
  /** @internal */ declare _flags: number;
  /** @internal */ declare _buf: Buffer;
  /** @internal */ declare _rows: Int32Array;
  /** Subtracted from every absolute offset (non-zero once detached). */
  /** @internal */ declare _base: number;
  /** @internal The event table holding this request's row, and the row's index in it. */
  declare _ev: Int32Array;
  /** @internal */ declare _e: number;

  /** @internal Fills the fields: the subclass's constructor calls it first. */
  _view(ev: Int32Array, i: number, input: Buffer, rows: Int32Array): void {
    this._slot = ev[i + E_SLOT]!;
    this._gen = ev[i + E_GEN]!;
    this._seq = ev[i + E_SEQ]!;
    this._flags = ev[i + E_FLAGS]!;
    this._buf = input;
    this._rows = rows;
    this._base = 0;
    this._ev = ev;
    this._e = i;
  }

  /** @internal */ get _rowBase(): number {
    return this._ev[this._e + E_HEADER_INDEX]! * HEADER_STRIDE;
  }

  /** @internal */ get _headerCount(): number {
    return this._ev[this._e + E_HEADER_COUNT]!;
  }

  /** @internal */ get _methodCode(): number {
    return this._ev[this._e + E_METHOD]! & 0xff;
  }

  /** @internal */ get _versionMinor(): number {
    return (this._ev[this._e + E_METHOD]! >> 8) & 0xff;
  }

  /** @internal */ get _methodLen(): number {
    return this._ev[this._e + E_METHOD]! >>> 16;
  }

  /** @internal */ get _headOff(): number {
    return this._ev[this._e + E_HEAD_OFF]!;
  }

  /** @internal */ get _headLen(): number {
    return this._ev[this._e + E_HEAD_LEN]!;
  }

  /** @internal */ get _targetOff(): number {
    return this._ev[this._e + E_TARGET_OFF]!;
  }

  /** @internal */ get _targetLen(): number {
    return this._ev[this._e + E_TARGET_LEN]!;
  }

  /** @internal */ get _pathLen(): number {
    return this._ev[this._e + E_PATH_LEN]!;
  }

  /** @internal */ get _bodyOff(): number {
    return this._ev[this._e + E_BODY_OFF]!;
  }

  /** @internal */ get _bodyLen(): number {
    return this._ev[this._e + E_BODY_LEN]!;
  }

  /** @internal Declared Content-Length (0 without one). */
  get _contentLength(): number {
    const ev = this._ev;
    const e = this._e;
    return (ev[e + E_LENGTH_HI]! >>> 0) * 0x100000000 + (ev[e + E_LENGTH_LO]! >>> 0);
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
    if (this._targetForm === FORM_ABSOLUTE) {
      const end = s + this._pathLen;
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
    const i = findHeader(this, name, 0);
    if (i < 0) return undefined;
    const r = this._rows;
    const off = r[i + 2]! - this._base;
    return this._buf.toString("latin1", off, off + r[i + 3]!);
  }

  /** Every value of header `name`, in order. */
  /** @internal */ _headerValues(name: string): string[] {
    const out: string[] = [];
    const r = this._rows;
    for (let i = findHeader(this, name, 0); i >= 0; i = findHeader(this, name, i + HEADER_STRIDE)) {
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

  /** Copies the head (and an inline body) and the event row out of the shared regions. */
  /** @internal */ _detach(): void {
    if (this._base !== 0 || this._buf.length === 0) return;
    const start = this._headOff;
    const end = Math.max(start + this._headLen, this._bodyOff + this._bodyLen);
    this._buf = Buffer.from(this._buf.subarray(start, end));
    this._base = start;
    const rowBase = this._rowBase;
    this._rows = this._rows.slice(rowBase, rowBase + this._headerCount * HEADER_STRIDE);
    const row = this._ev.slice(this._e, this._e + EVENT_STRIDE);
    row[E_HEADER_INDEX] = 0;
    this._ev = row;
    this._e = 0;
  }

  /** The inline body bytes (a view; copy before keeping). */
  /** @internal */ _inlineBody(): Buffer {
    const off = this._bodyOff - this._base;
    return this._buf.subarray(off, off + this._bodyLen);
  }

  /** @internal */ _latin1(absStart: number, absEnd: number): string {
    return this._buf.toString("latin1", absStart - this._base, absEnd - this._base);
  }
}

/** Row index of the first header called `name` (case-insensitive) at or after `from`, or -1. */
function findHeader(v: RequestView, name: string, from: number): number {
  const r = v._rows;
  const b = v._buf;
  const n = name.length;
  const end = v._rowBase + v._headerCount * HEADER_STRIDE;
  for (let i = Math.max(from, v._rowBase); i < end; i += HEADER_STRIDE) {
    if (r[i + 1] !== n) continue;
    const off = r[i]! - v._base;
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
