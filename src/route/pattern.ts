import { ERR_ROUTE_INVALID, RouteError } from "./errors.js";

/** A piece of a parsed route pattern. */
export const PART_STATIC = 0;
export const PART_PARAM = 1;
export const PART_CATCH_ALL = 2;

export interface PatternPart {
  readonly kind: typeof PART_STATIC | typeof PART_PARAM | typeof PART_CATCH_ALL;
  /** The bytes a static part matches; empty for params. */
  readonly bytes: Uint8Array;
}

export interface ParsedPattern {
  readonly parts: PatternPart[];
  readonly paramNames: string[];
}

const EMPTY = new Uint8Array(0);

function invalid(path: string, why: string): RouteError {
  return new RouteError(ERR_ROUTE_INVALID, `invalid route path ${JSON.stringify(path)}: ${why}`);
}

function isNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f /* _ */ || c === 0x2d /* - */;
}

/**
 * Static text is matched byte for byte against the raw (still percent-encoded)
 * request path. Characters outside ASCII are therefore stored the way a client
 * sends them: UTF-8, percent-encoded with upper-case hex (RFC 3986 §2.1).
 */
function encodeStatic(text: string): Uint8Array {
  let ascii = true;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) { ascii = false; break; }
  if (ascii) return Uint8Array.from(Buffer.from(text, "latin1"));
  let out = "";
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) { out += ch; continue; }
    for (const b of Buffer.from(ch, "utf8")) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return Uint8Array.from(Buffer.from(out, "latin1"));
}

/**
 * Parses a route pattern. A param (`:name`) runs to the end of its segment,
 * so a segment holds at most one param and nothing after it; it may follow
 * static text (`/user_:name`). A catch-all (`*name`) must begin a segment and
 * be the last one. Names use [A-Za-z0-9_-]. Throws FARAD_ERR_ROUTE_INVALID.
 */
export function parsePattern(path: string): ParsedPattern {
  if (typeof path !== "string" || path.length === 0) {
    throw new RouteError(ERR_ROUTE_INVALID, `invalid route path ${JSON.stringify(path)}: the path is empty`);
  }
  if (path.charCodeAt(0) !== 0x2f) throw invalid(path, "it must begin with '/'");
  const parts: PatternPart[] = [];
  const paramNames: string[] = [];
  let staticStart = 0;
  let i = 0;
  const n = path.length;
  while (i < n) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x3f /* ? */ || c === 0x23 /* # */) {
      throw invalid(path, `character ${JSON.stringify(path[i])} at ${i} cannot appear in a path`);
    }
    if (c !== 0x3a /* : */ && c !== 0x2a /* * */) { i++; continue; }
    const isCatchAll = c === 0x2a;
    const wildStart = i;
    if (isCatchAll && path.charCodeAt(i - 1) !== 0x2f) {
      throw invalid(path, `catch-all at ${i} must begin a segment (write '/*name')`);
    }
    let j = i + 1;
    while (j < n && path.charCodeAt(j) !== 0x2f) j++;
    const name = path.slice(i + 1, j);
    const what = isCatchAll ? "catch-all" : "param";
    if (name.length === 0) throw invalid(path, `${what} at ${wildStart} has no name`);
    for (let k = 0; k < name.length; k++) {
      const d = name.charCodeAt(k);
      if (d === 0x3a || d === 0x2a) {
        throw invalid(path, `segment ${JSON.stringify(path.slice(wildStart, j))} holds two params; only one param per segment is allowed`);
      }
      if (!isNameChar(d)) {
        throw invalid(path, `${what} name ${JSON.stringify(name)} has ${JSON.stringify(name[k])}; names use [A-Za-z0-9_-] and a param runs to the end of its segment`);
      }
    }
    if (isCatchAll && j < n) throw invalid(path, `catch-all ${JSON.stringify("*" + name)} must be the last segment`);
    if (paramNames.includes(name)) throw invalid(path, `param name ${JSON.stringify(name)} is used twice`);
    if (wildStart > staticStart) {
      parts.push({ kind: PART_STATIC, bytes: encodeStatic(path.slice(staticStart, wildStart)) });
    }
    parts.push({ kind: isCatchAll ? PART_CATCH_ALL : PART_PARAM, bytes: EMPTY });
    paramNames.push(name);
    staticStart = j;
    i = j;
  }
  if (staticStart < n) parts.push({ kind: PART_STATIC, bytes: encodeStatic(path.slice(staticStart)) });
  return { parts, paramNames };
}
