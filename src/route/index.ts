/**
 * The routing layer: a radix tree router over raw path bytes, after
 * CloudWeGo Hertz (httprouter/gin lineage). See docs/router.md.
 */
export { Router, type RouterOptions, type RouteInfo } from "./router.js";
export { RouteGroup } from "./group.js";
export { Route } from "./route.js";
export { RouteMatch, MatchKind } from "./match.js";
export { paramValue } from "./params.js";
export {
  RouteError,
  type RouteErrorCode,
  ERR_ROUTE_INVALID,
  ERR_ROUTE_CONFLICT,
  ERR_ROUTE_METHOD_INVALID,
  ERR_ROUTE_OPTION_INVALID,
} from "./errors.js";
export {
  METHOD_OTHER,
  METHOD_GET,
  METHOD_HEAD,
  METHOD_POST,
  METHOD_PUT,
  METHOD_DELETE,
  METHOD_CONNECT,
  METHOD_OPTIONS,
  METHOD_TRACE,
  METHOD_PATCH,
  METHOD_NAMES,
  METHOD_COUNT,
  methodCode,
  isMethodToken,
} from "./methods.js";
