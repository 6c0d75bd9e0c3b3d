/**
 * The parser corpus (test/fixtures/requests.txt) over a real socket. Each
 * case is sent to a server whose handler echoes what it parsed as JSON:
 * whole, split at several offsets, and (for a few cases) one byte per send.
 * "ok" cases must answer 200 with the expected fields and keep (or close)
 * the connection as the case says; error cases must answer their status and
 * then close; "incomplete" cases must time out with 408 (or 413 where the
 * declared length is past bodyLimit) and close.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { loadCorpus, unescape, type CorpusCase } from "./lib/corpus.js";
import { RawClient, type Response } from "./lib/raw-client.js";
import { startServer, watchdog, type TestServer } from "./lib/server.js";

watchdog(50_000);

const BODY_LIMIT = 1 << 20;
const SHORT = 300;

interface Echo {
  method: string;
  url: string;
  version: string;
  headers: [string, string][];
  body: string; // base64
}

function echo(app: Server): void {
  app.use(async (ctx) => {
    ctx.abort();
    const body = await ctx.body();
    const out: Echo = {
      method: ctx.method,
      url: ctx.url,
      version: ctx.httpVersion,
      headers: ctx.headers(),
      body: body.toString("base64"),
    };
    // Also in a header, for HEAD answers, which carry no body.
    ctx.setHeader("X-Echo", Buffer.from(JSON.stringify(out)).toString("base64"));
    ctx.json(200, out);
  });
}

const cases = loadCorpus();

// Limits the server options can express; smaller ones (below the options'
// minima) and the trailer limit (not an option) are covered by the native
// parser tests only.
function serverLimits(c: CorpusCase): Record<string, number> {
  const spec = c.get("limits");
  if (spec === undefined) return {};
  const out: Record<string, number> = {};
  for (const kv of spec.split(/\s+/)) {
    const [k, v] = kv.split("=") as [string, string];
    const n = Number(v);
    if (k === "headers") out.maxHeaders = n;
    else if (k === "request_line") out.maxRequestLine = n;
    else if (k === "header_bytes") out.maxHeaderBytes = n;
    else if (k === "trailer_bytes") out.maxTrailerBytes = n;
    else throw new Error(`corpus ${c.line}: unknown limit ${k}`);
  }
  return out;
}

const servers = new Map<string, TestServer>();
async function serverFor(limits: Record<string, number>): Promise<TestServer> {
  const key = JSON.stringify(limits);
  let s = servers.get(key);
  if (s === undefined) {
    s = await startServer(echo, {
      bodyLimit: BODY_LIMIT,
      headersTimeout: SHORT,
      bodyTimeout: SHORT,
      lingerTimeout: 2000,
      ...limits,
    });
    servers.set(key, s);
  }
  return s;
}

type Send = { kind: "whole" } | { kind: "split"; cuts: number[] } | { kind: "bytewise" };

function describe(send: Send): string {
  return send.kind === "split" ? `split at ${send.cuts.join(",")}` : send.kind;
}

/** Offsets worth cutting at: the first byte, the middle, the last byte, around the end of the head. */
function splitPlans(raw: Buffer): Send[] {
  const n = raw.length;
  const plans: Send[] = [{ kind: "whole" }];
  if (n < 2) return plans;
  plans.push({ kind: "split", cuts: [1] });
  plans.push({ kind: "split", cuts: [Math.floor(n / 2)] });
  plans.push({ kind: "split", cuts: [n - 1] });
  const headEnd = raw.indexOf("\r\n\r\n");
  if (headEnd > 0 && headEnd + 4 < n) plans.push({ kind: "split", cuts: [headEnd + 2, headEnd + 4, headEnd + 5] });
  const third = Math.floor(n / 3);
  if (third > 0) plans.push({ kind: "split", cuts: [third, 2 * third] });
  return plans;
}

// Byte-at-a-time sends for a few cases whose framing has many states.
const BYTEWISE = new Set([
  "simple GET",
  "chunked with extensions and trailers",
  "POST with Content-Length body",
  "bare LF after chunk data",
  "pipelined requests leave the rest",
]);

async function send(c: RawClient, raw: Buffer, how: Send, tolerateWriteErrors: boolean): Promise<void> {
  try {
    if (how.kind === "whole") await c.write(raw);
    else if (how.kind === "split") await c.writeSplit(raw, how.cuts);
    else await c.writeBytewise(raw);
  } catch (e) {
    // The server may answer an error and close before the last bytes go out.
    if (!tolerateWriteErrors) throw e;
  }
}

function headerEcho(r: Response): Echo {
  return JSON.parse(Buffer.from(r.header("x-echo")!, "base64").toString("utf8")) as Echo;
}

function bodyOf(r: Response): Echo {
  assert.is(r.header("content-type"), "application/json; charset=utf-8");
  return r.json() as Echo;
}

function expectedHeader(line: string): [string, string] {
  const i = line.indexOf(":");
  return [line.slice(0, i), unescape(line.slice(i + 1).replace(/^ /, ""))];
}

async function runOk(port: number, cs: CorpusCase, how: Send): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await send(c, cs.raw, how, false);
    const head = cs.get("method") === "HEAD";
    const { final: r, interim } = await c.readFinal({ head });
    for (const i of interim) assert.is(i.status, 100, "only 100 Continue may precede the answer");
    if (interim.length > 0) assert.is(cs.get("expect_continue"), "true", "100 Continue only when the client asked");
    assert.is(r.status, 200, `status; body ${r.text()}`);
    if (head) {
      // No body bytes: the follow-up below would read them as its response.
      assert.is(r.body.length, 0);
      assert.is(Number(r.header("content-length")), Buffer.byteLength(JSON.stringify(headerEcho(r))), "HEAD carries the GET's Content-Length");
    }
    const e = head ? headerEcho(r) : bodyOf(r);
    assert.is(e.method, cs.get("method"));
    assert.is(e.url, unescape(cs.get("target")!));
    assert.is(e.version, cs.get("version"));
    assert.is(e.headers.length, Number(cs.get("headers")), "header count");
    const want = cs.all("header").map(expectedHeader);
    if (want.length > 0) assert.equal(e.headers, want);
    const bodySpec = cs.get("body")!;
    const bodyData = cs.get("body_data");
    const got = Buffer.from(e.body, "base64");
    if (bodyData !== undefined) assert.is(got.toString("latin1"), unescape(bodyData), "body");
    else if (bodySpec.startsWith("length ")) assert.is(got.length, Number(bodySpec.slice(7)), "body length");
    else assert.is(got.length, 0, "no body");

    const keepAlive = cs.get("keep_alive") === "true";
    const connection = r.header("connection");
    if (!keepAlive) {
      assert.is(connection, "close", "Connection: close on the last response");
      await c.expectClosed();
      return;
    }
    assert.is.not(connection, "close");
    if (cs.get("version") === "1.0") assert.is(connection, "keep-alive", "HTTP/1.0 keep-alive is confirmed");

    const rest = unescape(cs.get("rest") ?? "");
    if (rest.endsWith("\r\n\r\n")) {
      // The rest is a whole request: it is answered next, on the same connection.
      const r2 = await c.readResponse();
      assert.is(r2.status, 200);
      assert.is(bodyOf(r2).url, rest.split(" ")[1]);
    } else if (rest === "") {
      // The connection is still usable and in step: a next request gets its own answer.
      // As short as a request gets (27 bytes), to fit the smallest limits.
      await c.write("GET /n HTTP/1.1\r\nHost: a\r\n\r\n");
      const r2 = await c.readResponse();
      assert.is(r2.status, 200);
      assert.is(bodyOf(r2).url, "/n");
    }
  } finally {
    c.destroy();
  }
}

async function runError(port: number, cs: CorpusCase, status: number, how: Send): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await send(c, cs.raw, how, true);
    const r = await c.readResponse({ timeout: 3000 });
    assert.is(r.status, status, `status; body ${JSON.stringify(r.text())}`);
    assert.is(r.header("connection"), "close");
    await c.expectClosed();
  } finally {
    c.destroy();
  }
}

function contentLength(raw: Buffer): number | null {
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(raw.toString("latin1"));
  return m ? Number(m[1]) : null;
}

for (const cs of cases) {
  const limits = serverLimits(cs);
  const expect = cs.get("expect")!;
  test(`corpus ${cs.line}: ${cs.name} [${expect}]`, async () => {
    const s = await serverFor(limits);
    const plans = splitPlans(cs.raw);
    if (BYTEWISE.has(cs.name)) plans.push({ kind: "bytewise" });
    const results = await Promise.allSettled(
      plans.map(async (how) => {
        if (expect === "ok") return runOk(s.port, cs, how);
        if (expect === "incomplete") {
          const cl = contentLength(cs.raw);
          return runError(s.port, cs, cl !== null && cl > BODY_LIMIT ? 413 : 408, how);
        }
        return runError(s.port, cs, Number(expect.split(" ")[0]), how);
      }),
    );
    const failures = results
      .map((r, i) => (r.status === "rejected" ? `${describe(plans[i]!)}: ${(r.reason as Error).message}` : null))
      .filter((x) => x !== null);
    assert.equal(failures, [], `sent ${JSON.stringify(cs.raw.toString("latin1").slice(0, 300))}`);
  });
}

test.after(async () => {
  for (const s of servers.values()) await s.close();
});

test.run();
