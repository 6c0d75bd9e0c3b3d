/**
 * Methods and request-target forms on the wire: custom methods registered
 * with app.handle, OPTIONS * (RFC 9110 §9.3.7), absolute-form targets routed
 * by their path (RFC 9112 §3.2.2), and the default 404.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { RawClient, requestOnce } from "./lib/raw-client.js";
import { startServer, watchdog, type TestServer } from "./lib/server.js";

watchdog(20_000);

function routes(app: Server): void {
  app.handle("PURGE", "/cache/:key", (ctx) => ctx.string(200, `purged ${ctx.param("key")} via ${ctx.method}`));
  app.handle("PROPFIND", "/dav", async (ctx) => {
    const b = await ctx.body();
    ctx.string(207, `propfind ${b.toString()}`);
  });
  app.get("/p/a", (ctx) => ctx.string(200, `path ${ctx.path} url ${ctx.url} q ${ctx.query("x") ?? "-"}`));
  app.post("/form", (ctx) => ctx.string(201, "posted"));
  app.delete("/form", (ctx) => ctx.string(204, "ignored"));
}

let s: TestServer;
test.before(async () => {
  s = await startServer(routes);
});
test.after(async () => {
  await s.close();
});

test("custom method PURGE routed by app.handle", async () => {
  const r = await requestOnce(s.port, "PURGE /cache/k1 HTTP/1.1\r\nHost: t\r\n\r\n");
  assert.is(r.status, 200);
  assert.is(r.text(), "purged k1 via PURGE");
});

test("custom method PROPFIND with a body", async () => {
  const r = await requestOnce(s.port, "PROPFIND /dav HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n<a/>");
  assert.is(r.status, 207);
  assert.is(r.reason, "Multi-Status");
  assert.is(r.text(), "propfind <a/>");
});

test("methods are case-sensitive: purge is not PURGE", async () => {
  const r = await requestOnce(s.port, "purge /cache/k1 HTTP/1.1\r\nHost: t\r\n\r\n");
  assert.is(r.status, 404);
});

test("OPTIONS * is answered 204 with an Allow header listing the server's methods", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\nGET /p/a HTTP/1.1\r\nHost: t\r\n\r\n");
    const r = await c.readResponse();
    assert.is(r.status, 204);
    assert.is(r.body.length, 0);
    assert.is(r.header("content-length"), undefined, "no Content-Length on 204 (RFC 9110 §8.6)");
    const allow = r.header("allow")!.split(", ");
    for (const m of ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PROPFIND", "PURGE"]) assert.ok(allow.includes(m), `Allow has ${m}: ${allow.join(", ")}`);
    assert.equal(allow, [...allow].sort(), "Allow is sorted");
    assert.is(new Set(allow).size, allow.length, "no duplicates");
    // The 204 carried no body: the next response parses right after it.
    assert.is((await c.readResponse()).status, 200);
  } finally {
    c.destroy();
  }
});

test("absolute-form target is routed by its path; the query stays readable", async () => {
  const r = await requestOnce(s.port, "GET http://example.com:8080/p/a?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  assert.is(r.status, 200);
  assert.is(r.text(), "path /p/a url http://example.com:8080/p/a?x=1 q 1");
});

test("absolute-form target without a path is not found as /p/a", async () => {
  const r = await requestOnce(s.port, "GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  assert.is(r.status, 404);
});

test("a 204 from a handler has no body and no Content-Length", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("DELETE /form HTTP/1.1\r\nHost: t\r\n\r\nPOST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    const r = await c.readResponse();
    assert.is(r.status, 204);
    assert.is(r.header("content-length"), undefined);
    assert.is(r.header("content-type"), undefined);
    const r2 = await c.readResponse();
    assert.is(r2.status, 201);
    assert.is(r2.text(), "posted");
  } finally {
    c.destroy();
  }
});

test("unknown path answers 404 and keeps the connection", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    const r = await c.readResponse();
    assert.is(r.status, 404);
    assert.is(r.text(), "Not Found");
    assert.is(r.header("connection"), undefined);
    await c.write("GET /p/a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert.is((await c.readResponse()).status, 200);
  } finally {
    c.destroy();
  }
});

test.run();
