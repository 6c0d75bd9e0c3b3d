/**
 * The method code table shared by the native parser and the router.
 *
 * The parser recognises the nine methods of RFC 9110 §9 plus PATCH (RFC 5789)
 * and reports them as a small integer, so the router can pick its tree with an
 * array index instead of comparing strings. Any other token (PURGE, PROPFIND,
 * ...) is reported as METHOD_OTHER together with its name, and the router
 * keeps one tree per such name. The numbering is part of the native ABI: do
 * not reorder.
 */
export const METHOD_OTHER = 0;
export const METHOD_GET = 1;
export const METHOD_HEAD = 2;
export const METHOD_POST = 3;
export const METHOD_PUT = 4;
export const METHOD_DELETE = 5;
export const METHOD_CONNECT = 6;
export const METHOD_OPTIONS = 7;
export const METHOD_TRACE = 8;
export const METHOD_PATCH = 9;

/** Names indexed by code; index 0 (METHOD_OTHER) has no name. */
export const METHOD_NAMES: readonly string[] = Object.freeze([
  "",
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/** Number of slots in a code-indexed table (codes 0..9). */
export const METHOD_COUNT = METHOD_NAMES.length;

/**
 * The code of a method name, METHOD_OTHER when it is not one of the standard
 * ones. Method names are case-sensitive (RFC 9110 §9.1): "get" is OTHER.
 */
export function methodCode(name: string): number {
  switch (name) {
    case "GET": return METHOD_GET;
    case "HEAD": return METHOD_HEAD;
    case "POST": return METHOD_POST;
    case "PUT": return METHOD_PUT;
    case "DELETE": return METHOD_DELETE;
    case "CONNECT": return METHOD_CONNECT;
    case "OPTIONS": return METHOD_OPTIONS;
    case "TRACE": return METHOD_TRACE;
    case "PATCH": return METHOD_PATCH;
    default: return METHOD_OTHER;
  }
}

/** True when `name` is a valid method token (RFC 9110 §5.6.2 tchar+). */
export function isMethodToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x21 || c === 0x23 || c === 0x24 || c === 0x25 || c === 0x26 || c === 0x27 ||
      c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2e || c === 0x5e || c === 0x5f ||
      c === 0x60 || c === 0x7c || c === 0x7e;
    if (!ok) return false;
  }
  return true;
}
