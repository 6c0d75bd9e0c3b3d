import type { Route } from "./route.js";

const EMPTY = new Uint8Array(0);

/**
 * What a lookup found. The app layer acts on `kind`:
 *
 * - FOUND: run `route.handlers`; param i is buf[params[2i], params[2i+1]),
 *   named route.paramNames[i] (decode with paramValue()).
 * - REDIRECT: answer `status` (301 for GET/HEAD, 308 otherwise) with
 *   `Location: location` (query string kept) and no handler.
 * - METHOD_NOT_ALLOWED: answer 405 with `Allow: allow` (or the app's 405 handler).
 * - NOT_FOUND: answer 404 (or the app's 404 handler).
 */
export const MatchKind = Object.freeze({
  NOT_FOUND: 0,
  FOUND: 1,
  REDIRECT: 2,
  METHOD_NOT_ALLOWED: 3,
} as const);
export type MatchKind = (typeof MatchKind)[keyof typeof MatchKind];

/**
 * The reusable result of Router.find. Allocate one per worker (or per
 * connection) and pass it to every lookup: a hit writes into it and allocates
 * nothing. Redirect and 405 outcomes may allocate their strings.
 *
 * `buf` is the buffer the param offsets point into. It is the buffer passed to
 * find, except when removeExtraSlash rewrote the path: then it is a fresh
 * array that holds the cleaned path, owned by this result until the next find.
 */
export class RouteMatch<H = unknown, O = unknown> {
  kind: MatchKind;
  route: Route<H, O> | null;
  buf: Uint8Array;
  /** [start, end) pairs, one per param of `route`, in path order. */
  params: Int32Array;
  /** Number of params captured (equals route.paramNames.length on FOUND). */
  count: number;
  /** REDIRECT: 301 or 308. METHOD_NOT_ALLOWED: 405. Otherwise 0 (FOUND) or 404. */
  status: number;
  /** REDIRECT: the Location value, a byte string (one char per byte). */
  location: string;
  /** METHOD_NOT_ALLOWED: the Allow value, e.g. "GET, POST". */
  allow: string;
  /** Internal to the router (see lookup.ts); may be stale. */
  reachedEnd: boolean;

  constructor(paramCapacity = 8) {
    this.kind = MatchKind.NOT_FOUND;
    this.route = null;
    this.buf = EMPTY;
    this.params = new Int32Array(2 * paramCapacity);
    this.count = 0;
    this.status = 0;
    this.location = "";
    this.allow = "";
    this.reachedEnd = false;
  }
}
