/**
 * The long-lived context `c` (Context): its deadline (the route's
 * handlerTimeout or the server's, counted once from the request's start),
 * request-scoped values that outlive the RequestContext, and which
 * handlers get it as their second argument.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Context, Server, type Handler, type RequestContext } from "../src/index.js";

const quiet = { logger: { error: () => {} } };

test("c.deadline: the server's handlerTimeout from the request's start; Infinity without one", async () => {
  let left = NaN;
  const app = new Server({ ...quiet, handlerTimeout: 2000 });
  app.get("/", (ctx, c) => {
    left = c.deadline - Date.now();
    ctx.string(200, "ok");
  });
  await app.inject({ url: "/" });
  assert.ok(left > 1900 && left <= 2000, `${left} ms left of 2000`);
  let none = 0;
  const off = new Server({ ...quiet, handlerTimeout: 0 });
  off.get("/", (ctx, c) => {
    none = c.deadline;
    ctx.string(200, "ok");
  });
  await off.inject({ url: "/" });
  assert.is(none, Infinity);
});

test("c.deadline: a route's handlerTimeout overrides the server's, in groups too; 0 means none", async () => {
  const left = new Map<string, number>();
  const record = (ctx: { path: string; string(code: number, text: string): void }, c: { deadline: number }): void => {
    left.set(ctx.path, c.deadline - Date.now());
    ctx.string(200, "ok");
  };
  const app = new Server({ ...quiet, handlerTimeout: 30_000 });
  app.addRoute("GET", "/short", [record], { handlerTimeout: 300 });
  app.group("/g").addRoute("GET", "/short", [record], { handlerTimeout: 400 });
  app.addRoute("GET", "/none", [record], { handlerTimeout: 0 });
  app.get("/default", record);
  for (const url of ["/short", "/g/short", "/none", "/default"]) assert.is((await app.inject({ url })).status, 200);
  const short = left.get("/short")!;
  const group = left.get("/g/short")!;
  const def = left.get("/default")!;
  assert.ok(short > 200 && short <= 300, `route: ${short} ms left of 300`);
  assert.ok(group > 300 && group <= 400, `group route: ${group} ms left of 400`);
  assert.is(left.get("/none"), Infinity);
  assert.ok(def > 29_900 && def <= 30_000, `server: ${def} ms left of 30000`);
});

test("c.deadline read lazily (ctx.context) after an await still counts from the request's start, and the 503 comes then", async () => {
  let start = 0;
  let lazy = 0;
  const app = new Server({ ...quiet, handlerTimeout: 30_000 });
  app.addRoute("GET", "/lazy", [async (ctx) => {
    start = Date.now();
    await sleep(150);
    lazy = ctx.context.deadline;
    ctx.string(200, "ok");
  }], { handlerTimeout: 1000 });
  let early = 0;
  app.addRoute("GET", "/hang", [(_ctx, c) => {
    early = c.deadline;
    return new Promise(() => {});
  }], { handlerTimeout: 100 });
  assert.is((await app.inject({ url: "/lazy" })).status, 200);
  assert.ok(lazy - start <= 1000 && lazy - start > 900, `deadline ${lazy - start} ms after the start (1000, not 1150)`);
  // The deadline timer is unref'd (it must not keep a server alive): hold the loop open.
  const hold = setTimeout(() => {}, 5000);
  const r = await app.inject({ url: "/hang" });
  const at = Date.now();
  clearTimeout(hold);
  assert.is(r.status, 503);
  assert.ok(at >= early && at - early < 500, `503 ${at - early} ms after c.deadline`);
});

test("c.set in middleware, c.get in the handler; the values stay readable from c after ctx was released", async () => {
  const role = Symbol("role");
  let kept: Context | undefined;
  let keptCtx: RequestContext | undefined;
  const app = new Server(quiet);
  app.use((_ctx, c) => {
    c.set("user", { id: 7 }).set(role, "admin");
  });
  app.use(async (ctx, c) => {
    await sleep(5);
    c.set("afterAwait", ctx.path);
    await ctx.next();
  });
  app.get("/", (ctx, c) => {
    kept = c;
    keptCtx = ctx;
    assert.is(ctx.context, c, "ctx.context is the c handlers get");
    ctx.json(200, { user: c.get("user"), role: c.get(role), afterAwait: c.get("afterAwait"), missing: c.get("missing") ?? null });
  });
  const r = await app.inject({ url: "/" });
  assert.equal(r.json(), { user: { id: 7 }, role: "admin", afterAwait: "/", missing: null });
  assert.throws(() => keptCtx!.method, (e: { code?: string }) => e.code === "FARAD_ERR_CONTEXT_RELEASED");
  assert.equal(kept!.get("user"), { id: 7 });
  assert.is(kept!.get(role), "admin");
  assert.is(kept!.set("later", 1).get("later"), 1);
  // Each request has its own values.
  let other: Context | undefined;
  app.get("/other", (ctx, c) => {
    other = c;
    ctx.string(200, String(c.get("later")));
  });
  assert.is((await app.inject({ url: "/other" })).text(), "undefined");
  assert.is.not(other, kept);
});

test("c is a real Context for any handler whose length is not 1: a variadic wrapper, a zero-parameter function", async () => {
  const wrap = (h: Handler): Handler => (...args) => h(...args);
  let zeroArgs: unknown;
  const app = new Server(quiet);
  app.get("/wrapped", wrap((ctx, c) => ctx.json(200, { isContext: c instanceof Context, aborted: c.signal.aborted })));
  app.get(
    "/zero",
    function (this: unknown) {
      zeroArgs = arguments[1];
    },
    (ctx) => ctx.string(200, "ok"),
  );
  assert.equal((await app.inject({ url: "/wrapped" })).json(), { isContext: true, aborted: false });
  assert.is((await app.inject({ url: "/zero" })).text(), "ok");
  assert.ok(zeroArgs instanceof Context);
  // A wrapper used as global middleware makes c for 404s as well.
  const mw = new Server(quiet);
  mw.use(wrap(async (ctx, c) => {
    await ctx.next();
    ctx.setHeader("x-has-c", String(c instanceof Context));
  }));
  assert.is((await mw.inject({ url: "/missing" })).headers["x-has-c"], "true");
});

test("handlers of length 1 only: no c is made and the second argument is undefined, so (ctx, c = ctx.context) gets its default", async () => {
  const seen: unknown[] = [];
  const app = new Server(quiet);
  app.get("/plain", function (ctx: RequestContext) {
    seen.push(arguments[1]);
    ctx.string(200, "ok");
  });
  app.get("/default", (ctx, c = ctx.context) => {
    seen.push(c instanceof Context && c === ctx.context);
    ctx.string(200, "ok");
  });
  await app.inject({ url: "/plain" });
  await app.inject({ url: "/default" });
  assert.equal(seen, [undefined, true]);
});

test.run();
