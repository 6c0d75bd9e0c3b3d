/**
 * Request and response bodies on the wire: Expect: 100-continue, HEAD
 * framing, chunked request bodies with extensions and trailers, bodies
 * spread over many writes, and a client that leaves mid-body.
 */
import { createHash } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { deferred, startServer, until, watchdog, within, type TestServer } from "./lib/server.js";

watchdog(30_000);

const DOC = "hello world, this is the document";
let bodyOutcome = deferred<unknown>();

function routes(app: Server): void {
  app.post("/echo", async (ctx) => {
    const b = await ctx.body();
    ctx.data(200, "application/octet-stream", b);
  });
  app.post("/digest", async (ctx) => {
    const b = await ctx.body();
    ctx.string(200, `${b.length} ${createHash("sha256").update(b).digest("hex")}`);
  });
  app.post("/watch", async (ctx) => {
    try {
      await ctx.body();
      bodyOutcome.resolve("resolved");
    } catch (e) {
      bodyOutcome.resolve(e);
    }
    ctx.string(200, "done");
  });
  app.get("/doc", (ctx) => ctx.string(200, DOC));
  app.get("/next", (ctx) => ctx.string(200, "next"));
  app.get("/slow", async (ctx) => {
    await new Promise((r) => setTimeout(r, 50));
    ctx.string(200, "slow");
  });
}

let s: TestServer;
test.before(async () => {
  s = await startServer(routes, { bodyLimit: 8 << 20 });
});
test.after(async () => {
  await s.close();
});

function digest(b: Buffer): string {
  return `${b.length} ${createHash("sha256").update(b).digest("hex")}`;
}

function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 8)) & 0xff;
  return b;
}

test("Expect: 100-continue: 100 Continue after the head, the final response after the body", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n");
    const interim = await c.readResponse();
    assert.is(interim.status, 100);
    assert.is(interim.raw.toString("latin1"), "HTTP/1.1 100 Continue\r\n\r\n");
    assert.is(c.buffered.length, 0, "nothing but 100 Continue before the body is sent");
    await c.write("hello there");
    const r = await c.readResponse();
    assert.is(r.status, 200);
    assert.is(r.text(), "hello there");
    // Keep-alive continues.
    await c.write(get("/next"));
    assert.is((await c.readResponse()).text(), "next");
  } finally {
    c.destroy();
  }
});

test("Expect: 100-continue with a chunked body", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert.is((await c.readResponse()).status, 100);
    await c.write("3\r\nabc\r\n0\r\n\r\n");
    const r = await c.readResponse();
    assert.is(r.status, 200);
    assert.is(r.text(), "abc");
  } finally {
    c.destroy();
  }
});

test("HEAD: the GET's Content-Length, no body bytes; a request pipelined after it parses cleanly", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(`HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\n${get("/doc")}${get("/next")}`);
    const h = await c.readResponse({ head: true });
    assert.is(h.status, 200);
    assert.is(h.header("content-length"), String(DOC.length));
    assert.is(h.header("content-type"), "text/plain; charset=utf-8");
    assert.ok(h.raw.toString("latin1").endsWith("\r\n\r\n"));
    assert.ok(c.buffered.toString("latin1").startsWith("HTTP/1.1 200 OK\r\n"), "the next response starts right after the HEAD head");
    const g = await c.readResponse();
    assert.is(g.header("content-length"), String(DOC.length));
    assert.is(g.text(), DOC);
    assert.is((await c.readResponse()).text(), "next");
  } finally {
    c.destroy();
  }
});

test("chunked request body with extensions, binary data and trailers reaches ctx.body() intact", async () => {
  const data = bytes(300);
  const c = await RawClient.connect(s.port);
  try {
    const parts = [
      Buffer.from("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"),
      Buffer.from("64;name=value\r\n"),
      data.subarray(0, 100),
      Buffer.from("\r\n00C8 ; a = \"quoted \\\" str\" ; flag\r\n"),
      data.subarray(100, 300),
      Buffer.from("\r\n0;last\r\nX-Sum: 42\r\nX-Other:  z \r\n\r\n"),
    ];
    await c.write(Buffer.concat(parts));
    const r = await c.readResponse();
    assert.is(r.status, 200);
    assert.ok(r.body.equals(data), "the decoded body is the data, without framing or trailers");
    await c.write(get("/next"));
    assert.is((await c.readResponse()).text(), "next", "the trailers were consumed: the next request parses");
  } finally {
    c.destroy();
  }
});

test("1 MiB chunked body in chunks of varied sizes, written in small pieces", async () => {
  const data = bytes(1 << 20);
  const frames: Buffer[] = [Buffer.from("POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")];
  let off = 0;
  let k = 0;
  while (off < data.length) {
    const n = Math.min(data.length - off, [1, 7, 4096, 65536, 100_000, 13][k++ % 6]!);
    frames.push(Buffer.from(`${n.toString(16).toUpperCase()}\r\n`), data.subarray(off, off + n), Buffer.from("\r\n"));
    off += n;
  }
  frames.push(Buffer.from("0\r\n\r\n"));
  const all = Buffer.concat(frames);
  const c = await RawClient.connect(s.port);
  try {
    const cuts: number[] = [];
    for (let i = 1; i < 64; i++) cuts.push(Math.floor((all.length * i) / 64) + (i % 5));
    await c.writeSplit(all, cuts);
    const r = await c.readResponse({ timeout: 3000 });
    assert.is(r.text(), digest(data));
  } finally {
    c.destroy();
  }
});

test("Content-Length body split across 100 writes", async () => {
  const data = bytes(256 * 1024 + 7);
  const head = Buffer.from(`POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: ${data.length}\r\n\r\n`);
  const c = await RawClient.connect(s.port);
  try {
    await c.write(head);
    const step = Math.ceil(data.length / 100);
    for (let i = 0; i < data.length; i += step) await c.write(data.subarray(i, i + step));
    const r = await c.readResponse({ timeout: 3000 });
    assert.is(r.text(), digest(data));
    await c.write(get("/next"));
    assert.is((await c.readResponse()).text(), "next");
  } finally {
    c.destroy();
  }
});

test("a small Content-Length body arriving one byte per send", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.writeBytewise("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789");
    assert.is((await c.readResponse()).text(), "0123456789");
  } finally {
    c.destroy();
  }
});

test("100 Continue for a pipelined request goes out after the earlier response, not before", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(`${get("/slow")}POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n`);
    const first = await c.readResponse();
    assert.is(first.status, 200);
    assert.is(first.text(), "slow");
    assert.is((await c.readResponse()).status, 100);
    await c.write("abc");
    const r = await c.readResponse();
    assert.is(r.text(), "abc");
  } finally {
    c.destroy();
  }
});

test("Expect: 100-continue on a body over bodyLimit: 413 and close", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(`POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: ${16 << 20}\r\n\r\n`);
    const { final, interim } = await c.readFinal();
    for (const i of interim) assert.is(i.status, 100);
    assert.is(final.status, 413);
    assert.is(final.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
});

for (const framing of ["content-length", "chunked"] as const) {
  test(`a client that disconnects mid-body (${framing}): ctx.body() rejects, the connection is released`, async () => {
    bodyOutcome = deferred<unknown>();
    const c = await RawClient.connect(s.port);
    const head =
      framing === "chunked"
        ? "POST /watch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n0123456789"
        : "POST /watch HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789";
    await c.write(head);
    await until(() => s.app.stats().pendingHandlers === 1, "the handler is waiting for the body");
    c.destroy();
    const outcome = await within(bodyOutcome.promise, 2000, "ctx.body() after the client left");
    assert.instance(outcome, Error);
    assert.is((outcome as { code?: string }).code, "FARAD_ERR_BODY_ABORTED");
    await until(() => s.app.stats().connections === 0 && s.app.stats().pendingHandlers === 0, "connection and handler released");
  });
}

test.run();
