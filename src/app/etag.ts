/**
 * Entity tags and conditional GET (RFC 9110 §8.8.3, §13.1.2, §13.1.3).
 */
import * as crypto from "node:crypto";
import { ErrorCodes, FaradError } from "../common/errors.js";

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3)
const ETAGC = /^[\x21\x23-\x7e\x80-\xff]*$/;
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

/**
 * The ETag header value for `value`: an opaque tag without quotes is quoted;
 * a complete entity-tag (`"x"` or `W/"x"`) is kept. `weak` makes it weak.
 */
export function formatEtag(value: string, weak = false): string {
  if (typeof value !== "string") throw new FaradError(ErrorCodes.INVALID_HEADER, "etag: the value must be a string");
  let tag: string;
  if (ENTITY_TAG.test(value)) tag = value;
  else if (ETAGC.test(value)) tag = `"${value}"`;
  else throw new FaradError(ErrorCodes.INVALID_HEADER, `invalid entity tag ${JSON.stringify(value)}: DQUOTE, spaces and control characters are not allowed`);
  if (weak && !tag.startsWith("W/")) tag = `W/${tag}`;
  return tag;
}

// Node 20.12+ has the one-shot crypto.hash, faster than createHash for small inputs.
const oneShot = (crypto as { hash?: (alg: string, data: crypto.BinaryLike, enc: "base64") => string }).hash;

/**
 * A strong ETag computed from content: its length and a SHA-1 digest, as
 * `"<length hex>-<27 base64 chars>"`. SHA-1 here is a fingerprint, not a
 * security measure; 162 bits of it leave collisions out of reach.
 */
export function etagOf(content: Uint8Array | string): string {
  const len = typeof content === "string" ? Buffer.byteLength(content) : content.byteLength;
  const digest = oneShot !== undefined ? oneShot("sha1", content, "base64") : crypto.createHash("sha1").update(content).digest("base64");
  return `"${len.toString(16)}-${digest.slice(0, 27)}"`;
}

/** The opaque tags of an If-None-Match value, without W/ (weak comparison); ["*"] for any. */
export function parseEtagList(header: string): string[] {
  return parseTags(header, null);
}

/**
 * The tags of an If-Match / If-None-Match list: the opaque part of each (no
 * W/, no quotes), "*" for a star. `weak`, when given, receives whether each
 * tag was weak.
 */
function parseTags(header: string, weak: boolean[] | null): string[] {
  const out: string[] = [];
  let i = 0;
  const n = header.length;
  while (i < n) {
    const c = header.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x2c) {
      i++;
      continue;
    }
    if (c === 0x2a) {
      out.push("*");
      weak?.push(false);
      i++;
      continue;
    }
    const isWeak = c === 0x57 && header.charCodeAt(i + 1) === 0x2f; // W/
    if (isWeak) i += 2;
    if (header.charCodeAt(i) !== 0x22) {
      // Not an entity-tag: skip to the next comma.
      const comma = header.indexOf(",", i);
      i = comma < 0 ? n : comma + 1;
      continue;
    }
    // A quoted tag may contain commas (etagc includes them), so find its closing quote.
    const close = header.indexOf('"', i + 1);
    if (close < 0) break;
    out.push(header.slice(i + 1, close));
    weak?.push(isWeak);
    i = close + 1;
  }
  return out;
}

/** The opaque part of an entity-tag (no W/, no quotes), or null if it is not one. */
export function opaqueTag(etag: string): string | null {
  if (!ENTITY_TAG.test(etag)) return null;
  return etag.slice(etag.startsWith("W/") ? 3 : 1, -1);
}

/**
 * RFC 9110 §13.1.2: If-None-Match is false (the representation is fresh) when
 * any listed tag weakly matches the current one, or it is "*" and a current
 * representation exists.
 */
export function noneMatchFresh(ifNoneMatch: string, etag: string | undefined): boolean {
  const tags = parseEtagList(ifNoneMatch);
  if (tags.includes("*")) return true;
  if (etag === undefined) return false;
  const cur = opaqueTag(etag);
  return cur !== null && tags.includes(cur);
}

/**
 * RFC 9110 §13.1.1: If-Match passes when it is "*" (for a caller that has a
 * current representation), or when a listed tag matches the current ETag by
 * strong comparison (§8.8.3.2: neither tag weak, opaque parts identical).
 * `etag` is the response's ETag header value as sent (`"x"` or `W/"x"`).
 */
export function ifMatchPasses(ifMatch: string, etag: string | undefined): boolean {
  const weak: boolean[] = [];
  const tags = parseTags(ifMatch, weak);
  // "*": the caller is answering with a current representation.
  if (tags.includes("*")) return true;
  if (etag === undefined || etag.startsWith("W/")) return false;
  const cur = opaqueTag(etag);
  if (cur === null) return false;
  for (let i = 0; i < tags.length; i++) if (!weak[i] && tags[i] === cur) return true;
  return false;
}

/**
 * RFC 9110 §13.1.3: fresh when Last-Modified is no later than
 * If-Modified-Since (both at one-second resolution). An invalid date is
 * ignored, which means not fresh.
 */
export function modifiedSinceFresh(ifModifiedSince: string, lastModified: string | undefined): boolean {
  if (lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  const last = Date.parse(lastModified);
  if (Number.isNaN(since) || Number.isNaN(last)) return false;
  return last <= since;
}
