/**
 * Size limits on the wire, at and one past each boundary: maxRequestLine
 * (414), maxHeaders and maxHeaderBytes (431), and bodyLimit for ctx.body()
 * (413, whether the length is declared or found while reading chunks).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { RawClient, type Response } from "./lib/raw-client.js";
import { startServer, until, watchdog, type TestServer } from "./lib/server.js";

watchdog(20_000);

const LINE = 128;
const HEADERS = 5;
const HEAD_BYTES = 512;
const BODY = 1000;

function routes(app: Server): void {
  app.use(async (ctx) => {
    ctx.abort();
    if (ctx.method === "POST") {
      const b = await ctx.body();
      ctx.string(200, `body ${b.length}`);
    } else {
      ctx.string(200, `ok ${ctx.headers().length}`);
    }
  });
}

let s: TestServer;
test.before(async () => {
  s = await startServer(routes, { maxRequestLine: LINE, maxHeaders: HEADERS, maxHeaderBytes: HEAD_BYTES, bodyLimit: BODY });
});
test.after(async () => {
  await s.close();
});

/** "GET /aaa... HTTP/1.1" of exactly `n` bytes (without its CRLF). */
function requestLine(n: number): string {
  const fixed = "GET / HTTP/1.1".length;
  return `GET /${"a".repeat(n - fixed)} HTTP/1.1`;
}

async function exchange(data: string | Buffer, tolerateWriteErrors = false): Promise<{ r: Response; c: RawClient }> {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(data);
  } catch (e) {
    if (!tolerateWriteErrors) throw e;
  }
  return { r: await c.readResponse(), c };
}

async function expectOk(data: string, body: string): Promise<void> {
  const { r, c } = await exchange(data);
  try {
    assert.is(r.status, 200, r.text());
    assert.is(r.text(), body);
  } finally {
    c.destroy();
  }
}

async function expectRefused(data: string | Buffer, status: number): Promise<void> {
  const { r, c } = await exchange(data, true);
  try {
    assert.is(r.status, status, r.text());
    assert.is(r.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
}

test(`request line of exactly maxRequestLine (${LINE}) bytes is served`, async () => {
  assert.is(requestLine(LINE).length, LINE);
  await expectOk(`${requestLine(LINE)}\r\nHost: t\r\n\r\n`, "ok 1");
});

test("request line one byte over maxRequestLine answers 414 and closes", async () => {
  await expectRefused(`${requestLine(LINE + 1)}\r\nHost: t\r\n\r\n`, 414);
});

test("a request line far over the limit is refused before it ends", async () => {
  await expectRefused(`GET /${"a".repeat(4 * LINE)}`, 414);
});

test(`exactly maxHeaders (${HEADERS}) header fields are served`, async () => {
  let h = "Host: t\r\n";
  for (let i = 1; i < HEADERS; i++) h += `X-${i}: v\r\n`;
  await expectOk(`GET / HTTP/1.1\r\n${h}\r\n`, `ok ${HEADERS}`);
});

test("one header field over maxHeaders answers 431 and closes", async () => {
  let h = "Host: t\r\n";
  for (let i = 1; i <= HEADERS; i++) h += `X-${i}: v\r\n`;
  await expectRefused(`GET / HTTP/1.1\r\n${h}\r\n`, 431);
});

function headOf(n: number): string {
  const base = "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: \r\n\r\n";
  const head = `GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ${"p".repeat(n - base.length)}\r\n\r\n`;
  assert.is(head.length, n);
  return head;
}

test(`a head of exactly maxHeaderBytes (${HEAD_BYTES}) is served`, async () => {
  await expectOk(headOf(HEAD_BYTES), "ok 2");
});

test("a head one byte over maxHeaderBytes answers 431 and closes", async () => {
  await expectRefused(headOf(HEAD_BYTES + 1), 431);
});

test("a head far over maxHeaderBytes is refused before it ends", async () => {
  await expectRefused(`GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ${"p".repeat(4 * HEAD_BYTES)}`, 431);
});

test(`a Content-Length body of exactly bodyLimit (${BODY}) is read`, async () => {
  await expectOk(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${BODY}\r\n\r\n${"b".repeat(BODY)}`, `body ${BODY}`);
});

test("ctx.body() with Content-Length one over bodyLimit answers 413 and closes", async () => {
  await expectRefused(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${BODY + 1}\r\n\r\n${"b".repeat(BODY + 1)}`, 413);
});

test("a declared 10 MB body is refused with 413 without waiting for it", async () => {
  // Only the head is sent: the answer cannot depend on the body arriving.
  await expectRefused(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n`, 413);
});

test("a chunked body growing past bodyLimit answers 413 and closes", async () => {
  const chunk = "c".repeat(300);
  let body = "";
  for (let i = 0; i < 4; i++) body += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  await expectRefused(`POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`, 413);
});

test("a chunked body within bodyLimit is read", async () => {
  await expectOk(`POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3E8\r\n${"c".repeat(1000)}\r\n0\r\n\r\n`, "body 1000");
});

test("maxConnections: connections past the limit are closed on accept; the others are served", async () => {
  const limited = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "in")), { maxConnections: 3 });
  const cs: RawClient[] = [];
  try {
    for (let i = 0; i < 3; i++) cs.push(await RawClient.connect(limited.port));
    await until(() => limited.app.stats().connections === 3, "three connections open");
    const extra = await RawClient.connect(limited.port);
    cs.push(extra);
    await extra.expectClosed();
    for (const c of cs.slice(0, 3)) {
      await c.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
      assert.is((await c.readResponse()).text(), "in");
    }
    // A slot frees when one leaves.
    cs[0]!.destroy();
    await until(() => limited.app.stats().connections === 2, "one connection released");
    const again = await RawClient.connect(limited.port);
    cs.push(again);
    await again.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert.is((await again.readResponse()).text(), "in");
  } finally {
    for (const c of cs) c.destroy();
    await limited.close();
  }
});

test.run();
