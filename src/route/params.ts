/**
 * Turning param bytes into strings. Only done when a handler asks for a
 * value, never during the lookup.
 */

const utf8 = new TextDecoder("utf-8", { fatal: true });
let scratch: Buffer = Buffer.allocUnsafe(256);

// One-entry cache of a Buffer view over the last buffer seen: production
// passes the same shared receive area every time, so this almost always hits
// and lets us use Buffer's native latin1 slice without a new view per call.
let lastBuf: Uint8Array | null = null;
let lastView: Buffer = Buffer.alloc(0);

function view(buf: Uint8Array): Buffer {
  if (buf === lastBuf) return lastView;
  lastBuf = buf;
  lastView = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return lastView;
}

/**
 * An ASCII (or latin1) string from bytes. Short values, the usual param, use
 * String.fromCharCode with a fixed argument count in chunks of 8, which V8
 * turns into a direct copy: several times cheaper than a native Buffer slice
 * for a few bytes. Past 32 bytes the native slice's fixed cost is amortised.
 */
export function byteString(b: Uint8Array, s: number, e: number): string {
  if (e - s > 32) return view(b).toString("latin1", s, e);
  const f = String.fromCharCode;
  let out = "";
  while (e - s >= 8) {
    out += f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    s += 8;
  }
  switch (e - s) {
    case 0: return out;
    case 1: return out + f(b[s]!);
    case 2: return out + f(b[s]!, b[s + 1]!);
    case 3: return out + f(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4: return out + f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5: return out + f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6: return out + f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    default: return out + f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
  }
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Bytes as they are, for a value that is not (or cannot be) unescaped: ASCII
 * as is; raw non-ASCII bytes as UTF-8 when they are valid UTF-8 (some clients
 * send unencoded UTF-8), else one char per byte (latin1) so no byte is lost.
 */
function rawValue(buf: Uint8Array, start: number, end: number, ascii: boolean): string {
  if (ascii) return byteString(buf, start, end);
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    return view(buf).toString("latin1", start, end);
  }
}

/**
 * The string value of a param (or catch-all) found at buf[start, end).
 *
 * With `unescape` (the router's unescapePathValues, on by default) percent
 * escapes are decoded and the resulting bytes read as UTF-8: `%2F` gives '/',
 * `%C3%A9` gives 'é'. '+' stays '+' (that rule belongs to query strings). If
 * any escape is malformed (`%`, `%G1`) or the decoded bytes are not valid
 * UTF-8 (`%FF`), the whole value is returned raw, undecoded.
 */
export function paramValue(buf: Uint8Array, start: number, end: number, unescape: boolean): string {
  let pct = false;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    bits |= c;
    if (c === 0x25) pct = true;
  }
  const ascii = bits < 0x80;
  if (!pct || !unescape) return ascii ? byteString(buf, start, end) : rawValue(buf, start, end, false);
  if (scratch.length < end - start) scratch = Buffer.allocUnsafe(2 * (end - start));
  const out = scratch;
  let w = 0;
  let decodedAscii = true;
  for (let i = start; i < end; i++) {
    let c = buf[i]!;
    if (c === 0x25) {
      if (i + 2 >= end) return rawValue(buf, start, end, ascii);
      const hi = hexVal(buf[i + 1]!);
      const lo = hexVal(buf[i + 2]!);
      if (hi < 0 || lo < 0) return rawValue(buf, start, end, ascii);
      c = (hi << 4) | lo;
      i += 2;
    }
    if (c >= 0x80) decodedAscii = false;
    out[w++] = c;
  }
  if (decodedAscii) return byteString(out, 0, w);
  try {
    return utf8.decode(out.subarray(0, w));
  } catch {
    return rawValue(buf, start, end, ascii);
  }
}
