/**
 * The client's side of the native core: one ClientHandle per Client
 * (Transport), and a Connection per socket that routes the core's events to
 * the exchanges (requests) it carries, in order.
 *
 * Event records (native/client/client.h): type, slot, gen, n, then n words.
 * A connection is identified by slot and generation; the core bumps the
 * generation when it closes a socket, so a stale record or call misses.
 */
import { loadNative, type NativeClientHandle } from "../transport/binding.js";
import { ClientError, ClientErrorCodes, errnoName } from "./errors.js";
import type { Exchange } from "./exchange.js";
import type { Pool } from "./pool.js";

const EV_CONNECT = 1;
const EV_HEAD = 2;
const EV_DATA = 3;
const EV_END = 4;
const EV_ERROR = 5;
const EV_EOF = 6;
const EV_DRAIN = 7;

export const HEAD_BODY_MASK = 3;
export const HEAD_KEEP_ALIVE = 1 << 2;
export const HEAD_INFORMATIONAL = 1 << 3;
export const HEAD_TUNNEL = 1 << 4;
export const HEAD_HAS_LENGTH = 1 << 5;
export const HEAD_HTTP11 = 1 << 6;

export interface TransportOptions {
  maxHeaderBytes: number;
  maxHeaders: number;
  maxTrailerBytes: number;
}

export class Transport {
  readonly handle: NativeClientHandle;
  readonly conns: (Connection | undefined)[] = [];
  #inflight = 0;
  #ids = new Uint32Array(2);

  constructor(options: TransportOptions) {
    const addon = loadNative();
    this.handle = new addon.ClientHandle(
      { maxHeaderBytes: options.maxHeaderBytes, maxHeaders: options.maxHeaders, maxTrailerBytes: options.maxTrailerBytes },
      (ev, n, slab, codes) => this.#onBatch(ev, n, slab, codes),
    );
  }

  /** Counts requests in flight; the process stays alive while there are any. */
  hold(): void {
    if (this.#inflight++ === 0) this.handle.ref(true);
  }
  unhold(): void {
    if (--this.#inflight === 0) this.handle.ref(false);
  }
  get inflight(): number {
    return this.#inflight;
  }

  /** Starts a connect; returns 1 (pending), 0 (connected) or -errno. */
  connect(conn: Connection, ip: string, port: number): number {
    const r = this.handle.connect(ip, port, this.#ids);
    if (r >= 0) {
      conn.slot = this.#ids[0]!;
      conn.gen = this.#ids[1]!;
      this.conns[conn.slot] = conn;
    }
    return r;
  }

  forget(conn: Connection): void {
    if (this.conns[conn.slot] === conn) this.conns[conn.slot] = undefined;
  }

  // Offsets are into `slab`, the Buffer reads landed in (views of it are
  // handed out as body chunks: no copy); error codes index `codes`. `ev` is
  // reused by the next batch: nothing may keep it.
  #onBatch(ev: Int32Array, n: number, bytes: Buffer | null, codes: string[] | null): void {
    for (let i = 0; i < n; ) {
      const type = ev[i]!;
      const c = this.conns[ev[i + 1]!];
      const extra = ev[i + 3]!;
      if (c !== undefined && c.gen === ev[i + 2]) {
        try {
          switch (type) {
            case EV_DATA: {
              const off = ev[i + 4]!;
              c.onData(bytes!.subarray(off, off + ev[i + 5]!));
              break;
            }
            case EV_HEAD:
              c.onHead(ev, i + 4, bytes!);
              break;
            case EV_END:
              c.onEnd();
              break;
            case EV_CONNECT:
              c.onConnect(ev[i + 4]!);
              break;
            case EV_DRAIN:
              c.onDrain();
              break;
            case EV_EOF:
              c.onEof();
              break;
            case EV_ERROR: {
              const k = ev[i + 6]!;
              c.onError(ev[i + 4]!, ev[i + 5] === 1, k >= 0 ? codes![k]! : "");
              break;
            }
          }
        } catch (e) {
          // A bug in farad's own event handling: fail the connection rather
          // than the whole batch, and say so.
          c.destroy(new ClientError(ClientErrorCodes.SOCKET, `internal error handling a client event: ${(e as Error).message}`, { cause: e }));
        }
      }
      i += 4 + extra;
    }
  }

  destroy(): void {
    this.handle.destroy();
  }
}

const C_CONNECTING = 0;
const C_OPEN = 1;
const C_CLOSED = 2;

export class Connection {
  /** Native slot, -1 until connect() gave one. */
  slot = -1;
  gen = 0;
  ip = "";
  port = 0;
  state = C_CONNECTING;
  /** Exchanges on this connection, oldest (the one being answered) first. */
  readonly exchanges: Exchange[] = [];
  /** Responses served; > 0 means the connection was reused. */
  served = 0;
  /** performance.now() when it went idle, and when the server's keep-alive ends. */
  idleSince = 0;
  expiresAt = Infinity;
  /** Connect deadline (performance.now), 0 when connected. */
  connectDeadline = 0;
  paused = false;
  /** Close once the current response ends (Connection: close either way). */
  closeAfter = false;
  #drainWaiters: (() => void)[] = [];
  /** Addresses still to try if this connect fails. */
  fallbacks: string[] = [];

  constructor(
    readonly transport: Transport,
    readonly pool: Pool,
  ) {}

  get open(): boolean {
    return this.state !== C_CLOSED;
  }
  get connected(): boolean {
    return this.state === C_OPEN;
  }

  /** Native connect to one address; a failure goes to pool.connectFailed. */
  start(ip: string, port: number, deadline: number): void {
    this.ip = ip;
    this.port = port;
    this.connectDeadline = deadline;
    const r = this.transport.connect(this, ip, port);
    if (r < 0) {
      this.state = C_CLOSED;
      this.pool.connectFailed(this, connectError(-r, ip, port));
    } else if (r === 0) {
      this.state = C_OPEN;
      this.connectDeadline = 0;
      this.pool.connected(this);
    }
  }

  /** Gives up a connect in progress (timeout, DNS failure, client closed; null: nobody needs it). */
  abortConnect(err: ClientError | null): void {
    if (this.state !== C_CONNECTING) return;
    this.state = C_CLOSED;
    if (this.slot >= 0) {
      this.transport.handle.close(this.slot, this.gen);
      this.transport.forget(this);
    }
    this.pool.connectFailed(this, err);
  }

  /** Writes request bytes; `method` >= 0 starts a request. Returns unsent bytes or -errno. */
  write(bytes: Uint8Array, method: number): number {
    return this.transport.handle.write(this.slot, this.gen, bytes, method);
  }

  pause(on: boolean): void {
    if (this.paused === on || this.state === C_CLOSED) return;
    this.paused = on;
    this.transport.handle.pause(this.slot, this.gen, on);
  }

  /** Resolves when unsent bytes reach zero (or the connection closes). */
  drained(): Promise<void> {
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  onConnect(err: number): void {
    if (err !== 0) {
      this.state = C_CLOSED;
      this.transport.forget(this);
      this.pool.connectFailed(this, connectError(-err, this.ip, this.port));
      return;
    }
    this.state = C_OPEN;
    this.connectDeadline = 0;
    this.pool.connected(this);
  }

  onHead(ev: Int32Array, at: number, bytes: Buffer): void {
    const ex = this.exchanges[0];
    if (ex === undefined) return; // the core only reports heads it expects
    const flags = ev[at + 1]!;
    if ((flags & HEAD_INFORMATIONAL) === 0) {
      if ((flags & HEAD_KEEP_ALIVE) === 0) this.closeAfter = true;
      const ka = ev[at + 2]!;
      // The server's Keep-Alive timeout, less a second for the FIN in flight.
      if (ka >= 0) this.expiresAt = performance.now() + Math.max(0, ka * 1000 - 1000);
    }
    ex.onHead(ev, at, bytes);
  }

  onData(chunk: Buffer): void {
    this.exchanges[0]?.onData(chunk);
  }

  onEnd(): void {
    const ex = this.exchanges.shift();
    this.served++;
    if (ex === undefined) return;
    ex.onEnd();
    if (this.state === C_CLOSED) return;
    if (this.closeAfter || !ex.requestSent || this.expiresAt <= performance.now()) {
      this.close();
    } else {
      // Paused for a reader that the whole body reached in the same turn:
      // the next response must be read.
      if (this.paused) this.pause(false);
      if (this.exchanges.length === 0) this.pool.put(this);
    }
  }

  onDrain(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  onEof(): void {
    this.#lost(new ClientError(ClientErrorCodes.SOCKET_CLOSED, "the server closed the connection"), false);
  }

  onError(errno: number, started: boolean, code: string): void {
    let err: ClientError;
    if (errno !== 0) {
      const name = errnoName(errno);
      const closedEarly = !started && (name === "ECONNRESET" || name === "EPIPE");
      err = new ClientError(closedEarly ? ClientErrorCodes.SOCKET_CLOSED : ClientErrorCodes.SOCKET, `socket error ${name}`, { errno: name });
    } else if (code === ClientErrorCodes.SOCKET_CLOSED || code === ClientErrorCodes.PREMATURE_CLOSE) {
      err = new ClientError(
        code,
        code === ClientErrorCodes.SOCKET_CLOSED
          ? "the server closed the connection before sending a response"
          : "the server closed the connection in the middle of the response",
      );
    } else if (code === "FARAD_ERR_UNSOLICITED_RESPONSE") {
      err = new ClientError(ClientErrorCodes.BAD_RESPONSE, "the server sent bytes with no request outstanding", { reason: code });
    } else {
      err = new ClientError(ClientErrorCodes.BAD_RESPONSE, `invalid response from the server (${code})`, { reason: code });
    }
    this.#lost(err, started);
  }

  // The core closed the socket (EOF, error).
  #lost(err: ClientError, started: boolean): void {
    if (this.state === C_CONNECTING) {
      // Cannot happen (the core reports a connect first); kept consistent.
      this.state = C_CLOSED;
      this.transport.forget(this);
      this.pool.connectFailed(this, err);
      return;
    }
    this.#closed();
    this.#failAll(err, started);
  }

  /** Closes the socket; exchanges still on it fail with `err`. */
  destroy(err: ClientError, started = true): void {
    if (this.state === C_CONNECTING) {
      this.abortConnect(err);
      return;
    }
    if (this.state === C_CLOSED) return;
    this.transport.handle.close(this.slot, this.gen);
    this.#closed();
    this.#failAll(err, started);
  }

  /** Closes a connection nobody is using (idle, or after its last response). */
  close(): void {
    if (this.state !== C_OPEN) return;
    this.transport.handle.close(this.slot, this.gen);
    this.#closed();
    this.#failAll(new ClientError(ClientErrorCodes.SOCKET_CLOSED, "the connection was closed"), true);
  }

  // An open connection closed (by either side).
  #closed(): void {
    if (this.state !== C_OPEN) return;
    this.state = C_CLOSED;
    this.transport.forget(this);
    this.onDrain();
    this.pool.removed(this);
  }

  #failAll(err: ClientError, started: boolean): void {
    const list = this.exchanges.splice(0);
    for (let i = 0; i < list.length; i++) list[i]!.onConnectionError(err, i === 0 && started, this.served > 0);
  }
}

function connectError(errno: number, ip: string, port: number): ClientError {
  const name = errnoName(errno);
  const where = ip ? ` to ${ip.includes(":") ? `[${ip}]` : ip}:${port}` : "";
  return new ClientError(ClientErrorCodes.CONNECT, `connect${where} failed: ${name}`, { errno: name });
}
