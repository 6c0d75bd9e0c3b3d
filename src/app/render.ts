/**
 * Rendering helpers that need more than a line in RequestContext: JSON
 * serializers compiled from a response schema, and redirect targets.
 */
import fastJson from "fast-json-stringify";
import { ErrorCodes, FaradError } from "../common/errors.js";

/** Options of ctx.json(). */
export interface JsonOptions {
  /**
   * A JSON Schema (a TypeBox schema works) describing the value. The value is
   * then written by a serializer compiled from the schema (fast-json-stringify),
   * which also leaves out every property the schema does not declare.
   */
  schema?: object;
}

type Serializer = (value: unknown) => string;

/** Compiled once per schema object. */
const serializers = new WeakMap<object, Serializer>();

export function serializerFor(schema: object): Serializer {
  let fn = serializers.get(schema);
  if (fn === undefined) {
    if (typeof schema !== "object" || schema === null) throw new FaradError(ErrorCodes.INVALID_OPTION, "json(): schema must be a JSON Schema object");
    fn = fastJson(schema as Parameters<typeof fastJson>[0]) as Serializer;
    serializers.set(schema, fn);
  }
  return fn;
}

export const REDIRECT_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export function checkRedirectCode(code: number): number {
  if (!REDIRECT_CODES.has(code)) {
    throw new FaradError(ErrorCodes.INVALID_STATUS, `invalid redirect status ${code}: use 301, 302, 303, 307 or 308`);
  }
  return code;
}

/**
 * The Location value for a redirect. CR, LF and NUL are refused (they would
 * split the response); spaces, other controls and non-ASCII characters are
 * percent-encoded as UTF-8 (RFC 3986 §2.1), existing %XX escapes are kept.
 */
export function redirectLocation(location: string): string {
  if (typeof location !== "string" || location.length === 0) {
    throw new FaradError(ErrorCodes.INVALID_HEADER, "redirect: the location must be a non-empty string");
  }
  if (/[\r\n\0]/.test(location)) {
    throw new FaradError(ErrorCodes.INVALID_HEADER, "redirect: the location must not contain CR, LF or NUL");
  }
  try {
    return location.replace(/[^\x21-\x7e]+/g, (run) => encodeURI(run));
  } catch {
    throw new FaradError(ErrorCodes.INVALID_HEADER, "redirect: the location contains a lone surrogate");
  }
}
