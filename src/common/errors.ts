/**
 * Every error farad raises carries a stable `code` (FARAD_ERR_*) a program
 * can match on. ErrorCodes is the registry of the server side: the modules
 * that keep their own lists (BindErrorCodes, MultipartErrorCodes, the
 * router's ERR_ROUTE_*) take their values from it. The HTTP client's codes
 * are in ClientErrorCodes, BalanceErrorCodes and ResolveErrorCodes
 * (src/client), the parser's answers in native/http1/errors.h.
 * docs/errors.md explains every one, and test/errors-registry.test.ts
 * checks that it does.
 */
export const ErrorCodes = Object.freeze({
  /** A handler did not finish before its deadline. */
  HANDLER_TIMEOUT: "FARAD_ERR_HANDLER_TIMEOUT",
  /** A RequestContext was used after its request finished. */
  CONTEXT_RELEASED: "FARAD_ERR_CONTEXT_RELEASED",
  /** A response was started twice, or changed after it was sent. */
  RESPONSE_SENT: "FARAD_ERR_RESPONSE_SENT",
  /** An option had a wrong type or value. */
  INVALID_OPTION: "FARAD_ERR_INVALID_OPTION",
  /** A header name or value could not be sent (not a token, CR/LF, non-Latin-1). */
  INVALID_HEADER: "FARAD_ERR_INVALID_HEADER",
  /** A status code outside 100-999 (or 1xx as a final status). */
  INVALID_STATUS: "FARAD_ERR_INVALID_STATUS",
  /** The request body was larger than the limit. */
  BODY_TOO_LARGE: "FARAD_ERR_BODY_TOO_LARGE",
  /** The request body was malformed or cut off, or the client went away. */
  BODY_ABORTED: "FARAD_ERR_BODY_ABORTED",
  /** The client closed the connection before the response was sent. */
  CLIENT_GONE: "FARAD_ERR_CLIENT_GONE",
  /** The server is shutting down. */
  SERVER_CLOSING: "FARAD_ERR_SERVER_CLOSING",
  /** listen() was called on a server that is listening or closed. */
  SERVER_STATE: "FARAD_ERR_SERVER_STATE",
  /** The native addon could not be loaded. */
  NATIVE_UNAVAILABLE: "FARAD_ERR_NATIVE_UNAVAILABLE",
  /** The native server or client could not be created (out of descriptors, no event loop). */
  NATIVE: "FARAD_ERR_NATIVE",
  /** A native server handle was used after it was destroyed (a farad bug if seen). */
  DESTROYED: "FARAD_ERR_DESTROYED",
  /** ctx.bind(): fields missing or of the wrong type (a 400 listing them). */
  BIND: "FARAD_ERR_BIND",
  /** ctx.bind(): a body whose Content-Type cannot be bound (a 415). */
  UNSUPPORTED_MEDIA_TYPE: "FARAD_ERR_UNSUPPORTED_MEDIA_TYPE",
  /** ctx.bind(): the schema itself is not bindable (a programming error: a 500). */
  BIND_SCHEMA: "FARAD_ERR_BIND_SCHEMA",
  /** setCookie(): a name, value or attribute a browser would reject. */
  INVALID_COOKIE: "FARAD_ERR_INVALID_COOKIE",
  /** ctx.multipart(): a limit was passed (a 413; err.limit names it). */
  MULTIPART_LIMIT: "FARAD_ERR_MULTIPART_LIMIT",
  /** ctx.multipart(): the body is not well-formed multipart/form-data (a 400). */
  MULTIPART_MALFORMED: "FARAD_ERR_MULTIPART_MALFORMED",
  /** ctx.multipart(): the request is not multipart/form-data (a 415). */
  MULTIPART_MEDIA_TYPE: "FARAD_ERR_MULTIPART_MEDIA_TYPE",
  /** A malformed route path (RouteError). */
  ROUTE_INVALID: "FARAD_ERR_ROUTE_INVALID",
  /** A route that matches exactly what another does (RouteError; the message names both). */
  ROUTE_CONFLICT: "FARAD_ERR_ROUTE_CONFLICT",
  /** A route method that is not an HTTP token (RouteError). */
  ROUTE_METHOD_INVALID: "FARAD_ERR_ROUTE_METHOD_INVALID",
  /** A router option of the wrong type (RouteError). */
  ROUTE_OPTION_INVALID: "FARAD_ERR_ROUTE_OPTION_INVALID",
});
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class FaradError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FaradError";
    this.code = code;
  }
}

/**
 * An error that maps to an HTTP response. `expose` (default: true for 4xx,
 * false for 5xx) decides whether `message` (as text) or `body` (as JSON,
 * when given) is sent to the client.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  /** Sent as the JSON response body when set and exposed. */
  readonly body: unknown;
  constructor(status: number, message?: string, options?: { code?: string; expose?: boolean; cause?: unknown; body?: unknown }) {
    super(message ?? "", options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new FaradError(ErrorCodes.INVALID_STATUS, `HttpError status must be 400-599, got ${status}`);
    }
    this.name = "HttpError";
    this.status = status;
    this.code = options?.code ?? `HTTP_${status}`;
    this.expose = options?.expose ?? status < 500;
    this.body = options?.body;
  }
}
