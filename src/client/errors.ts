/**
 * The client's errors: each has a stable `code` a program can match on
 * (docs/client.md lists them with what to do), and, where it applies, the
 * `errno` name the kernel gave (`ECONNREFUSED`, ...).
 */
import { constants } from "node:os";

import { FaradError } from "../common/errors.js";

export const ClientErrorCodes = Object.freeze({
  /** The TCP connect failed (refused, unreachable, ...); `errno` says why. */
  CONNECT: "FARAD_ERR_CONNECT",
  /** No connection within `connectTimeout`. */
  CONNECT_TIMEOUT: "FARAD_ERR_CONNECT_TIMEOUT",
  /** No response head within `headersTimeout` of sending the request. */
  HEADERS_TIMEOUT: "FARAD_ERR_HEADERS_TIMEOUT",
  /** No body bytes for `bodyTimeout` while reading a response body. */
  BODY_TIMEOUT: "FARAD_ERR_BODY_TIMEOUT",
  /** The whole request (queue, connect, send, head, body) took longer than `timeout`. */
  REQUEST_TIMEOUT: "FARAD_ERR_REQUEST_TIMEOUT",
  /** The caller's `signal` aborted. */
  ABORTED: "FARAD_ERR_ABORTED",
  /** The pool's wait queue was full (`maxQueue`). */
  QUEUE_FULL: "FARAD_ERR_POOL_QUEUE_FULL",
  /** No connection became free within `queueTimeout`. */
  QUEUE_TIMEOUT: "FARAD_ERR_POOL_QUEUE_TIMEOUT",
  /** The server closed the connection before any byte of the response. */
  SOCKET_CLOSED: "FARAD_ERR_SOCKET_CLOSED",
  /** The server closed the connection in the middle of a response. */
  PREMATURE_CLOSE: "FARAD_ERR_PREMATURE_CLOSE",
  /** Reading or writing the socket failed; `errno` says why. */
  SOCKET: "FARAD_ERR_SOCKET",
  /** The response broke HTTP/1.1; `reason` holds the parser's code (FARAD_ERR_BAD_STATUS_LINE, ...). */
  BAD_RESPONSE: "FARAD_ERR_BAD_RESPONSE",
  /** The client was closed. */
  CLIENT_CLOSED: "FARAD_ERR_CLIENT_CLOSED",
  /** The response body was used after release() or close(), or read twice. */
  BODY_USED: "FARAD_ERR_BODY_USED",
  /** text()/json()/bytes() or a helper met a body larger than `maxBodySize`; the connection was closed. */
  BODY_TOO_LARGE: "FARAD_ERR_RESPONSE_TOO_LARGE",
  /** A response was garbage-collected without release(), close() or a full read. */
  RESPONSE_LEAKED: "FARAD_ERR_RESPONSE_LEAKED",
  /** A bad request option: URL, method, header, body type. */
  INVALID_REQUEST: "FARAD_ERR_INVALID_REQUEST",
  /** Reading the request body source failed; the request was aborted. */
  REQUEST_BODY: "FARAD_ERR_REQUEST_BODY",
  /** A native client handle was used after it was destroyed (a farad bug if seen). */
  DESTROYED: "FARAD_ERR_CLIENT_DESTROYED",
  /** proxy(): the x-farad-upstream-error value for an upstream failure that had no code of its own. */
  UPSTREAM: "FARAD_ERR_UPSTREAM",
});

export class ClientError extends FaradError {
  /** The kernel's errno name when a syscall failed, e.g. "ECONNREFUSED". */
  readonly errno?: string;
  /** For BAD_RESPONSE: the parser's own code (FARAD_ERR_BAD_STATUS_LINE, ...). */
  readonly reason?: string;
  constructor(code: string, message: string, options?: { cause?: unknown; errno?: string; reason?: string }) {
    super(code, message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "ClientError";
    if (options?.errno) this.errno = options.errno;
    if (options?.reason) this.reason = options.reason;
  }
}

// errno numbers the core reports, by name, for messages and `errno`.
const ERRNO_NAMES: string[] = [];
for (const [name, n] of Object.entries(constants.errno)) if (ERRNO_NAMES[n] === undefined) ERRNO_NAMES[n] = name;

export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}
