/**
 * Errors the router throws at registration time. Lookups never throw: a miss
 * is a result (see MatchKind), not an exception.
 *
 * Codes are stable; match on `err.code`, not on the message.
 */
import { ErrorCodes } from "../common/errors.js";

// The values live in the one registry (ErrorCodes); these names stay for the router's users.
export const ERR_ROUTE_INVALID = ErrorCodes.ROUTE_INVALID;
export const ERR_ROUTE_CONFLICT = ErrorCodes.ROUTE_CONFLICT;
export const ERR_ROUTE_METHOD_INVALID = ErrorCodes.ROUTE_METHOD_INVALID;
export const ERR_ROUTE_OPTION_INVALID = ErrorCodes.ROUTE_OPTION_INVALID;

export type RouteErrorCode =
  | typeof ERR_ROUTE_INVALID
  | typeof ERR_ROUTE_CONFLICT
  | typeof ERR_ROUTE_METHOD_INVALID
  | typeof ERR_ROUTE_OPTION_INVALID;

export class RouteError extends Error {
  readonly code: RouteErrorCode;

  constructor(code: RouteErrorCode, message: string) {
    super(message);
    this.name = "RouteError";
    this.code = code;
  }
}
