import { ERR_ROUTE_INVALID, RouteError } from "./errors.js";
import { METHOD_NAMES } from "./methods.js";

/** Internal: where a group sends a fully resolved route. */
export const kRegister = Symbol("farad.route.register");

export interface RouteSink<H, O> {
  [kRegister](methods: readonly string[], path: string, handlers: H[], options: O | undefined): void;
}

/** The nine standard methods that `any` registers. */
const ANY_METHODS: readonly string[] = METHOD_NAMES.slice(1);

/**
 * A prefix plus a middleware chain, with the registration API. Made by
 * `router.group(prefix, ...middleware)` and by `group.group(...)`; the Router
 * itself is the root group (prefix "").
 *
 * A route's handlers are the group's middleware at the time the route is
 * registered (outermost group first) followed by the route's own handlers.
 * `use` therefore affects routes and subgroups added after it, as in Hertz
 * and gin.
 */
export class RouteGroup<H, O = unknown> {
  readonly prefix: string;
  #sink: RouteSink<H, O>;
  #middleware: H[];

  constructor(sink: RouteSink<H, O> | null, prefix: string, middleware: readonly H[]) {
    checkPrefix(prefix);
    this.prefix = prefix;
    this.#sink = sink ?? (this as unknown as RouteSink<H, O>);
    this.#middleware = middleware.slice();
  }

  /** Appends middleware for the routes and groups registered after this call. */
  use(...middleware: H[]): this {
    this.#middleware.push(...middleware);
    return this;
  }

  /** A subgroup: prefixes concatenate, middleware chains concatenate (this group's first). */
  group(prefix: string, ...middleware: H[]): RouteGroup<H, O> {
    checkPrefix(prefix);
    return new RouteGroup<H, O>(this.#sink, joinPath(this.prefix, prefix), [...this.#middleware, ...middleware]);
  }

  /**
   * Registers `handlers` for `method` (one name or several) at `path` below
   * this group's prefix, with per-route `options` kept on the Route.
   */
  addRoute(method: string | readonly string[], path: string, handlers: readonly H[], options?: O): this {
    if (handlers.length === 0) {
      throw new RouteError(ERR_ROUTE_INVALID, `route ${JSON.stringify(this.prefix + path)} has no handler`);
    }
    if (typeof path !== "string" || path.length === 0) {
      throw new RouteError(ERR_ROUTE_INVALID, `invalid route path ${JSON.stringify(path)}: the path is empty`);
    }
    if (path.charCodeAt(0) !== 0x2f) {
      throw new RouteError(ERR_ROUTE_INVALID, `invalid route path ${JSON.stringify(path)}: it must begin with '/'`);
    }
    const methods = typeof method === "string" ? [method] : method;
    this.#sink[kRegister](methods, joinPath(this.prefix, path), [...this.#middleware, ...handlers], options);
    return this;
  }

  handle(method: string, path: string, ...handlers: H[]): this { return this.addRoute(method, path, handlers); }
  get(path: string, ...handlers: H[]): this { return this.addRoute("GET", path, handlers); }
  head(path: string, ...handlers: H[]): this { return this.addRoute("HEAD", path, handlers); }
  post(path: string, ...handlers: H[]): this { return this.addRoute("POST", path, handlers); }
  put(path: string, ...handlers: H[]): this { return this.addRoute("PUT", path, handlers); }
  delete(path: string, ...handlers: H[]): this { return this.addRoute("DELETE", path, handlers); }
  patch(path: string, ...handlers: H[]): this { return this.addRoute("PATCH", path, handlers); }
  options(path: string, ...handlers: H[]): this { return this.addRoute("OPTIONS", path, handlers); }
  /** All nine standard methods (GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH). */
  any(path: string, ...handlers: H[]): this { return this.addRoute(ANY_METHODS, path, handlers); }
}

function checkPrefix(prefix: string): void {
  if (typeof prefix !== "string" || (prefix.length > 0 && prefix.charCodeAt(0) !== 0x2f)) {
    throw new RouteError(ERR_ROUTE_INVALID, `invalid group prefix ${JSON.stringify(prefix)}: it must be empty or begin with '/'`);
  }
  if (prefix.includes("*")) {
    throw new RouteError(ERR_ROUTE_INVALID, `invalid group prefix ${JSON.stringify(prefix)}: a catch-all can only end a route`);
  }
}

/** "/v1/" + "/users" → "/v1/users"; "/v1" + "/" → "/v1/". */
function joinPath(prefix: string, path: string): string {
  if (prefix.length === 0) return path;
  if (path.length === 0) return prefix;
  return prefix.endsWith("/") ? prefix + path.slice(1) : prefix + path;
}
