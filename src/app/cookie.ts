/**
 * Cookies (RFC 6265): reading the request's Cookie header once per request,
 * and writing Set-Cookie lines with validated names, values and attributes.
 *
 * Values are taken and given as they are on the wire: farad neither
 * percent-decodes what it reads nor encodes what it writes, so a value with
 * spaces, commas, semicolons or non-ASCII text must be encoded by the caller
 * (encodeURIComponent) and decoded again on the way in.
 */
import { ErrorCodes, FaradError } from "../common/errors.js";
import { isToken } from "../protocol/http1/encode.js";

export interface CookieOptions {
  /** Max-Age in seconds (fractions are dropped); 0 or less expires the cookie at once. */
  maxAge?: number;
  /** Expires, as a Date. */
  expires?: Date;
  /** Domain: the host and its subdomains. Default: none (this host only). */
  domain?: string;
  /** Path. Default "/" (so clearCookie with no path clears it). */
  path?: string;
  secure?: boolean;
  httpOnly?: boolean;
  /** "None" requires `secure: true` (browsers drop the cookie otherwise). */
  sameSite?: "Strict" | "Lax" | "None";
  /** CHIPS partitioned cookie; requires `secure: true`. */
  partitioned?: boolean;
  /** Chrome's Priority attribute. */
  priority?: "Low" | "Medium" | "High";
}

export type ClearCookieOptions = Pick<CookieOptions, "domain" | "path" | "secure" | "httpOnly" | "sameSite" | "partitioned">;

// cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (RFC 6265 §4.1.1):
// no CTLs, whitespace, DQUOTE, comma, semicolon or backslash.
const COOKIE_OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
// av-octet: any CHAR except CTLs or ";" (the Path and Domain values).
const AV_OCTETS = /^[\x20-\x3a\x3c-\x7e]*$/;
// A host name (LDH labels) with an optional leading dot, which browsers ignore.
const DOMAIN = /^\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function invalid(message: string): never {
  throw new FaradError(ErrorCodes.INVALID_COOKIE, message);
}

/** True if `value` may be sent as a cookie value (RFC 6265 §4.1.1), quoted or not. */
export function isCookieValue(value: string): boolean {
  if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) {
    return COOKIE_OCTETS.test(value.slice(1, -1));
  }
  return COOKIE_OCTETS.test(value);
}

/** One Set-Cookie field value. Throws FARAD_ERR_INVALID_COOKIE for what a browser would reject. */
export function serializeCookie(name: string, value: string, o: CookieOptions = {}): string {
  if (typeof name !== "string" || !isToken(name)) invalid(`invalid cookie name ${JSON.stringify(name)}: it must be an RFC 9110 token`);
  if (typeof value !== "string" || !isCookieValue(value)) {
    invalid(`invalid value for cookie ${name}: spaces, DQUOTE, comma, semicolon, backslash and non-ASCII characters must be encoded (encodeURIComponent)`);
  }
  let s = `${name}=${value}`;
  if (o.maxAge !== undefined) {
    if (typeof o.maxAge !== "number" || !Number.isFinite(o.maxAge)) invalid(`cookie ${name}: maxAge must be a finite number of seconds`);
    s += `; Max-Age=${Math.max(0, Math.floor(o.maxAge))}`;
  }
  if (o.expires !== undefined) {
    if (!(o.expires instanceof Date) || Number.isNaN(o.expires.getTime())) invalid(`cookie ${name}: expires must be a valid Date`);
    s += `; Expires=${o.expires.toUTCString()}`;
  }
  if (o.domain !== undefined) {
    if (typeof o.domain !== "string" || !DOMAIN.test(o.domain)) invalid(`cookie ${name}: invalid domain ${JSON.stringify(o.domain)}`);
    s += `; Domain=${o.domain}`;
  }
  const path = o.path ?? "/";
  if (typeof path !== "string" || !AV_OCTETS.test(path)) invalid(`cookie ${name}: invalid path ${JSON.stringify(path)}`);
  s += `; Path=${path}`;
  if (o.httpOnly) s += "; HttpOnly";
  if (o.secure) s += "; Secure";
  if (o.partitioned) {
    if (!o.secure) invalid(`cookie ${name}: partitioned requires secure: true`);
    s += "; Partitioned";
  }
  if (o.priority !== undefined) {
    if (o.priority !== "Low" && o.priority !== "Medium" && o.priority !== "High") invalid(`cookie ${name}: priority must be "Low", "Medium" or "High"`);
    s += `; Priority=${o.priority}`;
  }
  if (o.sameSite !== undefined) {
    if (o.sameSite !== "Strict" && o.sameSite !== "Lax" && o.sameSite !== "None") invalid(`cookie ${name}: sameSite must be "Strict", "Lax" or "None"`);
    // Browsers refuse SameSite=None without Secure (draft-ietf-httpbis-rfc6265bis §5.6.7).
    if (o.sameSite === "None" && !o.secure) invalid(`cookie ${name}: sameSite "None" requires secure: true`);
    s += `; SameSite=${o.sameSite}`;
  }
  // Cookie prefixes (rfc6265bis §4.1.3): browsers drop cookies that break these rules, silently.
  if (name.startsWith("__Secure-") && !o.secure) invalid(`cookie ${name}: the __Secure- prefix requires secure: true`);
  if (name.startsWith("__Host-") && (!o.secure || o.domain !== undefined || path !== "/")) {
    invalid(`cookie ${name}: the __Host- prefix requires secure: true, path "/" and no domain`);
  }
  return s;
}

const EXPIRED = "; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

/** The Set-Cookie value that removes cookie `name` (same path and domain as it was set with). */
export function serializeClearCookie(name: string, o: ClearCookieOptions = {}): string {
  const opts: CookieOptions = { ...o, maxAge: 0 };
  return serializeCookie(name, "", opts) + EXPIRED;
}

/**
 * Parses Cookie header values (RFC 6265 §5.4: `name=value` pairs separated by
 * "; "). Pairs without "=" are skipped; the first of a repeated name wins,
 * because user agents send the most specific (longest path) cookie first.
 * Surrounding DQUOTEs are removed from a value; nothing is decoded.
 */
export function parseCookies(headers: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of headers) {
    let i = 0;
    const n = h.length;
    while (i < n) {
      let end = h.indexOf(";", i);
      if (end < 0) end = n;
      const eq = h.indexOf("=", i);
      if (eq > i && eq < end) {
        const name = h.slice(i, eq).trim();
        let value = h.slice(eq + 1, end).trim();
        if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) value = value.slice(1, -1);
        if (name.length > 0 && !out.has(name)) out.set(name, value);
      }
      i = end + 1;
    }
  }
  return out;
}

/**
 * The request's cookies, parsed on first use. Kept beside the context rather
 * than in a field so the per-request object keeps its shape.
 */
const parsed = new WeakMap<object, Map<string, string>>();

export function requestCookies(ctx: { headerValues(name: string): string[] }): Map<string, string> {
  let m = parsed.get(ctx);
  if (m === undefined) {
    m = parseCookies(ctx.headerValues("cookie"));
    parsed.set(ctx, m);
  }
  return m;
}
