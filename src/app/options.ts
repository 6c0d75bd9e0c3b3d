/**
 * Server options: every option, its default, and its validation, in one
 * place (as node's _http_server.js does). README.md lists them for users.
 */
import { ErrorCodes, FaradError } from "../common/errors.js";

export interface Logger {
  error(message: string, err?: unknown): void;
  warn?(message: string, err?: unknown): void;
}

export interface ServerOptions {
  /** Address to listen on; listen() may override. Default "::" (all interfaces, IPv4 too). */
  host?: string;
  /** Port; listen() may override. Default 8888 (Hertz's). 0 picks a free port. */
  port?: number;
  /** listen(2) backlog. Default 511. */
  backlog?: number;
  /** Set SO_REUSEPORT so several servers (processes or workers) share a port. Default false. */
  reusePort?: boolean;
  /** With an IPv6 host, refuse IPv4-mapped connections. Default false. */
  ipv6Only?: boolean;
  /** Largest body ctx.body() buffers, in bytes; more answers 413. Default 4 MiB. */
  bodyLimit?: number;
  /** Longest request line (method, target, version), in bytes; longer answers 414. Default 8192. */
  maxRequestLine?: number;
  /** Largest request head (request line and headers), in bytes; larger answers 431. Default 16384. */
  maxHeaderBytes?: number;
  /** Most header fields in a request; more answers 431. Default 100. */
  maxHeaders?: number;
  /** Largest trailer section of a chunked request body, in bytes; larger answers 431. Default 16384. */
  maxTrailerBytes?: number;
  /** Pipelined requests read ahead of their responses, per connection. Default 64. */
  maxPipelined?: number;
  /** Input held by all connections (unparsed bytes in reactor buffers) before reading pauses everywhere, in bytes; resumes below 3/4 of it. 0 = no budget. Default 128 MiB. */
  maxBufferedBytes?: number;
  /** Open connections at most; further ones are closed on accept. 0 = no limit. Default 0. */
  maxConnections?: number;
  /** Time to receive a request head, from its first byte (slowloris), in ms; 408 after. Default 10000. */
  headersTimeout?: number;
  /** Longest pause between request body bytes, in ms; 408 after. Default 30000. */
  bodyTimeout?: number;
  /** How long an idle keep-alive connection stays open, in ms. Default 5000. */
  keepAliveTimeout?: number;
  /** Longest pause in writing a response to a client that does not read, in ms; closed after. Default 30000. */
  writeTimeout?: number;
  /** How long a closing connection drains what the client still sends, in ms. Default 2000. */
  lingerTimeout?: number;
  /** Time a handler chain has to finish, in ms; 503 and c.signal aborts after. 0 = none. Default 30000. */
  handlerTimeout?: number;
  /** How long close() waits for in-flight requests before closing connections, in ms. Default 5000. */
  exitWaitTimeout?: number;
  /** Router: redirect /a/ to /a (or back) when only the other exists. Default true. */
  redirectTrailingSlash?: boolean;
  /** Router: clean the path and match it case-insensitively, then redirect. Default false. */
  redirectFixedPath?: boolean;
  /** Router: answer 405 with Allow when the path exists for other methods. Default false. */
  handleMethodNotAllowed?: boolean;
  /** Router: look up //a///b as /a/b. Default false. */
  removeExtraSlash?: boolean;
  /** Router: percent-decode param values. Default true. */
  unescapePathValues?: boolean;
  /** Make the long-lived context reachable with currentContext() (AsyncLocalStorage; costs a little per request). Default false. */
  asyncContext?: boolean;
  /** Most reactor events handed to JS in one call (a tuning knob; see docs/boundary.md). 0 = as many as fit (1024). Default 0. */
  maxBatch?: number;
  /** Where errors are reported. Default: console. */
  logger?: Logger;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  backlog: number;
  reusePort: boolean;
  ipv6Only: boolean;
  bodyLimit: number;
  maxRequestLine: number;
  maxHeaderBytes: number;
  maxHeaders: number;
  maxTrailerBytes: number;
  maxPipelined: number;
  maxConnections: number;
  maxBufferedBytes: number;
  headersTimeout: number;
  bodyTimeout: number;
  keepAliveTimeout: number;
  writeTimeout: number;
  lingerTimeout: number;
  handlerTimeout: number;
  exitWaitTimeout: number;
  redirectTrailingSlash: boolean;
  redirectFixedPath: boolean;
  handleMethodNotAllowed: boolean;
  removeExtraSlash: boolean;
  unescapePathValues: boolean;
  asyncContext: boolean;
  maxBatch: number;
  logger: Logger;
}

export const DEFAULTS: Readonly<Omit<ResolvedOptions, "logger">> = Object.freeze({
  host: "::",
  port: 8888,
  backlog: 511,
  reusePort: false,
  ipv6Only: false,
  bodyLimit: 4 * 1024 * 1024,
  maxRequestLine: 8192,
  maxHeaderBytes: 16384,
  maxHeaders: 100,
  maxTrailerBytes: 16384,
  maxPipelined: 64,
  maxConnections: 0,
  maxBufferedBytes: 128 * 1024 * 1024,
  headersTimeout: 10_000,
  bodyTimeout: 30_000,
  keepAliveTimeout: 5_000,
  writeTimeout: 30_000,
  lingerTimeout: 2_000,
  handlerTimeout: 30_000,
  exitWaitTimeout: 5_000,
  redirectTrailingSlash: true,
  redirectFixedPath: false,
  handleMethodNotAllowed: false,
  removeExtraSlash: false,
  unescapePathValues: true,
  asyncContext: false,
  maxBatch: 0,
});

// [min, max] for each numeric option
const RANGES: Record<string, [number, number]> = {
  port: [0, 65535],
  backlog: [1, 65535],
  bodyLimit: [0, Number.MAX_SAFE_INTEGER],
  maxRequestLine: [16, 1 << 20],
  maxHeaderBytes: [16, 1 << 20],
  maxTrailerBytes: [0, 1 << 20],
  maxHeaders: [1, 4096],
  maxPipelined: [1, 65536],
  maxConnections: [0, 1 << 24],
  maxBufferedBytes: [0, Number.MAX_SAFE_INTEGER],
  headersTimeout: [1, 2 ** 31 - 1],
  bodyTimeout: [1, 2 ** 31 - 1],
  keepAliveTimeout: [1, 2 ** 31 - 1],
  writeTimeout: [1, 2 ** 31 - 1],
  lingerTimeout: [1, 2 ** 31 - 1],
  handlerTimeout: [0, 2 ** 31 - 1],
  exitWaitTimeout: [0, 2 ** 31 - 1],
  maxBatch: [0, 1024],
};

function invalid(name: string, why: string): never {
  throw new FaradError(ErrorCodes.INVALID_OPTION, `invalid option ${name}: ${why}`);
}

export function resolveOptions(o: ServerOptions = {}): ResolvedOptions {
  if (o === null || typeof o !== "object") invalid("options", "expected an object");
  const out: Record<string, unknown> = { ...DEFAULTS, logger: console };
  for (const [key, value] of Object.entries(o)) {
    if (value === undefined) continue;
    if (!(key in out)) invalid(key, "unknown option");
    const dflt = (DEFAULTS as Record<string, unknown>)[key];
    if (key === "logger") {
      if (typeof value !== "object" || value === null || typeof (value as Logger).error !== "function") {
        invalid(key, "expected an object with an error(message, err) method");
      }
    } else if (key === "host") {
      if (typeof value !== "string" || value.length === 0) invalid(key, "expected a non-empty string");
    } else if (typeof dflt === "boolean") {
      if (typeof value !== "boolean") invalid(key, `expected a boolean, got ${typeof value}`);
    } else {
      const [min, max] = RANGES[key]!;
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        invalid(key, `expected an integer from ${min} to ${max}, got ${String(value)}`);
      }
    }
    out[key] = value;
  }
  return out as unknown as ResolvedOptions;
}
