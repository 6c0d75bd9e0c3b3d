/**
 * ClientResponse: what client.request() resolves to once a response head
 * has arrived. The body follows on the same connection; the response holds
 * that connection until the body is read to the end (stream, text(),
 * json(), bytes()), release() or close() is called. Garbage collection
 * never returns a connection (docs/client.md, "explicit reuse").
 *
 * The response is a thin face over its Exchange (exchange.ts), which the
 * connection feeds; nothing on the connection's side points back at the
 * face, so a face the program drops can be collected and reported (the
 * leak detector) while its exchange still holds the connection.
 */
import type { Readable } from "node:stream";

import type { Exchange } from "./exchange.js";

export class ClientResponse {
  /** Status code of the final response (1xx responses are not surfaced). */
  readonly status: number;
  /** "1.1" or "1.0". */
  readonly httpVersion: string;
  /** @internal */
  readonly _ex: Exchange;
  #headers: Record<string, string | string[]> | undefined;

  /** @internal */
  constructor(ex: Exchange, status: number, http11: boolean) {
    this._ex = ex;
    this.status = status;
    this.httpVersion = http11 ? "1.1" : "1.0";
  }

  /** The reason phrase as sent (may be empty). */
  get statusText(): string {
    return this._ex.reason();
  }

  /** True for 2xx. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /**
   * Header fields by lower-cased name. Repeated fields are joined with ", ",
   * except Set-Cookie, which is an array. Built on first use.
   */
  get headers(): Record<string, string | string[]> {
    return (this.#headers ??= this._ex.headerObject());
  }

  /** One header's value (repeats joined with ", "), or undefined. Case-insensitive. */
  header(name: string): string | undefined {
    return this._ex.header(name.toLowerCase());
  }

  /** Header names and values in the order received: [name, value, name, value, ...]. */
  get rawHeaders(): string[] {
    return this._ex.rawHeaders();
  }

  /**
   * The body as a Readable (async-iterable) with backpressure: reading is
   * paused on the connection while the stream is full. Reading it to the
   * end gives the connection back to the pool. Throws FARAD_ERR_BODY_USED
   * after text()/bytes()/json(), release() or close().
   */
  get body(): Readable {
    return this._ex.stream(this);
  }

  /** The whole body as bytes; gives the connection back. */
  bytes(): Promise<Buffer> {
    return this._ex.collect(this);
  }

  /** The whole body decoded as UTF-8; gives the connection back. */
  async text(): Promise<string> {
    return (await this._ex.collect(this)).toString("utf8");
  }

  /** The whole body parsed as JSON; gives the connection back. */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse((await this._ex.collect(this)).toString("utf8")) as T;
  }

  /**
   * Done with this response: an unread remainder up to the client's
   * `maxDrainBytes` is read and dropped so the connection can be reused;
   * past that the connection is closed. Idempotent; safe after errors.
   */
  release(): void {
    this._ex.release();
  }

  /** Done with this response and its connection: closes it unless the body already arrived whole. Idempotent. */
  close(): void {
    this._ex.closeByUser();
  }

  /** `await using res = await client.request(...)` releases at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    this._ex.release();
  }
}
