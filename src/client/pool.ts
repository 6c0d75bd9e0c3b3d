/**
 * A pool of connections to one origin: at most `maxConnections`, idle ones
 * reused last-in first-out (the warmest socket; the coldest ones age out at
 * `maxIdleTime`), a bounded FIFO of requests waiting for a connection, each
 * with a deadline, and optional pipelining.
 *
 * A connection comes back only when its response has been read to the end
 * (Connection.onEnd): the response's release()/close() or a full read is
 * what gets it there, never garbage collection.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

import { Connection, type Transport } from "./connection.js";
import { ClientError, ClientErrorCodes } from "./errors.js";
import type { Exchange } from "./exchange.js";

export interface PoolOptions {
  maxConnections: number;
  maxQueue: number;
  queueTimeout: number;
  maxIdleTime: number;
  pipelining: number;
  connectTimeout: number;
}

export class Pool {
  /** Idle connections; the last one is the most recently used. */
  readonly idle: Connection[] = [];
  /** Connections open or connecting. */
  readonly conns = new Set<Connection>();
  /** Requests waiting for a connection, oldest first. */
  readonly waiting: Exchange[] = [];
  connecting = 0;
  #addresses: string[] | undefined;
  #addressesAt = 0;

  constructor(
    readonly transport: Transport,
    readonly hostname: string,
    readonly port: number,
    readonly options: PoolOptions,
    readonly onIdleChange: () => void,
  ) {}

  /**
   * Gives `ex` a connection now (ex.attach) or queues it. `fresh` skips idle
   * connections (a retry after a stale one).
   */
  acquire(ex: Exchange, fresh: boolean): void {
    const now = performance.now();
    if (!fresh) {
      const idle = this.idle;
      while (idle.length > 0) {
        const c = idle.pop()!;
        if (c.open && now - c.idleSince < this.options.maxIdleTime && c.expiresAt > now) {
          ex.attach(c);
          return;
        }
        c.close();
      }
      if (this.options.pipelining > 1 && this.conns.size >= this.options.maxConnections) {
        for (const c of this.conns) {
          if (c.connected && !c.closeAfter && c.exchanges.length > 0 && c.exchanges.length < this.options.pipelining && c.exchanges[c.exchanges.length - 1]!.requestSent) {
            ex.attach(c);
            return;
          }
        }
      }
    }
    // maxQueue counts requests with no connection on its way for them.
    const canOpen = this.conns.size < this.options.maxConnections;
    if (!canOpen && this.waiting.length - this.connecting >= this.options.maxQueue) {
      ex.fail(new ClientError(ClientErrorCodes.QUEUE_FULL, `the pool for ${this.hostname}:${this.port} has ${this.waiting.length} requests waiting (maxQueue)`));
      return;
    }
    ex.queueDeadline = this.options.queueTimeout > 0 ? now + this.options.queueTimeout : 0;
    this.waiting.push(ex);
    if (canOpen && this.connecting < this.waiting.length) this.#open(ex.connectTimeout);
  }

  /** A waiting exchange gave up (abort, timeout). */
  dequeue(ex: Exchange): void {
    const i = this.waiting.indexOf(ex);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    // A connect nobody waits for any more is given up, not left to hang
    // until its timeout.
    if (this.connecting > this.waiting.length) {
      for (const c of this.conns) {
        if (!c.connected) {
          c.fallbacks = [];
          c.abortConnect(null);
          break;
        }
      }
    }
  }

  /** A connection finished its last response and may be reused. */
  put(c: Connection): void {
    const ex = this.waiting.shift();
    if (ex !== undefined) {
      ex.attach(c);
      return;
    }
    c.idleSince = performance.now();
    this.idle.push(c);
    if (this.idle.length === 1) this.onIdleChange();
  }

  connected(c: Connection): void {
    this.connecting--;
    this.put(c);
  }

  /** A connect failed (refused, timed out, name not resolved); null: cancelled. */
  connectFailed(c: Connection, err: ClientError | null): void {
    if (!this.conns.delete(c)) return;
    this.connecting--;
    if (c.fallbacks.length > 0) {
      // Another address of the same name (IPv4 after IPv6, say).
      const next = this.#newConnection();
      next.fallbacks = c.fallbacks.slice(1);
      next.start(c.fallbacks[0]!, this.port, c.connectDeadline);
      return;
    }
    // The oldest waiter takes the failure: one failed connect, one failed
    // request, so a down server fails requests at the rate they arrive.
    if (err === null) return;
    const ex = this.waiting.shift();
    if (ex !== undefined) ex.fail(err);
  }

  /** An open connection closed (by either side); forget it. */
  removed(c: Connection): void {
    if (!this.conns.delete(c)) return;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    // Room for another connection: serve the queue.
    if (this.waiting.length > this.connecting && this.conns.size < this.options.maxConnections) {
      this.#open(this.waiting[this.connecting]!.connectTimeout);
    }
  }

  /** Closes idle connections past maxIdleTime or the server's keep-alive. */
  sweep(now: number): void {
    const idle = this.idle;
    let k = 0;
    for (let i = 0; i < idle.length; i++) {
      const c = idle[i]!;
      if (now - c.idleSince >= this.options.maxIdleTime || c.expiresAt <= now || !c.open) {
        if (c.open) {
          idle[i] = undefined as unknown as Connection; // close() -> removed() must not find it
          c.close();
        }
      } else {
        idle[k++] = c;
      }
    }
    idle.length = k;
  }

  /** Fails waiters whose queue deadline passed. */
  expire(now: number): void {
    while (this.waiting.length > 0) {
      let hit = -1;
      for (let i = 0; i < this.waiting.length; i++) {
        const d = this.waiting[i]!.queueDeadline;
        if (d > 0 && d <= now) {
          hit = i;
          break;
        }
      }
      if (hit < 0) return;
      const [ex] = this.waiting.splice(hit, 1);
      ex!.fail(new ClientError(ClientErrorCodes.QUEUE_TIMEOUT, `no connection to ${this.hostname}:${this.port} became free within ${this.options.queueTimeout} ms (queueTimeout)`));
    }
  }

  /** Connects whose deadline passed fail with CONNECT_TIMEOUT. */
  expireConnects(now: number): void {
    if (this.connecting === 0) return;
    for (const c of [...this.conns]) {
      if (!c.connected && c.connectDeadline > 0 && c.connectDeadline <= now) {
        c.fallbacks = [];
        c.abortConnect(new ClientError(ClientErrorCodes.CONNECT_TIMEOUT, `connect to ${this.hostname}:${this.port} timed out (connectTimeout)`));
      }
    }
  }

  closeAll(err: ClientError): void {
    for (const ex of this.waiting.splice(0)) ex.fail(err);
    for (const c of [...this.conns]) c.destroy(err);
    this.idle.length = 0;
  }

  #newConnection(): Connection {
    const c = new Connection(this.transport, this);
    this.conns.add(c);
    this.connecting++;
    return c;
  }

  #open(connectTimeout: number): void {
    const c = this.#newConnection();
    const deadline = performance.now() + (connectTimeout > 0 ? connectTimeout : 1e15);
    if (isIP(this.hostname)) {
      c.start(this.hostname, this.port, deadline);
      return;
    }
    const now = performance.now();
    if (this.#addresses !== undefined && now - this.#addressesAt < 1000) {
      c.fallbacks = this.#addresses.slice(1);
      c.start(this.#addresses[0]!, this.port, deadline);
      return;
    }
    // Names resolve once a second at most; connections outlive that.
    c.connectDeadline = deadline;
    lookup(this.hostname, { all: true }).then(
      (list) => {
        if (!this.conns.has(c)) return; // timed out or closed meanwhile
        this.#addresses = list.map((a) => a.address);
        this.#addressesAt = performance.now();
        c.fallbacks = this.#addresses.slice(1);
        c.start(this.#addresses[0]!, this.port, deadline);
      },
      (e: NodeJS.ErrnoException) => {
        c.abortConnect(new ClientError(ClientErrorCodes.CONNECT, `cannot resolve ${this.hostname}: ${e.code ?? e.message}`, { errno: e.code, cause: e }));
      },
    );
  }
}
