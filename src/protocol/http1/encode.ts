/**
 * Small encoders that write into a Buffer at an offset without allocating.
 * Short ASCII strings are copied in a JS loop, which is cheaper than a call
 * into C++ (Buffer#write) for the few dozen bytes of a header or a small body.
 */
const SHORT = 64;

/** UTF-8 length of s. */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n <= SHORT) {
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, "utf8");
    return n;
  }
  return Buffer.byteLength(s, "utf8");
}

/** Writes s as UTF-8 at pos; returns the new position. Room must be there. */
export function writeUtf8(out: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n <= SHORT) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[pos + i] = c;
    }
    if (i === n) return pos + n;
  }
  return pos + out.write(s, pos, "utf8");
}

/** Writes s as Latin-1 (header names and values, already validated). */
export function writeLatin1(out: Buffer, pos: number, s: string): number {
  const n = s.length;
  if (n <= SHORT) {
    for (let i = 0; i < n; i++) out[pos + i] = s.charCodeAt(i);
    return pos + n;
  }
  return pos + out.write(s, pos, "latin1");
}

/** Writes a non-negative integer in decimal; returns the new position. */
export function writeUint(out: Buffer, pos: number, v: number): number {
  if (v < 10) {
    out[pos] = 48 + v;
    return pos + 1;
  }
  if (v < 100) {
    // Small lengths are the common case: integer arithmetic, no loop.
    const t = (v / 10) | 0;
    out[pos] = 48 + t;
    out[pos + 1] = 48 + v - t * 10;
    return pos + 2;
  }
  let digits = 0;
  for (let t = v; t >= 1; t = Math.floor(t / 10)) digits++;
  let p = pos + digits;
  for (let t = v; p > pos; t = Math.floor(t / 10)) out[--p] = 48 + (t % 10);
  return pos + digits;
}

/** True if s is a valid header field value: no CR, LF, NUL, and Latin-1 only (RFC 9110 §5.5). */
export function isValidHeaderValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/** True if s is a token (RFC 9110 §5.6.2): header names and methods. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}
