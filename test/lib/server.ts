/**
 * Starting and stopping a farad Server for wire-level tests: port 0 on
 * 127.0.0.1, a logger that records instead of printing, and short timeouts
 * so no test waits on a production default.
 */
import { test } from "uvu";
import { Server, type ServerOptions } from "../../src/index.js";

export interface LogEntry {
  level: "error" | "warn";
  message: string;
  err: unknown;
}

export interface TestServer {
  app: Server;
  port: number;
  logs: LogEntry[];
  close(): Promise<void>;
}

/** Short defaults for tests; a test that needs another value passes it. */
export const TEST_OPTIONS: ServerOptions = {
  headersTimeout: 2000,
  bodyTimeout: 2000,
  keepAliveTimeout: 2000,
  writeTimeout: 2000,
  lingerTimeout: 200,
  handlerTimeout: 2000,
  exitWaitTimeout: 200,
};

/** Creates a Server, lets `setup` add routes, listens on 127.0.0.1:0. */
export async function startServer(setup: (app: Server) => void = () => {}, options: ServerOptions = {}): Promise<TestServer> {
  const logs: LogEntry[] = [];
  const app = new Server({
    ...TEST_OPTIONS,
    logger: {
      error: (message, err) => void logs.push({ level: "error", message, err }),
      warn: (message, err) => void logs.push({ level: "warn", message, err }),
    },
    ...options,
  });
  setup(app);
  const addr = await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, port: addr.port, logs, close: () => app.close() };
}

/** Runs `fn` against a fresh server and always closes it. */
export async function withServer(
  setup: (app: Server) => void,
  options: ServerOptions,
  fn: (s: TestServer) => Promise<void>,
): Promise<void> {
  const s = await startServer(setup, options);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/**
 * Fails the process if the file has not finished in `ms`: every wait in
 * these tests is bounded, so this only fires on a bug in the helpers.
 * The clock starts when the file's tests start and stops when they end:
 * `uvu` imports every file before it runs the first, so a timer started at
 * import would also count the files that run before this one.
 */
export function watchdog(ms = 30_000): void {
  let timer: NodeJS.Timeout | undefined;
  test.before(() => {
    timer = setTimeout(() => {
      console.error(`watchdog: test file still running after ${ms} ms`);
      process.exit(1);
    }, ms).unref();
  });
  test.after(() => clearTimeout(timer));
}

/** Polls `cond` every few ms until it holds; rejects with `what` after `timeout`. */
export async function until(cond: () => boolean, what: string, timeout = 2000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A promise with its resolve function, for handlers a test releases. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** `p`, or a rejection naming `what` if it does not settle within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
