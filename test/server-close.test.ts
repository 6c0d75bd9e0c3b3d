/**
 * Graceful shutdown on the wire: in-flight requests finish with
 * Connection: close, idle keep-alive connections close, new connections are
 * refused, close() resolves and is idempotent; a handler that outlives
 * exitWaitTimeout is aborted.
 */
import { connect } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Server } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { deferred, startServer, until, watchdog, within } from "./lib/server.js";

watchdog(20_000);

function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
  });
}

test("close(): the in-flight request completes with Connection: close; idle connections close; new ones are refused", async () => {
  const s = await startServer(
    (app) => {
      app.get("/slow", async (ctx) => {
        await new Promise((r) => setTimeout(r, 300));
        ctx.string(200, "slow done");
      });
      app.get("/fast", (ctx) => ctx.string(200, "fast"));
    },
    { exitWaitTimeout: 3000 },
  );
  const idle = await RawClient.connect(s.port);
  const busy = await RawClient.connect(s.port);
  try {
    await idle.write(get("/fast"));
    assert.is((await idle.readResponse()).text(), "fast");
    await busy.write(get("/slow"));
    await until(() => s.app.stats().pendingHandlers === 1, "the slow handler is running");

    const t0 = Date.now();
    let closed = false;
    const closing = s.app.close().then(() => {
      closed = true;
    });
    assert.is(await idle.expectClosed(1000), "eof", "the idle keep-alive connection is closed at once");
    assert.is(await refused(s.port), "ECONNREFUSED", "new connections are refused");
    assert.not.ok(closed, "close() waits for the in-flight request");

    const r = await busy.readResponse({ timeout: 2000 });
    assert.is(r.status, 200);
    assert.is(r.text(), "slow done");
    assert.is(r.header("connection"), "close");
    await busy.expectClosed();
    await within(closing, 2000, "close()");
    assert.ok(Date.now() - t0 < 2000, "close() resolved once the request was done, not at exitWaitTimeout");
    await within(s.app.close(), 500, "second close()");
    assert.is(s.app.stats().connections, 0);
  } finally {
    idle.destroy();
    busy.destroy();
    await s.close();
  }
});

test("close() twice at once returns the same promise; listen() after close() throws FARAD_ERR_SERVER_STATE", async () => {
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "x")));
  const a = s.app.close();
  const b = s.app.close();
  assert.is(a, b);
  await within(a, 1000, "close()");
  try {
    await s.app.listen({ host: "127.0.0.1", port: 0 });
    assert.unreachable("listen() after close() did not throw");
  } catch (e) {
    assert.is((e as { code?: string }).code, "FARAD_ERR_SERVER_STATE");
  }
});

test("close() on a server that never listened resolves", async () => {
  const app = new Server();
  await within(app.close(), 500, "close()");
  await within(app.close(), 500, "second close()");
});

test("a handler still running at exitWaitTimeout: its c.signal aborts, its connection closes, close() resolves", async () => {
  const aborted = deferred<unknown>();
  const s = await startServer(
    (app) =>
      app.get("/hang", (_ctx, c) => {
        c.signal.addEventListener("abort", () => aborted.resolve(c.signal.reason));
        return new Promise(() => {});
      }),
    { exitWaitTimeout: 200, handlerTimeout: 0 },
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/hang"));
    await until(() => s.app.stats().pendingHandlers === 1, "the handler is running");
    await within(s.app.close(), 1500, "close()");
    const reason = await within(aborted.promise, 500, "c.signal abort");
    assert.is((reason as { code?: string }).code, "FARAD_ERR_SERVER_CLOSING");
    const { how } = await c.readToEnd(1000);
    assert.ok(how === "eof" || how === "reset");
  } finally {
    c.destroy();
  }
});

test("close() with 500 idle keep-alive connections closes them all at once and resolves", async () => {
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "x")), { exitWaitTimeout: 3000, backlog: 1024 });
  const cs: RawClient[] = [];
  try {
    for (let i = 0; i < 500; i += 100) cs.push(...(await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(s.port)))));
    await Promise.all(cs.map((c) => c.write(get("/"))));
    await Promise.all(cs.map((c) => c.readResponse()));
    assert.is(s.app.stats().connections, 500);
    const t0 = Date.now();
    await within(s.app.close(), 2000, "close()");
    assert.ok(Date.now() - t0 < 1000, `close() took ${Date.now() - t0} ms with only idle connections`);
    const ends = await Promise.all(cs.map((c) => c.expectClosed()));
    assert.ok(ends.every((e) => e === "eof"), "every client saw a clean close");
  } finally {
    for (const c of cs) c.destroy();
    await s.close();
  }
});

test.run();
