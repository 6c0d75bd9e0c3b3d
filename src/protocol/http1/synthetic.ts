/**
 * Builds the reactor's request tables (event, header rows, head bytes) for a
 * request described in JavaScript, so in-process requests (Server#inject)
 * run through exactly the code that serves sockets.
 */
import {
  E_BODY_LEN,
  E_BODY_OFF,
  E_FLAGS,
  E_HEAD_LEN,
  E_HEAD_OFF,
  E_HEADER_COUNT,
  E_HEADER_INDEX,
  E_LENGTH_HI,
  E_LENGTH_LO,
  E_METHOD,
  E_PATH_LEN,
  E_SLOT,
  E_TARGET_LEN,
  E_TARGET_OFF,
  E_TYPE,
  EV_REQUEST,
  EVENT_STRIDE,
  F_BODY_END,
  F_HAS_BODY,
  F_KEEP_ALIVE,
  F_TARGET_FORM_SHIFT,
  HEADER_STRIDE,
} from "../../transport/layout.js";
import { isToken, isValidHeaderValue } from "./encode.js";
import { FORM_ABSOLUTE, FORM_ASTERISK, FORM_ORIGIN } from "./request.js";

const CODES: Record<string, number> = { GET: 1, HEAD: 2, POST: 3, PUT: 4, DELETE: 5, CONNECT: 6, OPTIONS: 7, TRACE: 8, PATCH: 9 };

export interface SyntheticRequest {
  method?: string;
  url: string;
  headers?: Record<string, string | string[]> | [string, string][];
  body?: string | Uint8Array;
}

/** Slot number of in-process requests: never a real connection. */
export const SYNTHETIC_SLOT = -1;

export interface SyntheticTables {
  event: Int32Array;
  buf: Buffer;
  rows: Int32Array;
}

export function synthesize(r: SyntheticRequest, seq: number): SyntheticTables {
  const method = r.method ?? "GET";
  if (!isToken(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`);
  const url = r.url;
  let form = FORM_ORIGIN;
  if (url === "*") form = FORM_ASTERISK;
  else if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) form = FORM_ABSOLUTE;
  else if (!url.startsWith("/")) throw new TypeError(`invalid url ${JSON.stringify(url)}: it must start with "/"`);
  if (!/^[\x21-\x7e]+$/.test(url)) throw new TypeError(`invalid url ${JSON.stringify(url)}: encode spaces and non-ASCII characters`);

  const pairs: [string, string][] = [];
  const h = r.headers ?? {};
  if (Array.isArray(h)) pairs.push(...h);
  else for (const [k, v] of Object.entries(h)) for (const one of Array.isArray(v) ? v : [v]) pairs.push([k, one]);
  const body = r.body === undefined ? null : typeof r.body === "string" ? Buffer.from(r.body) : Buffer.from(r.body);
  if (!pairs.some(([k]) => k.toLowerCase() === "host")) pairs.unshift(["host", "localhost"]);
  if (body !== null && !pairs.some(([k]) => k.toLowerCase() === "content-length")) pairs.push(["content-length", String(body.length)]);
  for (const [k, v] of pairs) {
    if (!isToken(k)) throw new TypeError(`invalid header name ${JSON.stringify(k)}`);
    if (!isValidHeaderValue(v)) throw new TypeError(`invalid value for header ${k}`);
  }

  const line = `${method} ${url} HTTP/1.1\r\n`;
  let head = line;
  const rows = new Int32Array(pairs.length * HEADER_STRIDE);
  for (let i = 0; i < pairs.length; i++) {
    const [k, v] = pairs[i]!;
    rows[i * HEADER_STRIDE] = head.length;
    rows[i * HEADER_STRIDE + 1] = k.length;
    rows[i * HEADER_STRIDE + 2] = head.length + k.length + 2;
    rows[i * HEADER_STRIDE + 3] = v.length;
    head += `${k}: ${v}\r\n`;
  }
  head += "\r\n";
  const headBytes = Buffer.from(head, "latin1");
  const buf = body === null ? headBytes : Buffer.concat([headBytes, body]);
  const q = url.indexOf("?");
  const ev = new Int32Array(EVENT_STRIDE);
  ev[E_TYPE] = EV_REQUEST;
  ev[E_SLOT] = SYNTHETIC_SLOT;
  ev[3] = seq;
  ev[E_HEAD_OFF] = 0;
  ev[E_HEAD_LEN] = headBytes.length;
  ev[E_METHOD] = (CODES[method] ?? 0) | (1 << 8) | (method.length << 16);
  ev[E_TARGET_OFF] = method.length + 1;
  ev[E_TARGET_LEN] = url.length;
  ev[E_PATH_LEN] = q < 0 ? url.length : q;
  ev[E_HEADER_INDEX] = 0;
  ev[E_HEADER_COUNT] = pairs.length;
  ev[E_BODY_OFF] = headBytes.length;
  ev[E_BODY_LEN] = body?.length ?? 0;
  ev[E_FLAGS] = F_KEEP_ALIVE | F_BODY_END | (body !== null && body.length > 0 ? F_HAS_BODY : 0) | (form << F_TARGET_FORM_SHIFT);
  ev[E_LENGTH_LO] = body?.length ?? 0;
  ev[E_LENGTH_HI] = 0;
  return { event: ev, buf, rows };
}
