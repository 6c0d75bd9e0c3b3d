/**
 * Persistent connections and pipelining on the wire (RFC 9112 §9): several
 * requests per connection, responses in request order whatever order the
 * handlers finish in, an invalid request in a pipelined batch, and the
 * Connection header in HTTP/1.1 and HTTP/1.0.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { startServer, until, watchdog, type TestServer } from "./lib/server.js";

watchdog(30_000);

function routes(app: Server): void {
  app.get("/p/:n", async (ctx) => {
    const n = Number(ctx.param("n"));
    // Later requests often finish first: the order on the wire must not follow.
    if (n % 3 === 1) await new Promise((r) => setTimeout(r, (97 - n) % 7));
    else if (n % 3 === 2) await Promise.resolve();
    ctx.string(200, `p${n}`);
  });
  app.get("/hello", (ctx) => ctx.string(200, "hello"));
  app.get("/q/:n", (ctx) => ctx.string(200, `q${ctx.param("n")}`));
  app.get("/close-me", (ctx) => {
    ctx.setHeader("Connection", "close");
    ctx.string(200, "bye");
  });
}

let s: TestServer;
test.before(async () => {
  s = await startServer(routes);
});
test.after(async () => {
  await s.close();
});

function batch(from: number, to: number): string {
  let out = "";
  for (let i = from; i < to; i++) out += get(`/p/${i}`);
  return out;
}

test("several requests one after another on one connection", async () => {
  const c = await RawClient.connect(s.port);
  try {
    for (let i = 0; i < 5; i++) {
      await c.write(get(`/p/${i}`));
      const r = await c.readResponse();
      assert.is(r.status, 200);
      assert.is(r.text(), `p${i}`);
      assert.is(r.header("connection"), undefined, "HTTP/1.1 keep-alive needs no Connection header");
      assert.is(r.header("content-length"), String(`p${i}`.length));
      assert.ok(r.header("date"), "Date header");
    }
    assert.is(c.ended, null);
  } finally {
    c.destroy();
  }
});

test("100 pipelined requests in one write: 100 responses in request order", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(batch(0, 100));
    const rs = await c.readResponses(100, { timeout: 3000 });
    assert.equal(
      rs.map((r) => `${r.status} ${r.text()}`),
      Array.from({ length: 100 }, (_, i) => `200 p${i}`),
    );
    // Still usable afterwards.
    await c.write(get("/hello"));
    assert.is((await c.readResponse()).text(), "hello");
  } finally {
    c.destroy();
  }
});

test("100 pipelined requests written one byte per send: 100 responses in order", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.writeBytewise(batch(0, 100));
    const rs = await c.readResponses(100, { timeout: 3000 });
    assert.equal(
      rs.map((r) => r.text()),
      Array.from({ length: 100 }, (_, i) => `p${i}`),
    );
  } finally {
    c.destroy();
  }
});

test("pipelined batch with an invalid 5th request: 4 x 200 in order, one 400, then close", async () => {
  const c = await RawClient.connect(s.port);
  try {
    const bad = "GET /p/\x01 HTTP/1.1\r\nHost: t\r\n\r\n";
    await c.write(batch(1, 5) + bad + batch(6, 9));
    const rs = await c.readResponses(5);
    assert.equal(
      rs.map((r) => `${r.status} ${r.status === 200 ? r.text() : ""}`),
      ["200 p1", "200 p2", "200 p3", "200 p4", "400 "],
    );
    assert.is(rs[4]!.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

test("Connection: close is honoured and echoed; a request pipelined after it is not answered", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/hello", "Connection: close\r\n") + get("/p/1"));
    const r = await c.readResponse();
    assert.is(r.status, 200);
    assert.is(r.text(), "hello");
    assert.is(r.header("connection"), "close");
    assert.is(await c.expectClosed(), "eof");
  } finally {
    c.destroy();
  }
});

test("a handler setting Connection: close ends the connection after its response", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/close-me"));
    const r = await c.readResponse();
    assert.is(r.text(), "bye");
    assert.is(r.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

test("HTTP/1.0 without keep-alive: answered, then closed, no keep-alive header", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("GET /hello HTTP/1.0\r\n\r\n");
    const r = await c.readResponse();
    assert.is(r.status, 200);
    assert.is(r.text(), "hello");
    assert.is.not(r.header("connection")?.toLowerCase(), "keep-alive");
    assert.is(r.header("keep-alive"), undefined);
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

test("HTTP/1.0 with Connection: keep-alive: confirmed, and the connection serves a second request", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r = await c.readResponse();
    assert.is(r.text(), "hello");
    assert.is(r.header("connection"), "keep-alive");
    await c.write("GET /p/7 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r2 = await c.readResponse();
    assert.is(r2.text(), "p7");
    assert.is(r2.header("connection"), "keep-alive");
    // And a plain HTTP/1.0 request ends it.
    await c.write("GET /hello HTTP/1.0\r\n\r\n");
    const r3 = await c.readResponse();
    assert.is(r3.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

test("20,000 pipelined requests from a client that reads nothing until the server has them all or pushes back", async () => {
  const N = 20_000;
  const c = await RawClient.connect(s.port);
  try {
    let req = "";
    for (let i = 0; i < N; i++) req += get(`/q/${i}`);
    const before = s.app.stats().requests;
    c.socket.pause();
    const writing = c.write(req);
    await until(() => s.app.stats().requests - before === N || s.app.stats().readPaused > 0, "all parsed, or reading paused", 3000);
    c.socket.resume();
    const rs = await c.readResponses(N, { timeout: 5000 });
    await writing;
    let wrong = -1;
    for (let i = 0; i < N && wrong < 0; i++) if (rs[i]!.text() !== `q${i}`) wrong = i;
    assert.is(wrong, -1, `response ${wrong} out of order`);
  } finally {
    c.destroy();
  }
});

test("maxPipelined 1: 100 pipelined requests with async handlers are still all answered in order", async () => {
  const one = await startServer(routes, { maxPipelined: 1 });
  const c = await RawClient.connect(one.port);
  try {
    await c.write(batch(0, 100));
    const rs = await c.readResponses(100, { timeout: 3000 });
    assert.equal(
      rs.map((r) => r.text()),
      Array.from({ length: 100 }, (_, i) => `p${i}`),
    );
  } finally {
    c.destroy();
    await one.close();
  }
});

test.run();
