/**
 * farad: an HTTP framework for Node.js on a native epoll reactor.
 */
export { Server, type AddressInfo, type ListenOptions, type ServerStats } from "./app/server.js";
export { RequestContext, Context, type Handler } from "./app/context.js";
export { type ServerOptions, type Logger, DEFAULTS as defaultOptions } from "./app/options.js";
export { ErrorCodes, FaradError, HttpError, type ErrorCode } from "./common/errors.js";
export { RouteGroup, RouteError } from "./route/index.js";
