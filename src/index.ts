/**
 * farad: an HTTP framework for Node.js on a native epoll reactor.
 */
export {
  Server,
  currentContext,
  type AddressInfo,
  type Hook,
  type InjectRequest,
  type InjectResponse,
  type ListenOptions,
  type RouteOptions,
  type ServerStats,
  type Tracer,
} from "./app/server.js";
export { RequestContext, Context, type Handler, type Timings } from "./app/context.js";
export { type ServerOptions, type Logger, DEFAULTS as defaultOptions } from "./app/options.js";
export { accessLog, type AccessLogEntry, type AccessLogOptions } from "./app/access-log.js";
export { ErrorCodes, FaradError, HttpError, type ErrorCode } from "./common/errors.js";
export { RouteGroup, RouteError } from "./route/index.js";
export {
  t,
  BindError,
  BindErrorCodes,
  type BindSource,
  type BindOptions,
  type BindResult,
  type BindFieldError,
  type BindErrorBody,
  type SourceHelper,
  type UnknownFieldPolicy,
} from "./app/bind.js";
export { type CookieOptions, type ClearCookieOptions } from "./app/cookie.js";
export { etagOf } from "./app/etag.js";
export { type JsonOptions } from "./app/render.js";
export { Type, type Static, type TSchema } from "@sinclair/typebox";
export { type FileOptions, contentTypeOf } from "./app/file.js";
export { type BodySource, type BodyStreamOptions, type SendOptions } from "./app/streaming.js";
export { serveStatic, type StaticOptions } from "./app/static.js";
export { formatEvent, type SseEvent, type SseOptions, type SseStream } from "./app/sse.js";
export {
  MultipartError,
  MultipartErrorCodes,
  type FieldPart,
  type FilePart,
  type MultipartLimit,
  type MultipartOptions,
  type MultipartReader,
  type Part,
} from "./app/multipart.js";
export { Client, type ClientOptions, type ClientRequest, type ClientMiddleware, type FullResponse, type ClientStats } from "./client/client.js";
export { ClientResponse } from "./client/response.js";
export { ClientError, ClientErrorCodes } from "./client/errors.js";
export { type RequestOptions, type RetryOptions, type RequestBody, type HeaderInput } from "./client/request.js";
export { proxy, type ProxyOptions, type ProxyHandler } from "./client/proxy.js";
export {
  roundRobin,
  weightedRandom,
  leastInFlight,
  p2cLatency,
  BalanceErrorCodes,
  type Balancer,
  type BalancerOptions,
  type Endpoint,
  type EndpointState,
  type EjectionOptions,
  type Outcome,
} from "./client/balance.js";
export {
  staticResolver,
  dnsResolver,
  ResolveErrorCodes,
  type Resolver,
  type StaticResolver,
  type DnsResolverOptions,
  type Address,
  type AddressInput,
} from "./client/resolve.js";
