import {
  ERR_ROUTE_CONFLICT,
  ERR_ROUTE_METHOD_INVALID,
  ERR_ROUTE_OPTION_INVALID,
  RouteError,
} from "./errors.js";
import { cleanPath, findCaseInsensitive } from "./fold.js";
import { kRegister, RouteGroup, type RouteSink } from "./group.js";
import { lookup } from "./lookup.js";
import { MatchKind, RouteMatch } from "./match.js";
import {
  isMethodToken,
  METHOD_CONNECT,
  METHOD_COUNT,
  METHOD_GET,
  METHOD_HEAD,
  METHOD_NAMES,
  METHOD_OTHER,
  methodCode,
} from "./methods.js";
import { insertPattern, Node } from "./node.js";
import { paramValue } from "./params.js";
import { parsePattern } from "./pattern.js";
import { Route } from "./route.js";

/**
 * Router options. Every option is a boolean; unknown keys are rejected with
 * FARAD_ERR_ROUTE_OPTION_INVALID so a misspelt option does not go unnoticed.
 */
export interface RouterOptions {
  /**
   * Default true. On a miss, if the same method has a route for the path with
   * its trailing slash added or removed, the result is REDIRECT to that path
   * (query string kept): 301 for GET and HEAD, 308 for other methods (308
   * keeps the method and body, RFC 9110 §15.4.9). Not for CONNECT, not for "/".
   */
  redirectTrailingSlash?: boolean;
  /**
   * Default false. On a miss, clean the path (collapse '//', drop '.', resolve
   * '..') and look it up ignoring ASCII case; if a route matches, REDIRECT to
   * the path with the route's own case (301/308 as above). With
   * redirectTrailingSlash also on, the cleaned path with its trailing slash
   * toggled is tried too.
   */
  redirectFixedPath?: boolean;
  /**
   * Default false. On a miss that no redirect answered, if other methods have
   * a route for the path, the result is METHOD_NOT_ALLOWED with `allow`
   * listing those methods, sorted, comma-separated. Only registered methods
   * are listed: the router adds no implicit HEAD or OPTIONS; an app layer
   * that serves HEAD from GET routes or answers OPTIONS itself adds them.
   */
  handleMethodNotAllowed?: boolean;
  /**
   * Default false. Runs of '/' in the request path are collapsed before the
   * lookup, without a redirect: `//a///b` is looked up as `/a/b`, and param
   * offsets then point into `match.buf` (a fresh array), not the request buffer.
   * Only slashes are touched; '.' and '..' are left alone.
   */
  removeExtraSlash?: boolean;
  /**
   * Default true. paramValue()/param()/params() percent-decode values
   * (`%2F` → '/', `%C3%A9` → 'é'); a malformed value is returned raw. Matching
   * itself always works on the raw bytes, so `%2F` never separates segments.
   */
  unescapePathValues?: boolean;
}

const OPTION_DEFAULTS: Required<RouterOptions> = {
  redirectTrailingSlash: true,
  redirectFixedPath: false,
  handleMethodNotAllowed: false,
  removeExtraSlash: false,
  unescapePathValues: true,
};

function resolveOptions(options: RouterOptions | undefined): Required<RouterOptions> {
  const out = { ...OPTION_DEFAULTS };
  if (options === undefined) return out;
  if (options === null || typeof options !== "object") {
    throw new RouteError(ERR_ROUTE_OPTION_INVALID, "router options must be an object");
  }
  for (const [key, value] of Object.entries(options)) {
    if (!(key in OPTION_DEFAULTS)) {
      throw new RouteError(ERR_ROUTE_OPTION_INVALID, `unknown router option ${JSON.stringify(key)}`);
    }
    if (value === undefined) continue;
    if (typeof value !== "boolean") {
      throw new RouteError(ERR_ROUTE_OPTION_INVALID, `router option ${key} must be a boolean, got ${typeof value}`);
    }
    out[key as keyof RouterOptions] = value;
  }
  return out;
}

/** One line of Router.routes(). */
export interface RouteInfo {
  method: string;
  path: string;
  handlerCount: number;
}

const SLASH = 0x2f;

function latin1(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("latin1");
}

/**
 * The radix tree router: one tree per method, lookups on raw path bytes.
 * `H` is the handler type (the app layer's), `O` the per-route options type.
 */
export class Router<H, O = unknown> extends RouteGroup<H, O> implements RouteSink<H, O> {
  readonly redirectTrailingSlash: boolean;
  readonly redirectFixedPath: boolean;
  readonly handleMethodNotAllowed: boolean;
  readonly removeExtraSlash: boolean;
  readonly unescapePathValues: boolean;

  /** Trees of the standard methods, indexed by method code (slot 0 unused). */
  #trees: (Node<Route<H, O>> | null)[] = new Array(METHOD_COUNT).fill(null);
  /** Trees of other method tokens, by name. */
  #custom = new Map<string, Node<Route<H, O>>>();
  #routes: Route<H, O>[] = [];
  /** Int32 slots a RouteMatch needs: 2 per param of the route with the most. */
  #paramSlots = 0;
  /** Reused for the trailing-slash probe, so a miss does not allocate. */
  #scratch = new Uint8Array(256);
  /** Used by probes (405, allowedMethods) so they do not clobber the caller's match. */
  #probe = new RouteMatch<H, O>(0);

  constructor(options?: RouterOptions) {
    super(null, "", []);
    const o = resolveOptions(options);
    this.redirectTrailingSlash = o.redirectTrailingSlash;
    this.redirectFixedPath = o.redirectFixedPath;
    this.handleMethodNotAllowed = o.handleMethodNotAllowed;
    this.removeExtraSlash = o.removeExtraSlash;
    this.unescapePathValues = o.unescapePathValues;
  }

  /** A RouteMatch sized for the routes registered so far (find grows it anyway). */
  createMatch(): RouteMatch<H, O> {
    return new RouteMatch<H, O>(this.#paramSlots >> 1);
  }

  [kRegister](methods: readonly string[], path: string, handlers: H[], options: O | undefined): void {
    for (const m of methods) {
      if (typeof m !== "string" || !isMethodToken(m)) {
        throw new RouteError(ERR_ROUTE_METHOD_INVALID, `invalid method ${JSON.stringify(m)} for route ${JSON.stringify(path)}: not an HTTP token`);
      }
    }
    const pattern = parsePattern(path);
    // Find every leaf first, so that a conflict on one method of `any` leaves
    // no half-registered route behind. Nodes created on the way carry no
    // route and change no lookup result.
    const leaves: Node<Route<H, O>>[] = [];
    for (const m of methods) {
      const leaf = insertPattern(this.#rootFor(m), pattern.parts);
      if (leaf.route !== null) {
        throw new RouteError(
          ERR_ROUTE_CONFLICT,
          `route ${m} ${JSON.stringify(path)} conflicts with ${m} ${JSON.stringify(leaf.route.fullPath)}: both match the same paths`,
        );
      }
      if (leaves.includes(leaf)) {
        throw new RouteError(ERR_ROUTE_CONFLICT, `route ${JSON.stringify(path)} lists method ${m} twice`);
      }
      leaves.push(leaf);
    }
    for (let i = 0; i < methods.length; i++) {
      const route = new Route<H, O>(methods[i]!, path, pattern.paramNames, handlers, options);
      leaves[i]!.route = route;
      this.#routes.push(route);
    }
    this.#paramSlots = Math.max(this.#paramSlots, 2 * pattern.paramNames.length);
  }

  #rootFor(method: string): Node<Route<H, O>> {
    const code = methodCode(method);
    if (code !== METHOD_OTHER) {
      let root = this.#trees[code]!;
      if (root === null) root = this.#trees[code] = new Node(new Uint8Array(0));
      return root;
    }
    let root = this.#custom.get(method);
    if (root === undefined) {
      root = new Node(new Uint8Array(0));
      this.#custom.set(method, root);
    }
    return root;
  }

  /**
   * Looks up the path buf[start, end) (the request-target's path, before '?')
   * for the method given by `code` (see methods.ts) or, when code is
   * METHOD_OTHER, by `name`. The outcome is written to `out` (see MatchKind);
   * the matched Route, or null, is also returned. `queryEnd` (default `end`)
   * marks the end of the query string that follows at buf[end] == '?', which
   * a redirect keeps. A hit allocates nothing.
   */
  find(
    code: number,
    name: string | undefined,
    buf: Uint8Array,
    start: number,
    end: number,
    out: RouteMatch<H, O>,
    queryEnd: number = end,
  ): Route<H, O> | null {
    let root: Node<Route<H, O>> | null = null;
    if (code > 0 && code < METHOD_COUNT) {
      root = this.#trees[code]!;
    } else if (name !== undefined) {
      code = methodCode(name);
      root = code !== METHOD_OTHER ? this.#trees[code]! : (this.#custom.get(name) ?? null);
    }
    if (out.params.length < this.#paramSlots) out.params = new Int32Array(this.#paramSlots);
    out.buf = buf;
    if (this.removeExtraSlash && hasRepeatedSlash(buf, start, end)) {
      // The cleaned path is copied with the query after it, so a redirect
      // from the new buffer still keeps the query string.
      const clean = collapseSlashes(buf, start, end, queryEnd);
      buf = clean.buf;
      out.buf = buf;
      start = 0;
      end = clean.end;
      queryEnd = buf.length;
    }
    if (root !== null) {
      const r = lookup(root, buf, start, end, out, 0);
      if (r !== null) {
        out.kind = MatchKind.FOUND;
        out.route = r;
        out.status = 0;
        return r;
      }
    }
    return this.#miss(root, code, buf, start, end, out, queryEnd);
  }

  #miss(
    root: Node<Route<H, O>> | null,
    code: number,
    buf: Uint8Array,
    start: number,
    end: number,
    out: RouteMatch<H, O>,
    queryEnd: number,
  ): null {
    out.route = null;
    out.count = 0;
    const reachedEnd = out.reachedEnd;
    out.reachedEnd = false;
    const len = end - start;
    if (root !== null && code !== METHOD_CONNECT && len > 0 && !(len === 1 && buf[start] === SLASH)) {
      const status = code === METHOD_GET || code === METHOD_HEAD ? 301 : 308;
      let target: string | null = null;
      if (this.redirectTrailingSlash) target = this.#trailingSlashTarget(root, buf, start, end, reachedEnd);
      if (target === null && this.redirectFixedPath) target = this.#fixedPathTarget(root, buf, start, end);
      // A Location beginning with "//" would be read as another host.
      if (target !== null && target.charCodeAt(1) !== SLASH && target.charCodeAt(1) !== 0x5c) {
        if (queryEnd > end) target += latin1(buf, end, queryEnd);
        out.kind = MatchKind.REDIRECT;
        out.status = status;
        out.location = target;
        return null;
      }
    }
    if (this.handleMethodNotAllowed) {
      const allow = this.#allowed(buf, start, end, root);
      if (allow.length > 0) {
        out.kind = MatchKind.METHOD_NOT_ALLOWED;
        out.status = 405;
        out.allow = allow;
        return null;
      }
    }
    out.kind = MatchKind.NOT_FOUND;
    out.status = 404;
    return null;
  }

  #trailingSlashTarget(root: Node<Route<H, O>>, buf: Uint8Array, start: number, end: number, reachedEnd: boolean): string | null {
    const probe = this.#probe;
    if (probe.params.length < this.#paramSlots) probe.params = new Int32Array(this.#paramSlots);
    if (buf[end - 1] === SLASH) {
      return lookup(root, buf, start, end - 1, probe, 0) !== null ? latin1(buf, start, end - 1) : null;
    }
    // Appending '/' can only help if the walk consumed the whole path somewhere.
    if (!reachedEnd) return null;
    const len = end - start;
    if (this.#scratch.length < len + 1) this.#scratch = new Uint8Array(2 * (len + 1));
    const s = this.#scratch;
    s.set(buf.subarray(start, end));
    s[len] = SLASH;
    return lookup(root, s, 0, len + 1, probe, 0) !== null ? latin1(s, 0, len + 1) : null;
  }

  #fixedPathTarget(root: Node<Route<H, O>>, buf: Uint8Array, start: number, end: number): string | null {
    const clean = cleanPath(latin1(buf, start, end));
    const fixed = findCaseInsensitive(root, Buffer.from(clean, "latin1"));
    if (fixed !== null || !this.redirectTrailingSlash || clean === "/") return fixed;
    const toggled = clean.endsWith("/") ? clean.slice(0, -1) : clean + "/";
    return findCaseInsensitive(root, Buffer.from(toggled, "latin1"));
  }

  /** Methods other than the one of `skip` whose tree matches the path, sorted. */
  #allowed(buf: Uint8Array, start: number, end: number, skip: Node<Route<H, O>> | null): string {
    const probe = this.#probe;
    if (probe.params.length < this.#paramSlots) probe.params = new Int32Array(this.#paramSlots);
    const names: string[] = [];
    for (let c = 1; c < METHOD_COUNT; c++) {
      const root = this.#trees[c]!;
      if (root !== null && root !== skip && lookup(root, buf, start, end, probe, 0) !== null) names.push(METHOD_NAMES[c]!);
    }
    for (const [name, root] of this.#custom) {
      if (root !== skip && lookup(root, buf, start, end, probe, 0) !== null) names.push(name);
    }
    return names.sort().join(", ");
  }

  /**
   * The methods that have a route for the path buf[start, end), sorted and
   * comma-separated ("" if none), for an Allow header. For the path `*`
   * (`OPTIONS *`, RFC 9110 §9.3.7) every method with at least one route.
   */
  allowedMethods(buf: Uint8Array, start: number, end: number): string {
    if (end - start === 1 && buf[start] === 0x2a) {
      const names: string[] = [];
      for (let c = 1; c < METHOD_COUNT; c++) if (this.#trees[c] !== null) names.push(METHOD_NAMES[c]!);
      for (const name of this.#custom.keys()) names.push(name);
      return names.sort().join(", ");
    }
    return this.#allowed(buf, start, end, null);
  }

  /**
   * String convenience for tests and in-process callers: `url` may carry a
   * query string. Allocates; the server path uses find().
   */
  findString(method: string, url: string, out: RouteMatch<H, O> = this.createMatch()): RouteMatch<H, O> {
    const buf = Buffer.from(url, "utf8");
    let end = buf.indexOf(0x3f);
    if (end < 0) end = buf.length;
    this.find(METHOD_OTHER, method, buf, 0, end, out, buf.length);
    return out;
  }

  /** The decoded value of param `i` of a FOUND match (unescaped per the router's option). */
  paramAt(match: RouteMatch<H, O>, i: number): string {
    if (i < 0 || i >= match.count) return "";
    return paramValue(match.buf, match.params[2 * i]!, match.params[2 * i + 1]!, this.unescapePathValues);
  }

  /** The decoded value of the param called `name`, or undefined. */
  param(match: RouteMatch<H, O>, name: string): string | undefined {
    const i = match.route === null ? -1 : match.route.paramIndex(name);
    return i < 0 ? undefined : this.paramAt(match, i);
  }

  /** All params of a FOUND match as an object (allocates). */
  params(match: RouteMatch<H, O>): Record<string, string> {
    const out: Record<string, string> = {};
    if (match.route === null) return out;
    const names = match.route.paramNames;
    for (let i = 0; i < names.length && i < match.count; i++) out[names[i]!] = this.paramAt(match, i);
    return out;
  }

  /** Every route, sorted by path then method. */
  routes(): RouteInfo[] {
    return this.#routes
      .map((r) => ({ method: r.method, path: r.fullPath, handlerCount: r.handlers.length }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.method < b.method ? -1 : a.method > b.method ? 1 : 0));
  }
}

function hasRepeatedSlash(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start + 1; i < end; i++) if (buf[i] === SLASH && buf[i - 1] === SLASH) return true;
  return false;
}

function collapseSlashes(buf: Uint8Array, start: number, end: number, queryEnd: number): { buf: Uint8Array; end: number } {
  const tail = queryEnd > end ? queryEnd - end : 0;
  const out = new Uint8Array(end - start + tail);
  let w = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === SLASH && w > 0 && out[w - 1] === SLASH) continue;
    out[w++] = c;
  }
  const pathEnd = w;
  out.set(buf.subarray(end, end + tail), w);
  return { buf: out.subarray(0, w + tail), end: pathEnd };
}
