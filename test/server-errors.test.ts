/**
 * Handler failures as the client sees them (500 without internals,
 * HttpError status and message), options validation, and the released
 * RequestContext guard.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HttpError, Server, type RequestContext, type ServerOptions } from "../src/index.js";
import { get, RawClient, requestOnce } from "./lib/raw-client.js";
import { deferred, startServer, watchdog, within, type TestServer } from "./lib/server.js";

watchdog(20_000);

const SECRET = "secret-detail-7f3a";
let captured = deferred<RequestContext>();

let s: TestServer;
test.before(async () => {
  s = await startServer((app) => {
    app.get("/throw", (ctx) => {
      ctx.setHeader("X-Leak", "should-not-survive");
      throw new Error(`boom ${SECRET}`);
    });
    app.get("/reject", async () => {
      await Promise.resolve();
      throw new TypeError(`async boom ${SECRET}`);
    });
    app.get("/throw-string", () => {
      throw SECRET;
    });
    app.get("/http422", () => {
      throw new HttpError(422, "bad input");
    });
    app.get("/http422-async", async () => {
      await new Promise((r) => setTimeout(r, 5));
      throw new HttpError(422, "bad input");
    });
    app.get("/http503", () => {
      throw new HttpError(503, `down ${SECRET}`);
    });
    app.get("/bad-header", (ctx) => {
      ctx.setHeader("X-Bad", "a\r\nInjected: yes");
      ctx.string(200, "unreachable");
    });
    app.get("/capture", (ctx) => {
      captured.resolve(ctx);
      ctx.string(200, "captured");
    });
    app.get("/ok", (ctx) => ctx.string(200, "ok"));
  });
});
test.after(async () => {
  await s.close();
});

function assertNoInternals(text: string): void {
  assert.not.ok(text.includes(SECRET), `body leaks the error message: ${JSON.stringify(text)}`);
  assert.not.ok(/\bat \S+ \(|\.js:\d+/.test(text), `body leaks a stack trace: ${JSON.stringify(text)}`);
}

for (const path of ["/throw", "/reject", "/throw-string"]) {
  test(`a handler that fails (${path}) answers 500 without the message or stack; the connection stays usable`, async () => {
    const before = s.logs.length;
    const c = await RawClient.connect(s.port);
    try {
      await c.write(get(path));
      const r = await c.readResponse();
      assert.is(r.status, 500);
      assert.is(r.text(), "Internal Server Error");
      assertNoInternals(r.raw.toString("latin1"));
      assert.is(r.header("x-leak"), undefined, "headers set before the failure are dropped");
      await c.write(get("/ok"));
      assert.is((await c.readResponse()).text(), "ok");
      assert.ok(s.logs.length > before, "the error was reported to the logger");
    } finally {
      c.destroy();
    }
  });
}

for (const path of ["/http422", "/http422-async"]) {
  test(`HttpError(422, "bad input") (${path}) answers 422 with its message`, async () => {
    const r = await requestOnce(s.port, get(path));
    assert.is(r.status, 422);
    assert.is(r.reason, "Unprocessable Content");
    assert.is(r.text(), "bad input");
    assert.is(r.header("content-type"), "text/plain; charset=utf-8");
  });
}

test("HttpError with a 5xx status does not expose its message", async () => {
  const r = await requestOnce(s.port, get("/http503"));
  assert.is(r.status, 503);
  assertNoInternals(r.text());
});

test("a header value with CR LF is refused: 500, nothing injected", async () => {
  const r = await requestOnce(s.port, get("/bad-header"));
  assert.is(r.status, 500);
  assert.is(r.header("injected"), undefined);
  assert.is(r.header("x-bad"), undefined);
});

test("ctx used after its response throws FARAD_ERR_CONTEXT_RELEASED", async () => {
  captured = deferred<RequestContext>();
  const r = await requestOnce(s.port, get("/capture"));
  assert.is(r.text(), "captured");
  const ctx = await within(captured.promise, 1000, "captured ctx");
  const uses: [string, () => unknown][] = [
    ["method", () => ctx.method],
    ["url", () => ctx.url],
    ["header", () => ctx.header("host")],
    ["headers", () => ctx.headers()],
    ["body", () => ctx.body()],
    ["string", () => ctx.string(200, "late")],
    ["setHeader", () => ctx.setHeader("X-Late", "1")],
    ["status", () => ctx.status(201)],
  ];
  for (const [name, use] of uses) {
    try {
      use();
      assert.unreachable(`ctx.${name} did not throw`);
    } catch (e) {
      assert.is((e as { code?: string }).code, "FARAD_ERR_CONTEXT_RELEASED", `ctx.${name}`);
    }
  }
  // The late writes did not reach the wire of a later request.
  const r2 = await requestOnce(s.port, get("/ok"));
  assert.is(r2.text(), "ok");
  assert.is(r2.header("x-late"), undefined);
});

const INVALID: [string, unknown][] = [
  ["port -1", { port: -1 }],
  ["port 65536", { port: 65536 }],
  ["port 1.5", { port: 1.5 }],
  ["port as a string", { port: "80" }],
  ["unknown option", { prot: 80 }],
  ["bodyLimit as a string", { bodyLimit: "1mb" }],
  ["bodyLimit negative", { bodyLimit: -1 }],
  ["reusePort as a string", { reusePort: "yes" }],
  ["headersTimeout 0", { headersTimeout: 0 }],
  ["keepAliveTimeout NaN", { keepAliveTimeout: NaN }],
  ["maxHeaders 0", { maxHeaders: 0 }],
  ["maxRequestLine below its minimum", { maxRequestLine: 10 }],
  ["empty host", { host: "" }],
  ["logger without error()", { logger: {} }],
  ["options not an object", 5],
  ["options null", null],
];

for (const [name, options] of INVALID) {
  test(`new Server(${name}) throws FARAD_ERR_INVALID_OPTION`, () => {
    try {
      new Server(options as ServerOptions);
      assert.unreachable("did not throw");
    } catch (e) {
      assert.is((e as { code?: string }).code, "FARAD_ERR_INVALID_OPTION", String(e));
    }
  });
}

test("listen({ port: -1 }) rejects with FARAD_ERR_INVALID_OPTION", async () => {
  const app = new Server();
  try {
    await app.listen({ host: "127.0.0.1", port: -1 });
    assert.unreachable("did not reject");
  } catch (e) {
    assert.is((e as { code?: string }).code, "FARAD_ERR_INVALID_OPTION");
  } finally {
    await app.close();
  }
});

test.run();
