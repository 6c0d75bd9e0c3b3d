/**
 * Groups (prefixes and middleware chains), the registration helpers,
 * routes() listing, per-route options and the method table.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { METHOD_NAMES, methodCode, METHOD_OTHER, METHOD_PATCH, Router } from "../src/route/index.js";

test("nested groups concatenate prefixes and middleware (outer first)", () => {
  const r = new Router<string>();
  r.use("global");
  const v1 = r.group("/v1", "auth");
  const admin = v1.group("/admin", "admin", "audit");
  admin.get("/users/:id", "show");
  v1.post("/login", "login");
  const show = r.findString("GET", "/v1/admin/users/7");
  assert.is(show.route?.fullPath, "/v1/admin/users/:id");
  assert.equal(show.route?.handlers, ["global", "auth", "admin", "audit", "show"]);
  assert.equal(r.params(show), { id: "7" });
  assert.equal(r.findString("POST", "/v1/login").route?.handlers, ["global", "auth", "login"]);
});

test("use() affects routes and groups added after it, not before", () => {
  const r = new Router<string>();
  const g = r.group("/g");
  g.get("/before", "h");
  const early = g.group("/early");
  g.use("mw");
  g.get("/after", "h");
  early.get("/x", "h");
  g.group("/late").get("/x", "h");
  assert.equal(r.findString("GET", "/g/before").route?.handlers, ["h"]);
  assert.equal(r.findString("GET", "/g/after").route?.handlers, ["mw", "h"]);
  assert.equal(r.findString("GET", "/g/early/x").route?.handlers, ["h"]);
  assert.equal(r.findString("GET", "/g/late/x").route?.handlers, ["mw", "h"]);
});

test("prefix joining", () => {
  const r = new Router<string>();
  r.group("/v1/").get("/x", "h");
  r.group("/v2").get("/", "h");
  r.group("").get("/root", "h");
  r.group("/u/:id").group("/posts").get("/:post", "h");
  assert.equal(r.routes().map((x) => x.path), ["/root", "/u/:id/posts/:post", "/v1/x", "/v2/"]);
  const m = r.findString("GET", "/u/3/posts/4");
  assert.equal(r.params(m), { id: "3", post: "4" });
});

test("registration helpers and routes() sorted by path then method", () => {
  const r = new Router<string>();
  const g = r.group("/api", "mw");
  g.get("/b", "h");
  g.head("/b", "h");
  g.post("/a", "h1", "h2");
  g.put("/a", "h");
  g.delete("/a", "h");
  g.patch("/a", "h");
  g.options("/a", "h");
  g.handle("PURGE", "/a", "h");
  r.any("/any", "h");
  assert.equal(r.routes(), [
    { method: "DELETE", path: "/any", handlerCount: 1 },
    { method: "CONNECT", path: "/any", handlerCount: 1 },
    { method: "GET", path: "/any", handlerCount: 1 },
    { method: "HEAD", path: "/any", handlerCount: 1 },
    { method: "OPTIONS", path: "/any", handlerCount: 1 },
    { method: "PATCH", path: "/any", handlerCount: 1 },
    { method: "POST", path: "/any", handlerCount: 1 },
    { method: "PUT", path: "/any", handlerCount: 1 },
    { method: "TRACE", path: "/any", handlerCount: 1 },
    { method: "DELETE", path: "/api/a", handlerCount: 2 },
    { method: "OPTIONS", path: "/api/a", handlerCount: 2 },
    { method: "PATCH", path: "/api/a", handlerCount: 2 },
    { method: "POST", path: "/api/a", handlerCount: 3 },
    { method: "PURGE", path: "/api/a", handlerCount: 2 },
    { method: "PUT", path: "/api/a", handlerCount: 2 },
    { method: "GET", path: "/api/b", handlerCount: 2 },
    { method: "HEAD", path: "/api/b", handlerCount: 2 },
  ].sort((a, b) => (a.path === b.path ? (a.method < b.method ? -1 : 1) : a.path < b.path ? -1 : 1)));
  for (const m of METHOD_NAMES.slice(1)) assert.is(r.findString(m, "/any").route?.method, m);
});

test("addRoute keeps per-route options and registers several methods at once", () => {
  const r = new Router<string, { bodyLimit: number }>();
  const opts = { bodyLimit: 1024 };
  r.group("/v1", "mw").addRoute(["PUT", "PATCH"], "/blob/:id", ["h"], opts);
  const m = r.findString("PATCH", "/v1/blob/1");
  assert.is(m.route?.options, opts);
  assert.equal(m.route?.handlers, ["mw", "h"]);
  assert.is(r.findString("PUT", "/v1/blob/1").route?.options, opts);
  assert.is(r.findString("GET", "/v1/blob/1").route, null);
  r.get("/plain", "h");
  assert.is(r.findString("GET", "/plain").route?.options, undefined);
});

test("routes are frozen snapshots", () => {
  const r = new Router<string>();
  const handlers = ["a", "b"];
  r.addRoute("GET", "/x/:id", handlers);
  handlers.push("c");
  const route = r.findString("GET", "/x/1").route!;
  assert.equal(route.handlers, ["a", "b"]);
  assert.ok(Object.isFrozen(route.handlers) && Object.isFrozen(route.paramNames));
  assert.is(route.paramIndex("id"), 0);
  assert.is(route.paramIndex("nope"), -1);
});

test("method table", () => {
  assert.equal(METHOD_NAMES, ["", "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
  METHOD_NAMES.forEach((name, code) => { if (code > 0) assert.is(methodCode(name), code); });
  assert.is(methodCode("PATCH"), METHOD_PATCH);
  assert.is(methodCode("patch"), METHOD_OTHER);
  assert.is(methodCode("PURGE"), METHOD_OTHER);
});

test.run();
