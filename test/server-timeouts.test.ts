/**
 * Every timeout on the wire, each with a short value: headers (slowloris),
 * body, keep-alive idle, handler deadline, and write (a client that never
 * reads).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { get, RawClient } from "./lib/raw-client.js";
import { deferred, startServer, until, watchdog, within } from "./lib/server.js";

watchdog(30_000);

const T = 200;

test("headersTimeout: a partial head gets 408 and the connection closes", async () => {
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "x")), { headersTimeout: T });
  const c = await RawClient.connect(s.port);
  try {
    const t0 = Date.now();
    await c.write("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    const r = await c.readResponse();
    const elapsed = Date.now() - t0;
    assert.is(r.status, 408);
    assert.is(r.header("connection"), "close");
    assert.ok(elapsed >= T - 20 && elapsed < T + 1000, `408 after ${elapsed} ms, timeout ${T}`);
    await c.expectClosed();
    assert.ok(s.app.stats().timeouts >= 1);
  } finally {
    c.destroy();
    await s.close();
  }
});

test("headersTimeout counts from the first byte: a slowloris trickle still gets 408", async () => {
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "x")), { headersTimeout: T });
  const c = await RawClient.connect(s.port);
  let stop = false;
  try {
    const t0 = Date.now();
    const trickle = (async () => {
      const head = "GET / HTTP/1.1\r\nHost: t\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
      for (let i = 0; i < head.length && !stop && c.ended === null; i++) {
        await c.write(head[i]!).catch(() => {});
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const r = await c.readResponse({ timeout: 3000 });
    const elapsed = Date.now() - t0;
    stop = true;
    await trickle;
    assert.is(r.status, 408);
    assert.ok(elapsed < T + 1000, `408 after ${elapsed} ms although bytes kept arriving`);
    await c.expectClosed();
  } finally {
    stop = true;
    c.destroy();
    await s.close();
  }
});

test("headersTimeout: a connection that sends nothing is closed without a response", async () => {
  const s = await startServer(() => {}, { headersTimeout: T });
  const c = await RawClient.connect(s.port);
  try {
    await c.expectClosed(T + 1500);
  } finally {
    c.destroy();
    await s.close();
  }
});

test("bodyTimeout: Content-Length 100 with 10 bytes sent gets 408, the connection closes, ctx.body() rejects", async () => {
  const outcome = deferred<unknown>();
  const s = await startServer(
    (app) =>
      app.post("/", async (ctx) => {
        try {
          await ctx.body();
          outcome.resolve("resolved");
        } catch (e) {
          outcome.resolve(e);
        }
      }),
    { bodyTimeout: T },
  );
  const c = await RawClient.connect(s.port);
  try {
    const t0 = Date.now();
    await c.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    const r = await c.readResponse();
    const elapsed = Date.now() - t0;
    assert.is(r.status, 408);
    assert.is(r.header("connection"), "close");
    assert.ok(elapsed >= T - 20 && elapsed < T + 1000, `408 after ${elapsed} ms`);
    await c.expectClosed();
    const e = await within(outcome.promise, 1000, "ctx.body() after the body timeout");
    assert.instance(e, Error);
    assert.is((e as { code?: string }).code, "FARAD_ERR_BODY_ABORTED");
  } finally {
    c.destroy();
    await s.close();
  }
});

test("bodyTimeout is a pause limit: a body trickling faster than it completes", async () => {
  const s = await startServer(
    (app) =>
      app.post("/", async (ctx) => {
        ctx.string(200, String((await ctx.body()).length));
      }),
    { bodyTimeout: T, headersTimeout: 5000 },
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n");
    // 10 bytes over ~500 ms, more than the timeout in total, never pausing for it.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, T / 4));
      await c.write("x");
    }
    const r = await c.readResponse();
    assert.is(r.status, 200);
    assert.is(r.text(), "10");
  } finally {
    c.destroy();
    await s.close();
  }
});

test("keepAliveTimeout: an idle connection is closed by the server after its response", async () => {
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "x")), { keepAliveTimeout: T });
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/"));
    const r = await c.readResponse();
    assert.is(r.status, 200);
    assert.is(r.header("connection"), undefined);
    const t0 = Date.now();
    assert.is(await c.expectClosed(T + 1500), "eof");
    const idle = Date.now() - t0;
    assert.ok(idle >= T - 20, `closed after ${idle} ms of idleness, timeout ${T}`);
    await until(() => s.app.stats().connections === 0, "connection count back to 0");
  } finally {
    c.destroy();
    await s.close();
  }
});

test("keepAliveTimeout restarts with each request", async () => {
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "x")), { keepAliveTimeout: T });
  const c = await RawClient.connect(s.port);
  try {
    // Five requests T/2 apart: 2.5 x the timeout in all, never idle for it.
    for (let i = 0; i < 5; i++) {
      await c.write(get("/"));
      assert.is((await c.readResponse()).status, 200);
      await new Promise((r) => setTimeout(r, T / 2));
    }
    assert.is(c.ended, null);
  } finally {
    c.destroy();
    await s.close();
  }
});

test("handlerTimeout: a handler that never resolves gets 503 and its c.signal aborts", async () => {
  const aborted = deferred<unknown>();
  const s = await startServer(
    (app) =>
      app
        .get("/hang", (_ctx, c) => {
          c.signal.addEventListener("abort", () => aborted.resolve(c.signal.reason));
          return new Promise(() => {});
        })
        .get("/ok", (ctx) => ctx.string(200, "ok")),
    { handlerTimeout: T },
  );
  const c = await RawClient.connect(s.port);
  try {
    const t0 = Date.now();
    await c.write(get("/hang"));
    const r = await c.readResponse();
    const elapsed = Date.now() - t0;
    assert.is(r.status, 503);
    assert.ok(elapsed >= T - 20 && elapsed < T + 1000, `503 after ${elapsed} ms`);
    const reason = await within(aborted.promise, 1000, "c.signal abort");
    assert.is((reason as { code?: string }).code, "FARAD_ERR_HANDLER_TIMEOUT");
    // The connection stays usable: the late handler can no longer answer
    // (its request has been answered), so there is nothing to close for.
    assert.is(r.header("connection"), undefined);
    await c.write(get("/ok"));
    assert.is((await c.readResponse()).text(), "ok");
    assert.is(s.app.stats().pendingHandlers, 0);
  } finally {
    c.destroy();
    await s.close();
  }
});

test("writeTimeout: a client that never reads a 16 MiB response is disconnected", async () => {
  const big = Buffer.alloc(16 << 20, 0x61);
  const s = await startServer((app) => app.get("/big", (ctx) => ctx.data(200, "application/octet-stream", big)), {
    writeTimeout: T,
  });
  const c = await RawClient.connect(s.port);
  try {
    c.socket.pause();
    await c.write(get("/big"));
    await until(() => s.app.stats().connections === 1, "connection accepted");
    // The server fills the socket buffers, then makes no progress for T ms.
    await until(() => s.app.stats().connections === 0, "the server closed the stalled connection", T + 2000);
    assert.ok(s.app.stats().timeouts >= 1, "counted as a timeout");
    c.socket.resume();
    const { bytes } = await c.readToEnd(2000);
    // What arrived is the start of the response, cut short: never the whole 16 MiB.
    assert.ok(bytes.toString("latin1", 0, 17) === "HTTP/1.1 200 OK\r\n", "the response had started");
    assert.ok(bytes.length < big.length, `received ${bytes.length} bytes of a ${big.length}-byte body`);
  } finally {
    c.destroy();
    await s.close();
  }
});

test("writeTimeout is a pause limit: a client that reads a 16 MiB response gets all of it", async () => {
  const big = Buffer.alloc(16 << 20);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
  const s = await startServer((app) => app.get("/big", (ctx) => ctx.data(200, "application/octet-stream", big)), {
    writeTimeout: T,
  });
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/big"));
    const r = await c.readResponse({ timeout: 3000 });
    assert.is(r.body.length, big.length);
    assert.ok(r.body.equals(big));
    assert.is(s.app.stats().timeouts, 0);
  } finally {
    c.destroy();
    await s.close();
  }
});

test.run();
