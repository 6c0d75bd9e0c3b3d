/**
 * Middleware semantics (Hertz's model): order, post-processing after
 * `await ctx.next()`, abort, a middleware that does not call next, global
 * middleware on 404/405/redirects, error propagation and onError.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { HttpError, Server, type Handler } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { withServer } from "./lib/server.js";

const quiet = { logger: { error: () => {} }, handlerTimeout: 0 };

function recorder(log: string[], name: string): Handler {
  return async (ctx) => {
    log.push(`${name}>`);
    await ctx.next();
    log.push(`<${name}`);
  };
}

test("order: global middleware, then outer to inner group middleware, then the route; post-processing unwinds", async () => {
  const log: string[] = [];
  const app = new Server(quiet);
  app.use(recorder(log, "g1"), recorder(log, "g2"));
  const api = app.group("/api", recorder(log, "api"));
  const v1 = api.group("/v1", recorder(log, "v1"));
  v1.get("/x", recorder(log, "route-mw"), (ctx) => {
    log.push("handler");
    ctx.string(200, "x");
  });
  const r = await app.inject({ url: "/api/v1/x" });
  assert.is(r.text(), "x");
  assert.equal(log, ["g1>", "g2>", "api>", "v1>", "route-mw>", "handler", "<route-mw", "<v1", "<api", "<g2", "<g1"]);
});

test("global middleware added after a route still applies to it; the result never depends on the registration order", async () => {
  const app = new Server(quiet);
  app.get("/a", (ctx) => ctx.string(200, "a"));
  app.use(async (ctx) => {
    await ctx.next();
    ctx.setHeader("x-late", "yes");
  });
  assert.is((await app.inject({ url: "/a" })).headers["x-late"], "yes");
});

test("post-processing can change the response after the handler answered", async () => {
  const app = new Server(quiet);
  app.use(async (ctx) => {
    const t = performance.now();
    await ctx.next();
    ctx.setHeader("x-time", (performance.now() - t).toFixed(3));
    ctx.status(201);
  });
  app.get("/", (ctx) => ctx.json(200, { ok: true }));
  const r = await app.inject({ url: "/" });
  assert.is(r.status, 201);
  assert.ok(Number(r.headers["x-time"]) >= 0);
  assert.equal(r.json(), { ok: true });
});

test("a middleware that does not call next: the chain continues after it returns (Hertz)", async () => {
  const log: string[] = [];
  const app = new Server(quiet);
  app.use((ctx) => {
    log.push("no-next");
    ctx.setHeader("x-seen", "1");
  });
  app.use(async () => {
    await Promise.resolve();
    log.push("async no-next");
  });
  app.get("/", (ctx) => {
    log.push("handler");
    ctx.string(200, "ok");
  });
  const r = await app.inject({ url: "/" });
  assert.is(r.text(), "ok");
  assert.is(r.headers["x-seen"], "1");
  assert.equal(log, ["no-next", "async no-next", "handler"]);
});

test("abort(), abortWithStatus() and abortWithJSON() stop the chain; earlier middleware still post-processes", async () => {
  const log: string[] = [];
  const app = new Server(quiet);
  app.use(recorder(log, "outer"));
  app.get("/status", (ctx) => ctx.abortWithStatus(401), () => log.push("never"));
  app.get("/json", (ctx) => ctx.abortWithJSON(403, { error: "forbidden" }), () => log.push("never"));
  app.get(
    "/abort",
    (ctx) => {
      ctx.string(202, "accepted early");
      ctx.abort();
    },
    () => log.push("never"),
  );
  const s = await app.inject({ url: "/status" });
  assert.is(s.status, 401);
  assert.is(s.body.length, 0);
  const j = await app.inject({ url: "/json" });
  assert.is(j.status, 403);
  assert.equal(j.json(), { error: "forbidden" });
  const a = await app.inject({ url: "/abort" });
  assert.is(a.status, 202);
  assert.is(a.text(), "accepted early");
  assert.not.ok(log.includes("never"));
  assert.equal(log, ["outer>", "<outer", "outer>", "<outer", "outer>", "<outer"]);
});

test("global middleware runs for 404, 405 and trailing-slash redirects; custom notFound", async () => {
  const seen: string[] = [];
  const app = new Server({ ...quiet, handleMethodNotAllowed: true });
  app.use(async (ctx) => {
    seen.push(ctx.path);
    await ctx.next();
    ctx.setHeader("x-mw", "1");
  });
  app.get("/only-get", (ctx) => ctx.string(200, "g"));
  app.get("/dir", (ctx) => ctx.string(200, "d"));
  const nf = await app.inject({ url: "/missing" });
  assert.is(nf.status, 404);
  assert.is(nf.headers["x-mw"], "1");
  const na = await app.inject({ method: "POST", url: "/only-get" });
  assert.is(na.status, 405);
  // HEAD is served from the GET route, so Allow lists it too.
  assert.is(na.headers["allow"], "GET, HEAD");
  assert.is(na.headers["x-mw"], "1");
  const rd = await app.inject({ url: "/dir/?q=1" });
  assert.is(rd.status, 301);
  assert.is(rd.headers["location"], "/dir?q=1");
  assert.is(rd.headers["x-mw"], "1");
  assert.equal(seen, ["/missing", "/only-get", "/dir/"]);
  app.notFound((ctx) => ctx.json(404, { error: "no such route", path: ctx.path }));
  const custom = await app.inject({ url: "/nope" });
  assert.equal(custom.json(), { error: "no such route", path: "/nope" });
  assert.is(custom.headers["x-mw"], "1");
});

test("custom methodNotAllowed: Allow and 405 are set before it runs, global middleware wraps it, use() afterwards still applies", async () => {
  const seen: string[] = [];
  const app = new Server({ ...quiet, handleMethodNotAllowed: true });
  app.use(async (ctx) => {
    seen.push(`mw ${ctx.statusCode}`);
    await ctx.next();
    ctx.setHeader("x-mw", "1");
  });
  app.get("/r", (ctx) => ctx.string(200, "g"));
  app.put("/r", (ctx) => ctx.string(200, "p"));
  app.post("/only-post", (ctx) => ctx.string(200, "p"));
  app.methodNotAllowed((ctx) => {
    seen.push(`handler ${ctx.statusCode}`);
    ctx.json(ctx.statusCode, { error: "method not allowed", method: ctx.method });
  });
  const r = await app.inject({ method: "DELETE", url: "/r" });
  assert.is(r.status, 405);
  assert.equal(r.json(), { error: "method not allowed", method: "DELETE" });
  assert.is(r.headers["allow"], "GET, HEAD, PUT");
  assert.is(r.headers["x-mw"], "1");
  assert.equal(seen, ["mw 405", "handler 405"]);
  // No GET route: no HEAD in Allow.
  assert.is((await app.inject({ method: "GET", url: "/only-post" })).headers["allow"], "POST");
  // The cached chain is rebuilt when middleware is added later.
  app.use((ctx) => void ctx.setHeader("x-late", "1"));
  const late = await app.inject({ method: "PATCH", url: "/r" });
  assert.is(late.status, 405);
  assert.is(late.headers["x-late"], "1");
  // The handler may change what was preset.
  app.methodNotAllowed((ctx) => {
    ctx.setHeader("Allow", "GET");
    ctx.string(404, "hidden");
  });
  const hidden = await app.inject({ method: "DELETE", url: "/r" });
  assert.is(hidden.status, 404);
  assert.is(hidden.headers["allow"], "GET");
  assert.throws(() => app.methodNotAllowed("nope" as never), /function/);
  // Off (the default): the same request is a 404 and the handler is not used.
  const off = new Server(quiet);
  off.get("/r", (ctx) => ctx.string(200, "g"));
  off.methodNotAllowed((ctx) => ctx.string(405, "custom"));
  assert.is((await off.inject({ method: "DELETE", url: "/r" })).status, 404);
});

test("errors propagate through await next(): a middleware can catch and answer; uncaught ones become 500 or the HttpError's status", async () => {
  const app = new Server(quiet);
  app.use(async (ctx) => {
    try {
      await ctx.next();
    } catch (e) {
      if ((e as Error).message === "recoverable") ctx.json(200, { recovered: true });
      else throw e;
    }
  });
  app.get("/recover", () => {
    throw new Error("recoverable");
  });
  app.get("/crash", async () => {
    await Promise.resolve();
    throw new Error("database password is hunter2");
  });
  app.get("/http", () => {
    throw new HttpError(409, "version conflict");
  });
  app.get("/hidden", () => {
    throw new HttpError(400, "internal detail", { expose: false });
  });
  assert.equal((await app.inject({ url: "/recover" })).json(), { recovered: true });
  const crash = await app.inject({ url: "/crash" });
  assert.is(crash.status, 500);
  assert.is(crash.text(), "Internal Server Error");
  assert.is((await app.inject({ url: "/http" })).text(), "version conflict");
  const hidden = await app.inject({ url: "/hidden" });
  assert.is(hidden.status, 400);
  assert.is(hidden.text(), "Bad Request");
});

test("onError decides the response; a throwing onError falls back to the default", async () => {
  const errors: unknown[] = [];
  const app = new Server(quiet);
  app.onError((err, ctx) => {
    errors.push(err);
    if (err instanceof HttpError) ctx.json(err.status, { error: err.code });
    else ctx.json(500, { error: "internal" });
  });
  app.get("/a", () => {
    throw new HttpError(418, "teapot", { code: "TEAPOT" });
  });
  app.get("/b", () => {
    throw new TypeError("x is undefined");
  });
  assert.equal((await app.inject({ url: "/a" })).json(), { error: "TEAPOT" });
  const b = await app.inject({ url: "/b" });
  assert.is(b.status, 500);
  assert.equal(b.json(), { error: "internal" });
  assert.is(errors.length, 2);
  const broken = new Server(quiet);
  broken.onError(() => {
    throw new Error("onError itself failed");
  });
  broken.get("/", () => {
    throw new Error("first");
  });
  const r = await broken.inject({ url: "/" });
  assert.is(r.status, 500);
  assert.is(r.text(), "Internal Server Error");
});

test("routes() lists what is registered, sorted", () => {
  const app = new Server(quiet);
  app.post("/b", () => {});
  app.get("/a/:id", () => {}, () => {});
  app.group("/g").handle("PURGE", "/c", () => {});
  const routes = app.routes().map((r) => `${r.method} ${r.path} ${r.handlerCount}`);
  assert.equal(routes, ["GET /a/:id 2", "POST /b 1", "PURGE /g/c 1"].sort((x, y) => (x.split(" ")[1]! < y.split(" ")[1]! ? -1 : 1)));
});

test("params stay the request's own: async handlers read them after later pipelined lookups; inject() inside a handler", async () => {
  await withServer(
    (app) => {
      app.get("/slow/:id", async (ctx) => {
        await new Promise((r) => setTimeout(r, 20));
        ctx.string(200, `slow ${ctx.param("id")}`);
      });
      app.get("/fast/:id", (ctx) => ctx.string(200, `fast ${ctx.param("id")}`));
      app.get("/outer/:id", async (ctx) => {
        const inner = await app.inject({ url: "/fast/inner" });
        ctx.string(200, `${ctx.param("id")} then ${inner.text()} then ${ctx.param("id")}`);
      });
    },
    {},
    async (s) => {
      const c = await RawClient.connect(s.port);
      try {
        // One write, one batch: the fast lookups reuse the router's match
        // while /slow/1 is still waiting.
        await c.write(get("/slow/1") + get("/fast/2") + get("/slow/3") + get("/fast/4") + get("/outer/o"));
        const texts = (await c.readResponses(5)).map((r) => r.text());
        assert.equal(texts, ["slow 1", "fast 2", "slow 3", "fast 4", "o then fast inner then o"]);
      } finally {
        c.destroy();
      }
    },
  );
});

test.run();
