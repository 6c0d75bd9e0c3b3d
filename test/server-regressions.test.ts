/**
 * Regression tests for engine bugs found by the wire suite: half-closed
 * clients, pipelined responses around a closing response, timers armed by
 * responses written outside a reactor turn, and Date on native errors.
 */
import { connect } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { deferred, startServer, watchdog, until, within, type TestServer } from "./lib/server.js";

watchdog(40_000);

function routes(app: Server): void {
  app.get("/p/:n", async (ctx) => {
    const n = Number(ctx.param("n"));
    if (n % 3 === 1) await new Promise((r) => setTimeout(r, (97 - n) % 7));
    else if (n % 3 === 2) await Promise.resolve();
    ctx.string(200, `p${n}`);
  });
}

let s: TestServer;
test.before(async () => {
  s = await startServer(routes, { keepAliveTimeout: 500, headersTimeout: 500 });
});
test.after(async () => {
  await s.close();
});

function batch(from: number, to: number): string {
  let out = "";
  for (let i = from; i < to; i++) out += get(`/p/${i}`);
  return out;
}

// BUG 1: after a client half-close (FIN) with async handlers in flight, the
// server answers nothing for them and never closes the connection.
test("BUG 1a: a client half-close (FIN after a pipelined batch) still gets every response", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(batch(0, 10));
    c.end();
    const rs = await c.readResponses(10);
    assert.equal(
      rs.map((r) => r.text()),
      Array.from({ length: 10 }, (_, i) => `p${i}`),
    );
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

test("BUG 1b: a half-closed connection with an async handler in flight is not leaked", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/p/1"));
    c.end();
    // Whether or not the response is written, the server must not keep the
    // connection forever: every timeout here is 500 ms.
    await c.waitForData(2500).catch(() => {});
    await until(() => s.app.stats().connections === 0, "connection closed by the server", 2500);
  } finally {
    c.destroy();
  }
});

// BUG 2: at close(), a response to a request pipelined behind an in-flight
// one (its handler already ran) is discarded; the client gets only the first
// response, marked Connection: close.
test("BUG 2: requests pipelined behind an in-flight one at close(): both answered in order, then the connection ends", async () => {
  const s = await startServer(
    (app) => {
      app.get("/slow", async (ctx) => {
        await new Promise((r) => setTimeout(r, 100));
        ctx.string(200, "slow");
      });
      app.get("/fast", (ctx) => ctx.string(200, "fast"));
    },
    { exitWaitTimeout: 2000 },
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/slow") + get("/fast"));
    await until(() => s.app.stats().requests === 2, "both requests parsed");
    const closing = s.app.close();
    const r1 = await c.readResponse();
    assert.is(r1.text(), "slow");
    // The second request was answered during the batch, before close(); the
    // first finishes after: each must be well-framed, and the connection ends.
    const r2 = await c.readResponse();
    assert.is(r2.text(), "fast");
    // /fast, the last request read, was answered before close() began, so
    // nothing can announce the close: a "close" on /slow would make the
    // client drop /fast (RFC 9112 §9.6). The idle connection just ends.
    assert.is(r1.header("connection"), undefined);
    await c.expectClosed();
    await within(closing, 2000, "close()");
  } finally {
    c.destroy();
    await s.close();
  }
});

// BUG 1c: the same root cause as 1: a client that closes (FIN) while its
// handler runs leaves the server connection open forever.
test("close() with the last request read still in flight: its response says Connection: close, then the end", async () => {
  const s = await startServer(
    (app) => {
      app.get("/fast", (ctx) => ctx.string(200, "fast"));
      app.get("/slow", async (ctx) => {
        await new Promise((r) => setTimeout(r, 100));
        ctx.string(200, "slow");
      });
    },
    { exitWaitTimeout: 2000 },
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/fast") + get("/slow"));
    await until(() => s.app.stats().requests === 2, "both requests parsed");
    const closing = s.app.close();
    const r1 = await c.readResponse();
    assert.is(r1.text(), "fast");
    assert.is(r1.header("connection"), undefined);
    const r2 = await c.readResponse();
    assert.is(r2.text(), "slow");
    assert.is(r2.header("connection"), "close");
    await c.expectClosed();
    await within(closing, 2000, "close()");
  } finally {
    c.destroy();
    await s.close();
  }
});

test("BUG 1c: a client that disconnects (FIN) mid-request: c.signal aborts, connections return to 0", async () => {
  const started = deferred();
  const aborted = deferred<unknown>();
  const s = await startServer(
    (app) =>
    app.get("/wait", async (ctx, c) => {
      started.resolve();
      await new Promise<void>((resolve) => {
        if (c.signal.aborted) return resolve();
        c.signal.addEventListener("abort", () => resolve());
      });
      aborted.resolve(c.signal.reason);
      ctx.string(200, "too late");
    }),
    { keepAliveTimeout: 300, headersTimeout: 300, bodyTimeout: 300, writeTimeout: 300 },
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/wait"));
    await within(started.promise, 1000, "handler start");
    assert.is(s.app.stats().connections, 1);
    c.destroy();
    const reason = await within(aborted.promise, 1000, "c.signal abort after the client left");
    assert.is((reason as { code?: string }).code, "FARAD_ERR_CLIENT_GONE");
    await until(() => s.app.stats().connections === 0 && s.app.stats().pendingHandlers === 0, "connection and handler released");
  } finally {
    c.destroy();
    await s.close();
  }
});

// BUG 3: timers armed outside a reactor turn (by a response written after
// the handler awaited) never fire: the reactor's tick is only re-enabled at
// the end of on_readable(), not by flush()/writeExternal().
const T = 200;

test("BUG 3a: a handler slower than keepAliveTimeout and headersTimeout is still answered", async () => {
  const s = await startServer(
    (app) =>
      app.get("/slow", async (ctx) => {
        await new Promise((r) => setTimeout(r, 3 * T));
        ctx.string(200, "slow");
      }),
    { keepAliveTimeout: T, headersTimeout: T, handlerTimeout: 0 },
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/slow"));
    const r = await c.readResponse();
    assert.is(r.text(), "slow");
    assert.is(r.header("connection"), undefined);
    // Idle from here: the keep-alive timeout applies again.
    await c.expectClosed(T + 1500);
  } finally {
    c.destroy();
    await s.close();
  }
});

test("BUG 3b: keepAliveTimeout closes an idle connection after an async handler's response", async () => {
  const s = await startServer(
    (app) =>
      app.get("/x", async (ctx) => {
        await new Promise((r) => setTimeout(r, 0));
        ctx.string(200, "x");
      }),
    { keepAliveTimeout: T, headersTimeout: T, bodyTimeout: T, writeTimeout: T, handlerTimeout: 0 },
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/x"));
    assert.is((await c.readResponse()).text(), "x");
    await c.expectClosed(T + 1500);
  } finally {
    c.destroy();
    await s.close();
  }
});

test("BUG 3c: writeTimeout disconnects a client that never reads an async handler's 16 MiB response", async () => {
  const big = Buffer.alloc(16 << 20, 0x61);
  const s = await startServer(
    (app) =>
      app.get("/big", async (ctx) => {
        await new Promise((r) => setTimeout(r, 10));
        ctx.data(200, "application/octet-stream", big);
      }),
    { writeTimeout: T },
  );
  const c = await RawClient.connect(s.port);
  try {
    c.socket.pause();
    await c.write(get("/big"));
    await until(() => s.app.stats().connections === 1, "connection accepted");
    await until(() => s.app.stats().connections === 0, "the server closed the stalled connection", T + 2000);
  } finally {
    c.destroy();
    await s.close();
  }
});

// BUG 4: error responses written by the native core (400, 408, 413, 414,
// 431, ...) have no Date header; RFC 9110 §6.6.1 requires one in every 4xx
// from an origin server with a clock.
test("BUG 4: a native 400 carries a Date header", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n");
    const r = await c.readResponse();
    assert.is(r.status, 400);
    assert.ok(r.header("date"), `no Date in ${JSON.stringify(r.raw.toString("latin1"))}`);
  } finally {
    c.destroy();
  }
});

// BUG 2b: the same when the first response closes because of the handler
// deadline: the POST behind it ran (its side effect happened) but its
// response is discarded, so a client retrying it runs it twice.
test("BUG 2b: after a 503 handler timeout, a pipelined POST that already ran gets its response", async () => {
  let ran = 0;
  const srv = await startServer(
    (app) => {
      app.get("/hang", () => new Promise(() => {}));
      app.post("/count", (ctx) => {
        ran++;
        ctx.string(200, `ran ${ran}`);
      });
    },
    { handlerTimeout: 200 },
  );
  const c = await RawClient.connect(srv.port);
  try {
    await c.write(get("/hang") + "POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    const r1 = await c.readResponse();
    assert.is(r1.status, 503);
    assert.is(ran, 1, "the POST handler ran");
    const r2 = await c.readResponse();
    assert.is(r2.text(), "ran 1");
  } finally {
    c.destroy();
    await srv.close();
  }
});

test("BUG 3d: lingerTimeout releases a closed connection whose client keeps its side open (async response)", async () => {
  const srv = await startServer(
    (app) =>
      app.get("/x", async (ctx) => {
        await new Promise((r) => setTimeout(r, 5));
        ctx.string(200, "x");
      }),
    { lingerTimeout: T, keepAliveTimeout: T, headersTimeout: T, writeTimeout: T },
  );
  // allowHalfOpen: the client does not answer the server's FIN with its own.
  const sock = connect({ port: srv.port, host: "127.0.0.1", allowHalfOpen: true });
  try {
    await new Promise((r) => sock.once("connect", r));
    sock.on("data", () => {});
    sock.write("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    await until(() => srv.app.stats().requests === 1, "request received");
    await until(() => srv.app.stats().connections === 0, "connection released after lingerTimeout", T + 2000);
  } finally {
    sock.destroy();
    await srv.close();
  }
});

// An END marker with no bytes (a HEAD or empty-body response) queued behind
// bytes the socket could not take yet: the writer used to send zero bytes
// for ever once it reached it (a 100% CPU spin seen in CI).
test("a bodiless response queued behind a large unsent one is written, no spin", async () => {
  const { writeFileSync, mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "farad-spin-"));
  writeFileSync(join(dir, "f.txt"), "file body");
  const s = await startServer((app) => {
    app.get("/big", (ctx) => ctx.data(200, "application/octet-stream", Buffer.alloc(16 << 20, 1)));
    app.get("/f", (ctx) => ctx.file(join(dir, "f.txt")));
  });
  const c = await RawClient.connect(s.port);
  try {
    c.socket.pause();
    // Nothing after the HEAD: its empty END marker is the last thing queued.
    await c.write(get("/big") + "HEAD /f HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => s.app.stats().requests === 2, "both requests read");
    await new Promise((r) => setTimeout(r, 50));
    c.socket.resume();
    const big = await c.readResponse({ timeout: 3000 });
    assert.is(big.body.length, 16 << 20);
    const head = await c.readResponse({ head: true, timeout: 3000 });
    assert.is(head.status, 200);
    assert.is(head.header("content-length"), "9");
    // The connection is still served (the reactor is not stuck).
    await c.write(get("/f"));
    assert.is((await c.readResponse({ timeout: 3000 })).text(), "file body");
  } finally {
    c.destroy();
    await s.close();
  }
});

test.run();
