/**
 * A raw-socket HTTP/1.1 client for wire-level tests: it writes exactly the
 * bytes it is given (whole, split at chosen offsets, or one byte at a time)
 * and parses responses incrementally from one byte stream, so several
 * pipelined responses on one connection are read back in order. Every wait
 * is bounded by a timeout, so a server that never answers fails the test
 * instead of hanging it.
 */
import { connect, type Socket } from "node:net";
import { setImmediate as immediate } from "node:timers/promises";

export const DEFAULT_TIMEOUT = 2000;

export interface Response {
  /** "HTTP/1.1" */
  version: string;
  status: number;
  reason: string;
  /** Header fields in the order received, names as sent. */
  headers: [string, string][];
  body: Buffer;
  /** The exact bytes of this response (head and body). */
  raw: Buffer;
  /** First value of header `name` (case-insensitive), or undefined. */
  header(name: string): string | undefined;
  /** Every value of header `name`, in order. */
  headerValues(name: string): string[];
  /** The body as UTF-8 text. */
  text(): string;
  json(): unknown;
}

export interface ReadOptions {
  /** The request was HEAD: the response has no body whatever its headers say. */
  head?: boolean;
  timeout?: number;
}

/** How the connection ended, once it has. */
export type EndKind = "eof" | "reset" | "error";

export class RawClient {
  readonly socket: Socket;
  /** Received bytes not yet consumed, as a list (joined lazily: a 16 MiB body arrives in many chunks). */
  #chunks: Buffer[] = [];
  #len = 0;
  #ended: EndKind | null = null;
  #error: Error | null = null;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#len += chunk.length;
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended ??= "eof";
      this.#wake();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      this.#error = err;
      this.#ended ??= err.code === "ECONNRESET" ? "reset" : "error";
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended ??= "eof";
      this.#wake();
    });
  }

  /** Connects to 127.0.0.1:port. */
  static connect(port: number, host = "127.0.0.1", timeout = DEFAULT_TIMEOUT): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeout} ms`));
      }, timeout);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeListener("error", reject);
        resolve(new RawClient(s));
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** Bytes received and not yet consumed by a read. */
  get buffered(): Buffer {
    return this.#buf;
  }

  get #buf(): Buffer {
    if (this.#chunks.length !== 1) this.#chunks = [Buffer.concat(this.#chunks, this.#len)];
    return this.#chunks[0]!;
  }

  set #buf(b: Buffer) {
    this.#chunks = [b];
    this.#len = b.length;
  }

  /** How the connection ended, or null while it is open. */
  get ended(): EndKind | null {
    return this.#ended;
  }

  /** Writes bytes and resolves once they are handed to the kernel. */
  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Writes `data` in pieces cut at the given offsets, yielding to the event
   * loop between pieces so each goes out in its own send.
   */
  async writeSplit(data: string | Uint8Array, cuts: readonly number[]): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : Buffer.from(data);
    let prev = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      if (cut <= prev || cut >= bytes.length) continue;
      await this.write(bytes.subarray(prev, cut));
      await immediate();
      prev = cut;
    }
    await this.write(bytes.subarray(prev));
  }

  /** Writes `data` one byte per send. */
  async writeBytewise(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    for (let i = 0; i < bytes.length; i++) {
      await this.write(bytes.subarray(i, i + 1));
      await immediate();
    }
  }

  /** Closes our sending side (FIN); reading continues. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Reads the next response, 1xx interim responses included. Rejects if the
   * connection ends first or nothing complete arrives in time.
   */
  async readResponse(opts: ReadOptions = {}): Promise<Response> {
    const timeout = opts.timeout ?? DEFAULT_TIMEOUT;
    const deadline = Date.now() + timeout;
    let need = 1;
    for (;;) {
      if (this.#len >= need || this.#ended !== null) {
        const r = parseAt(this.#buf, opts.head ?? false, this.#ended !== null);
        if (typeof r !== "number") {
          this.#buf = this.#buf.subarray(r.raw.length);
          return r;
        }
        need = r;
      }
      if (this.#ended !== null) {
        throw new Error(
          `connection ended (${this.#ended}${this.#error ? ": " + this.#error.message : ""}) before a complete response; have ${JSON.stringify(this.#buf.toString("latin1"))}`,
        );
      }
      await this.#wait(deadline, () => `no complete response within ${timeout} ms; have ${JSON.stringify(this.#buf.toString("latin1"))}`);
    }
  }

  /** Reads responses until one is final (status >= 200); returns it and the interim ones. */
  async readFinal(opts: ReadOptions = {}): Promise<{ final: Response; interim: Response[] }> {
    const interim: Response[] = [];
    for (;;) {
      const r = await this.readResponse(opts);
      if (r.status >= 200) return { final: r, interim };
      interim.push(r);
    }
  }

  /** Reads `n` responses in order. */
  async readResponses(n: number, opts: ReadOptions = {}): Promise<Response[]> {
    const out: Response[] = [];
    for (let i = 0; i < n; i++) out.push(await this.readResponse(opts));
    return out;
  }

  /**
   * Waits until the server ends the connection and returns how it ended;
   * rejects if more bytes arrive first (a response we did not expect) or the
   * connection stays open past the timeout.
   */
  async expectClosed(timeout = DEFAULT_TIMEOUT): Promise<EndKind> {
    const deadline = Date.now() + timeout;
    while (this.#ended === null) {
      if (this.#buf.length > 0) throw new Error(`expected the connection to close, got bytes ${JSON.stringify(this.#buf.toString("latin1"))}`);
      await this.#wait(deadline, () => `connection still open after ${timeout} ms`);
    }
    if (this.#buf.length > 0) throw new Error(`unexpected bytes before close: ${JSON.stringify(this.#buf.toString("latin1"))}`);
    return this.#ended;
  }

  /** Reads everything until the connection ends; returns the bytes and how it ended. */
  async readToEnd(timeout = DEFAULT_TIMEOUT): Promise<{ bytes: Buffer; how: EndKind }> {
    const deadline = Date.now() + timeout;
    while (this.#ended === null) {
      await this.#wait(deadline, () => `connection still open after ${timeout} ms (${this.#buf.length} bytes read)`);
    }
    const bytes = this.#buf;
    this.#buf = Buffer.alloc(0);
    return { bytes, how: this.#ended };
  }

  /** Resolves once any bytes are buffered (or the connection ended). */
  async waitForData(timeout = DEFAULT_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeout;
    while (this.#buf.length === 0 && this.#ended === null) {
      await this.#wait(deadline, () => `no data within ${timeout} ms`);
    }
  }

  /** Waits until the buffered bytes contain `text` (latin1). */
  async waitForText(text: string, timeout = DEFAULT_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!this.#buf.toString("latin1").includes(text)) {
      if (this.#ended !== null) throw new Error(`connection ended before ${JSON.stringify(text)}; have ${JSON.stringify(this.#buf.toString("latin1"))}`);
      await this.#wait(deadline, () => `no ${JSON.stringify(text)} within ${timeout} ms; have ${JSON.stringify(this.#buf.toString("latin1"))}`);
    }
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #wait(deadline: number, why: () => string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new Error(why()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((f) => f !== done);
        reject(new Error(why()));
      }, left);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(done);
    });
  }
}

/**
 * Parses one response at the start of `buf`, or returns null if it is not
 * complete yet. A response without Content-Length or chunked framing runs
 * to the end of the connection (`ended`). Throws on bytes that are not a
 * well-formed response: the server must never send those.
 */
export function parseResponse(buf: Buffer, head: boolean, ended: boolean): Response | null {
  const r = parseAt(buf, head, ended);
  return typeof r === "number" ? null : r;
}

/** As parseResponse, but an incomplete response gives the buffer length worth waiting for. */
function parseAt(buf: Buffer, head: boolean, ended: boolean): Response | number {
  const more = buf.length + 1;
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) {
    const start = buf.toString("latin1", 0, Math.min(buf.length, 5));
    if (!"HTTP/".startsWith(start)) {
      throw new Error(`not an HTTP response: ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`);
    }
    return more;
  }
  const lines = buf.toString("latin1", 0, end).split("\r\n");
  const m = /^(HTTP\/1\.[01]) (\d{3}) (.*)$/.exec(lines[0]!);
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(m[2]);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0 || /[\s]/.test(line.slice(0, i))) throw new Error(`bad response header line ${JSON.stringify(line)}`);
    headers.push([line.slice(0, i), line.slice(i + 1).trim()]);
  }
  const get = (name: string): string[] => headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  let pos = end + 4;
  let body: Buffer;
  const cl = get("content-length");
  const te = get("transfer-encoding");
  if (cl.length > 1) throw new Error(`response has ${cl.length} Content-Length fields`);
  if (head || status < 200 || status === 204 || status === 304) {
    body = Buffer.alloc(0);
  } else if (te.length > 0) {
    if (cl.length > 0) throw new Error("response has both Content-Length and Transfer-Encoding");
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", pos);
      if (lineEnd < 0) return more;
      const size = parseInt(buf.toString("latin1", pos, lineEnd).split(";")[0]!, 16);
      if (!Number.isFinite(size)) throw new Error("bad chunk size in response");
      pos = lineEnd + 2;
      if (size === 0) {
        // trailers until an empty line
        for (;;) {
          const e = buf.indexOf("\r\n", pos);
          if (e < 0) return more;
          const empty = e === pos;
          pos = e + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < pos + size + 2) return more;
      chunks.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    body = Buffer.concat(chunks);
  } else if (cl.length === 1) {
    if (!/^\d+$/.test(cl[0]!)) throw new Error(`bad Content-Length ${cl[0]}`);
    const n = Number(cl[0]);
    if (buf.length < pos + n) return pos + n;
    body = buf.subarray(pos, pos + n);
    pos += n;
  } else {
    if (!ended) return more;
    body = buf.subarray(pos);
    pos = buf.length;
  }
  const raw = Buffer.from(buf.subarray(0, pos));
  const bodyCopy = Buffer.from(body);
  return {
    version: m[1]!,
    status,
    reason: m[3]!,
    headers,
    body: bodyCopy,
    raw,
    header: (name) => get(name)[0],
    headerValues: get,
    text: () => bodyCopy.toString("utf8"),
    json: () => JSON.parse(bodyCopy.toString("utf8")) as unknown,
  };
}

/** Connects, writes `data`, reads one final response, and destroys the socket. */
export async function requestOnce(port: number, data: string | Uint8Array, opts: ReadOptions = {}): Promise<Response> {
  const c = await RawClient.connect(port);
  try {
    await c.write(data);
    return (await c.readFinal(opts)).final;
  } finally {
    c.destroy();
  }
}

/** A minimal GET request head for `path`. */
export function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}
