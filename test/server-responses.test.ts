/**
 * Response framing on the wire: large bodies (sent outside the shared
 * output region) interleaved with small ones on one pipelined connection,
 * UTF-8 lengths, repeated headers, and what happens to a request body the
 * handler never reads.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { startServer, watchdog, type TestServer } from "./lib/server.js";

watchdog(20_000);

const BIG = Buffer.alloc(200 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7) & 0xff;

function routes(app: Server): void {
  app.get("/big", (ctx) => ctx.data(200, "application/octet-stream", BIG));
  app.get("/big-async", async (ctx) => {
    await new Promise((r) => setTimeout(r, 10));
    ctx.data(200, "application/octet-stream", BIG);
  });
  app.get("/small", (ctx) => ctx.string(200, "small"));
  app.get("/utf8", (ctx) => ctx.string(200, "héllo €"));
  app.get("/json", (ctx) => ctx.json(200, { a: [1, "ü"] }));
  // 5 characters, 10 bytes: the length gains a digit when the guess that a string is ASCII fails.
  app.get("/utf8-digits", (ctx) => ctx.setHeader("X-After", "yes").string(200, "ééééé"));
  app.get("/utf8-long", (ctx) => ctx.string(200, "€".repeat(3000)));
  app.get("/cookies", (ctx) => {
    ctx.addHeader("Set-Cookie", "a=1");
    ctx.addHeader("Set-Cookie", "b=2");
    ctx.setHeader("X-One", "1");
    ctx.setHeader("x-one", "2");
    ctx.string(200, "c");
  });
  app.post("/ignore", (ctx) => ctx.string(200, "ignored"));
  app.post("/len", async (ctx) => ctx.string(200, String((await ctx.body()).length)));
}

let s: TestServer;
test.before(async () => {
  s = await startServer(routes);
});
test.after(async () => {
  await s.close();
});

test("large and small responses pipelined on one connection arrive whole and in order", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/big") + get("/small") + get("/big-async") + get("/small") + get("/big") + get("/big-async"));
    const rs = await c.readResponses(6, { timeout: 3000 });
    const kinds = rs.map((r) => (r.body.equals(BIG) ? "big" : r.text()));
    assert.equal(kinds, ["big", "small", "big", "small", "big", "big"]);
    for (const r of rs) assert.is(r.header("content-length"), String(r.body.length));
  } finally {
    c.destroy();
  }
});

test("HEAD of a large response: its Content-Length, no body", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(`HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n${get("/small")}`);
    const h = await c.readResponse({ head: true });
    assert.is(h.header("content-length"), String(BIG.length));
    assert.is((await c.readResponse()).text(), "small");
  } finally {
    c.destroy();
  }
});

test("Content-Length counts UTF-8 bytes, not characters", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/utf8") + get("/json"));
    const [a, b] = await c.readResponses(2);
    assert.is(a!.header("content-length"), "10");
    assert.is(a!.text(), "héllo €");
    assert.is(b!.header("content-type"), "application/json; charset=utf-8");
    assert.equal(b!.json(), { a: [1, "ü"] });
    assert.is(b!.header("content-length"), String(Buffer.byteLength(JSON.stringify({ a: [1, "ü"] }))));
  } finally {
    c.destroy();
  }
});

test("a non-ASCII body whose byte length has more digits than its character count, with headers, GET and HEAD", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/utf8-digits") + `HEAD /utf8-digits HTTP/1.1\r\nHost: t\r\n\r\n` + get("/utf8-long") + get("/small"));
    const a = await c.readResponse();
    assert.is(a.header("content-length"), "10");
    assert.is(a.header("x-after"), "yes");
    assert.is(a.text(), "ééééé");
    const h = await c.readResponse({ head: true });
    assert.is(h.header("content-length"), "10");
    const [l, small] = await c.readResponses(2);
    assert.is(l!.header("content-length"), "9000");
    assert.is(l!.text(), "€".repeat(3000));
    assert.is(small!.text(), "small");
  } finally {
    c.destroy();
  }
});

test("addHeader repeats a field; setHeader replaces case-insensitively", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/cookies"));
    const r = await c.readResponse();
    assert.equal(r.headerValues("set-cookie"), ["a=1", "b=2"]);
    assert.equal(r.headerValues("x-one"), ["2"]);
  } finally {
    c.destroy();
  }
});

test("a body the handler never reads: the response says Connection: close and the connection ends", async () => {
  const c = await RawClient.connect(s.port);
  try {
    // Only the head and part of the body: the answer must not wait for the rest.
    await c.write(`POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n${"x".repeat(1000)}`);
    const r = await c.readResponse();
    assert.is(r.text(), "ignored");
    assert.is(r.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

test("a body that arrived whole with its head does not cost the connection", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(`POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello${get("/small")}`);
    const [a, b] = await c.readResponses(2);
    assert.is(a!.text(), "ignored");
    assert.is(a!.header("connection"), undefined);
    assert.is(b!.text(), "small");
  } finally {
    c.destroy();
  }
});

test("a 100 KiB body read by the handler, then a pipelined request in the same write", async () => {
  const body = Buffer.alloc(100 * 1024, 0x63);
  const c = await RawClient.connect(s.port);
  try {
    await c.write(Buffer.concat([Buffer.from(`POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`), body, Buffer.from(get("/small"))]));
    const [a, b] = await c.readResponses(2);
    assert.is(a!.text(), String(body.length));
    assert.is(b!.text(), "small");
  } finally {
    c.destroy();
  }
});

test("HTTP/1.0 POST with keep-alive, then a plain HTTP/1.0 request that closes", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("POST /len HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabcGET /small HTTP/1.0\r\n\r\n");
    const [a, b] = await c.readResponses(2);
    assert.is(a!.text(), "3");
    assert.is(a!.header("connection"), "keep-alive");
    assert.is(b!.text(), "small");
    assert.is(b!.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

test.run();
