/**
 * node:http's diagnostics_channel names for servers, so APM tools that
 * subscribe to them see farad's requests. node publishes an
 * IncomingMessage and a ServerResponse; subscribers read `request.headers`
 * as an object, call `response.once("finish", ...)` and `getHeader()`. A
 * RequestContext is none of these and is released when the request ends, so
 * each request gets a pair of small stand-ins, made only while someone
 * subscribes: the request's fields copied, and a response that reads the
 * live context until it finishes, then a snapshot.
 */
import { channel } from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import { ErrorCodes, FaradError } from "../common/errors.js";
import { STATUS_TEXT } from "../protocol/http1/status.js";
import { S_ENDED, type RequestContext } from "./context.js";
import { addHeader, addResponseFields, responseContentType, type HeaderRecord } from "./inject.js";
import { OUT_NONE } from "./streaming.js";

export const chRequestStart = channel("http.server.request.start");
export const chResponseFinish = channel("http.server.response.finish");

/** What node's `socket` offers that APM tools read. */
export interface DiagnosticSocket {
  /** The client's address, undefined for inject() or a client already gone. */
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  /** The server's listening port (undefined for inject()). */
  localPort: number | undefined;
  /** Always false: farad serves plain HTTP/1.1. */
  encrypted: false;
}

/** Request header fields by lower-case name, combined as node does: cookies with "; ", Set-Cookie as an array, others with ", ". */
function requestHeaders(ctx: RequestContext): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of ctx.headers()) {
    const key = name.toLowerCase();
    const had = out[key];
    if (had === undefined) out[key] = key === "set-cookie" ? [value] : value;
    else if (Array.isArray(had)) had.push(value);
    else out[key] = `${had}${key === "cookie" ? "; " : ", "}${value}`;
  }
  return out;
}

/** The `request` published: what an IncomingMessage's reader looks at, copied when the request starts. */
export class DiagnosticRequest extends EventEmitter {
  readonly method: string;
  /** The request target as sent. */
  readonly url: string;
  readonly headers: Record<string, string | string[]>;
  readonly httpVersion: string;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly socket: DiagnosticSocket;
  /** True once the response has finished. */
  complete = false;

  constructor(ctx: RequestContext, socket: DiagnosticSocket) {
    super();
    this.method = ctx.method;
    this.url = ctx.url;
    this.headers = requestHeaders(ctx);
    this.httpVersion = ctx.httpVersion;
    this.httpVersionMinor = ctx._versionMinor;
    this.socket = socket;
  }
}

/**
 * The `response` published: a ServerResponse's readable side. Until it
 * finishes it reads (and setHeader() writes) the live context; at the end it
 * keeps a snapshot and emits "finish", then "close".
 */
export class DiagnosticResponse extends EventEmitter {
  readonly req: DiagnosticRequest;
  readonly socket: DiagnosticSocket;
  #ctx: RequestContext | null;
  #status = 0;
  #headers: HeaderRecord | null = null;

  constructor(ctx: RequestContext, req: DiagnosticRequest) {
    super();
    this.#ctx = ctx;
    this.req = req;
    this.socket = req.socket;
  }

  get statusCode(): number {
    return this.#ctx !== null ? this.#ctx._status : this.#status;
  }

  get statusMessage(): string {
    return STATUS_TEXT[this.statusCode] ?? "";
  }

  /** True once the head went out (a streamed response) or the response ended. */
  get headersSent(): boolean {
    const ctx = this.#ctx;
    return ctx === null || (ctx._state & S_ENDED) !== 0 || ctx._out !== OUT_NONE;
  }

  get writableEnded(): boolean {
    return this.#ctx === null;
  }

  get finished(): boolean {
    return this.#ctx === null;
  }

  getHeaders(): HeaderRecord {
    return { ...(this.#headers ?? headersOf(this.#ctx!)) };
  }

  getHeader(name: string): string | string[] | undefined {
    return (this.#headers ?? headersOf(this.#ctx!))[name.toLowerCase()];
  }

  getHeaderNames(): string[] {
    return Object.keys(this.#headers ?? headersOf(this.#ctx!));
  }

  hasHeader(name: string): boolean {
    return this.getHeader(name) !== undefined;
  }

  /** Sets a header on the live response (a tracing header, say); throws FARAD_ERR_RESPONSE_SENT once the head is out. */
  setHeader(name: string, value: string | number | readonly string[]): this {
    const ctx = this.#ctx;
    if (ctx === null || this.headersSent) {
      throw new FaradError(ErrorCodes.RESPONSE_SENT, `setHeader(${JSON.stringify(name)}): the response head has been sent`);
    }
    if (typeof value === "object") {
      ctx.setHeader(name, value[0] ?? "");
      for (let i = 1; i < value.length; i++) ctx.addHeader(name, value[i]!);
    } else {
      ctx.setHeader(name, value);
    }
    return this;
  }

  /** @internal The response is out: keep what it was, let go of the context. */
  _finish(): void {
    const ctx = this.#ctx;
    if (ctx === null) return;
    this.#status = ctx._status;
    this.#headers = headersOf(ctx);
    this.#ctx = null;
  }
}

function headersOf(ctx: RequestContext): HeaderRecord {
  const headers: HeaderRecord = {};
  const type = responseContentType(ctx);
  if (type !== null) addHeader(headers, "content-type", type);
  addResponseFields(headers, ctx);
  return headers;
}

/** The message published on both channels (node's shape). */
export interface DiagnosticMessage {
  request: DiagnosticRequest;
  response: DiagnosticResponse;
  socket: DiagnosticSocket;
  server: unknown;
}

export function diagnosticMessage(ctx: RequestContext, server: unknown, localPort: number | undefined): DiagnosticMessage {
  const peer = ctx._slot >= 0 ? ctx._host.peer(ctx._slot, ctx._gen) : null;
  const socket: DiagnosticSocket = { remoteAddress: peer?.[0], remotePort: peer?.[1], localPort, encrypted: false };
  const request = new DiagnosticRequest(ctx, socket);
  return { request, response: new DiagnosticResponse(ctx, request), socket, server };
}

/**
 * Ends a published pair: snapshot, the finish channel, then "finish" and
 * "close" as node emits them. Listener errors are returned, not thrown: the
 * server must still release the context.
 */
export function finishDiagnostics(msg: DiagnosticMessage): unknown[] {
  msg.response._finish();
  msg.request.complete = true;
  if (chResponseFinish.hasSubscribers) chResponseFinish.publish(msg);
  const errors: unknown[] = [];
  for (const [emitter, event] of [[msg.response, "finish"], [msg.response, "close"], [msg.request, "close"]] as const) {
    try {
      emitter.emit(event);
    } catch (e) {
      errors.push(e);
    }
  }
  return errors;
}
