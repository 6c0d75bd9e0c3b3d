/**
 * Matching: static, params (also inside a segment), catch-alls, priority and
 * backtracking, custom methods, lookups on byte ranges. Each table runs with
 * the routes registered in both orders.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  MatchKind,
  METHOD_GET,
  METHOD_OTHER,
  METHOD_POST,
  Router,
  RouteMatch,
  paramValue,
} from "../src/route/index.js";
import { build, checkTable, outcome, type Case, type RouteRow } from "./route-helpers.js";

const GET = "GET";

// httprouter's wildcard table, in farad syntax.
const WILDCARD: RouteRow[] = [
  [GET, "/"],
  [GET, "/cmd/:tool/:sub"],
  [GET, "/cmd/:tool/"],
  [GET, "/src/*filepath"],
  [GET, "/search/"],
  [GET, "/search/:query"],
  [GET, "/user_:name"],
  [GET, "/user_:name/about"],
  [GET, "/files/:dir/*filepath"],
  [GET, "/doc/"],
  [GET, "/doc/go_faq.html"],
  [GET, "/doc/go1.html"],
  [GET, "/info/:user/public"],
  [GET, "/info/:user/project/:project"],
];

test("static, params, params inside a segment, catch-alls", () => {
  const cases: Case[] = [
    [GET, "/", { route: "/" }],
    [GET, "/cmd/test/", { route: "/cmd/:tool/", params: { tool: "test" } }],
    [GET, "/cmd/test/3", { route: "/cmd/:tool/:sub", params: { tool: "test", sub: "3" } }],
    [GET, "/src/", { route: "/src/*filepath", params: { filepath: "" } }],
    [GET, "/src/some/file.png", { route: "/src/*filepath", params: { filepath: "some/file.png" } }],
    [GET, "/search/", { route: "/search/" }],
    [GET, "/search/someth!ng+in+ünìcodé", { route: "/search/:query", params: { query: "someth!ng+in+ünìcodé" } }],
    [GET, "/user_gopher", { route: "/user_:name", params: { name: "gopher" } }],
    [GET, "/user_gopher/about", { route: "/user_:name/about", params: { name: "gopher" } }],
    [GET, "/files/js/inc/framework.js", { route: "/files/:dir/*filepath", params: { dir: "js", filepath: "inc/framework.js" } }],
    [GET, "/info/gordon/public", { route: "/info/:user/public", params: { user: "gordon" } }],
    [GET, "/info/gordon/project/go", { route: "/info/:user/project/:project", params: { user: "gordon", project: "go" } }],
    [GET, "/doc/go1.html", { route: "/doc/go1.html" }],
    [GET, "/doc/go_faq.html", { route: "/doc/go_faq.html" }],
    [GET, "/doc/go2.html", null],
    [GET, "/info/gordon", null],
    [GET, "/user_", null], // a param value is never empty
    [GET, "/cmd//", null],
    [GET, "/nope", null],
    [GET, "", null],
    [GET, "*", null],
    ["POST", "/", null],
  ];
  checkTable(WILDCARD, cases);
});

test("backtracking at any depth falls through to a shallower catch-all", () => {
  const routes: RouteRow[] = [[GET, "/a/:b/c"], [GET, "/a/:b/d/e"], [GET, "/*x"]];
  checkTable(routes, [
    [GET, "/a/z/d", { route: "/*x", params: { x: "a/z/d" } }],
    [GET, "/a/z/c", { route: "/a/:b/c", params: { b: "z" } }],
    [GET, "/a/z/d/e", { route: "/a/:b/d/e", params: { b: "z" } }],
    [GET, "/a/z/d/f", { route: "/*x", params: { x: "a/z/d/f" } }],
    [GET, "/a/z/c/", { route: "/*x", params: { x: "a/z/c/" } }],
    [GET, "/a", { route: "/*x", params: { x: "a" } }],
    [GET, "/", { route: "/*x", params: { x: "" } }],
  ]);
});

test("priority: static beats :param beats *catchAll, backtracking between them", () => {
  const routes: RouteRow[] = [
    [GET, "/users/new"],
    [GET, "/users/:id"],
    [GET, "/users/:id/edit"],
    [GET, "/users/*rest"],
    [GET, "/static/favicon.ico"],
    [GET, "/static/:name"],
    [GET, "/static/*file"],
    [GET, "/v1/api"],
    [GET, "/v:version/api"],
    [GET, "/v:version/*rest"],
  ];
  checkTable(routes, [
    [GET, "/users/new", { route: "/users/new" }],
    [GET, "/users/newer", { route: "/users/:id", params: { id: "newer" } }],
    [GET, "/users/ne", { route: "/users/:id", params: { id: "ne" } }],
    [GET, "/users/42", { route: "/users/:id", params: { id: "42" } }],
    [GET, "/users/new/edit", { route: "/users/:id/edit", params: { id: "new" } }],
    [GET, "/users/42/edit", { route: "/users/:id/edit", params: { id: "42" } }],
    [GET, "/users/42/x", { route: "/users/*rest", params: { rest: "42/x" } }],
    [GET, "/users/new/x", { route: "/users/*rest", params: { rest: "new/x" } }],
    [GET, "/users/", { route: "/users/*rest", params: { rest: "" } }],
    [GET, "/static/favicon.ico", { route: "/static/favicon.ico" }],
    [GET, "/static/app.js", { route: "/static/:name", params: { name: "app.js" } }],
    [GET, "/static/js/app.js", { route: "/static/*file", params: { file: "js/app.js" } }],
    [GET, "/v1/api", { route: "/v1/api" }],
    [GET, "/v2/api", { route: "/v:version/api", params: { version: "2" } }],
    [GET, "/v2/other", { route: "/v:version/*rest", params: { version: "2", rest: "other" } }],
    [GET, "/v1/other", { route: "/v:version/*rest", params: { version: "1", rest: "other" } }],
    [GET, "/v1/apis", { route: "/v:version/*rest", params: { version: "1", rest: "apis" } }],
    [GET, "/v", null],
  ]);
});

test("different param names at the same position are allowed; names come from the route", () => {
  const routes: RouteRow[] = [[GET, "/u/:id"], [GET, "/u/:name/x"], [GET, "/u/:id/y/:z"], [GET, "/u/:uid/*rest"]];
  checkTable(routes, [
    [GET, "/u/1", { route: "/u/:id", params: { id: "1" } }],
    [GET, "/u/2/x", { route: "/u/:name/x", params: { name: "2" } }],
    [GET, "/u/3/y/4", { route: "/u/:id/y/:z", params: { id: "3", z: "4" } }],
    [GET, "/u/3/y", { route: "/u/:uid/*rest", params: { uid: "3", rest: "y" } }],
  ]);
});

test("catch-all: '/src' does not match '/src/*path' (a redirect does)", () => {
  const routes: RouteRow[] = [[GET, "/src/*path"], ["POST", "/up/*path"]];
  checkTable(routes, [
    [GET, "/src", { redirect: "/src/", status: 301 }],
    ["POST", "/up", { redirect: "/up/", status: 308 }],
    [GET, "/src/", { route: "/src/*path", params: { path: "" } }],
    [GET, "/src//", { route: "/src/*path", params: { path: "/" } }],
  ]);
  checkTable(routes, [[GET, "/src", null]], { redirectTrailingSlash: false });
});

test("custom methods get their own trees; method names are case-sensitive", () => {
  const routes: RouteRow[] = [["PURGE", "/cache/:key"], ["PROPFIND", "/dav/*path"], [GET, "/cache/:key"]];
  checkTable(routes, [
    ["PURGE", "/cache/abc", { route: "/cache/:key", params: { key: "abc" } }],
    ["PROPFIND", "/dav/a/b", { route: "/dav/*path", params: { path: "a/b" } }],
    ["PROPFIND", "/cache/abc", null],
    ["purge", "/cache/abc", null],
    ["get", "/cache/abc", null],
    [GET, "/cache/abc", { route: "/cache/:key", params: { key: "abc" } }],
  ]);
  const r = build(routes);
  const m = r.createMatch();
  const buf = Buffer.from("/cache/k");
  assert.is(r.find(METHOD_OTHER, "PURGE", buf, 0, buf.length, m)?.method, "PURGE");
  assert.is(r.find(METHOD_OTHER, "GET", buf, 0, buf.length, m)?.method, "GET");
  assert.is(r.find(METHOD_OTHER, undefined, buf, 0, buf.length, m), null);
  assert.is(m.kind, MatchKind.NOT_FOUND);
});

test("find() works on a byte range inside a larger buffer and reports offsets into it", () => {
  const r = new Router<string>();
  r.get("/repos/:owner/:repo/contents/*path", "h");
  r.post("/repos/:owner/:repo", "p");
  const buf = Buffer.from("GET /repos/nodejs/node/contents/lib/a%20b.js?ref=main HTTP/1.1\r\n", "latin1");
  const start = 4;
  const end = buf.indexOf("?");
  const out = new RouteMatch<string>(0); // too small on purpose: find grows it
  const route = r.find(METHOD_GET, undefined, buf, start, end, out);
  assert.ok(route);
  assert.is(out.kind, MatchKind.FOUND);
  assert.is(out.route, route);
  assert.is(route!.fullPath, "/repos/:owner/:repo/contents/*path");
  assert.equal(route!.paramNames, ["owner", "repo", "path"]);
  assert.equal(route!.handlers, ["h"]);
  assert.is(out.count, 3);
  assert.is(out.buf, buf);
  const values = [];
  for (let i = 0; i < out.count; i++) values.push(buf.toString("latin1", out.params[2 * i], out.params[2 * i + 1]));
  assert.equal(values, ["nodejs", "node", "lib/a%20b.js"]);
  assert.is(paramValue(buf, out.params[4]!, out.params[5]!, true), "lib/a b.js");
  assert.is(r.param(out, "path"), "lib/a b.js");
  assert.is(r.param(out, "nope"), undefined);
  assert.is(r.paramAt(out, 0), "nodejs");

  // The same match object is reused across lookups; each one resets what it reports.
  const buf2 = Buffer.from("/repos/a/b");
  assert.is(r.find(METHOD_POST, undefined, buf2, 0, buf2.length, out)?.fullPath, "/repos/:owner/:repo");
  assert.is(out.count, 2);
  assert.equal(r.params(out), { owner: "a", repo: "b" });
  assert.is(r.find(METHOD_GET, undefined, buf2, 0, buf2.length, out), null);
  assert.is(out.kind, MatchKind.NOT_FOUND);
  assert.is(out.route, null);
  assert.is(out.status, 404);
});

test("the outcome never depends on registration order (random permutations)", () => {
  const routes: RouteRow[] = [
    ...WILDCARD,
    [GET, "/a/:b/c"], [GET, "/a/:b/d/e"], [GET, "/a/*x"], [GET, "/a/b/:c"], [GET, "/a/b/c/d"],
    [GET, "/x/:y"], [GET, "/x/:y/z"], [GET, "/x/y/*rest"], [GET, "/x/yy"], [GET, "/x/y:z/w"],
    ["POST", "/a/:b/c"], ["POST", "/x/*all"],
  ];
  const probes = [
    "/a/b/c", "/a/b/c/d", "/a/b/c/e", "/a/q/d", "/a/q/d/e", "/a/b", "/a/b/", "/a", "/a/",
    "/x/y", "/x/yy", "/x/yyy", "/x/y/z", "/x/yz/w", "/x/y/zz", "/x/y/", "/x/", "/x",
    "/cmd/t", "/src", "/search", "/doc", "/user_x/about/", "/files/d", "/files/d/",
  ];
  const reference = build(routes);
  const want = probes.flatMap((p) => [outcome(reference, GET, p), outcome(reference, "POST", p)]);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 25; round++) {
    const shuffled = routes.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const r = build(shuffled);
    const got = probes.flatMap((p) => [outcome(r, GET, p), outcome(r, "POST", p)]);
    assert.equal(got, want, `permutation ${round}`);
  }
});

test("non-ASCII static text matches the percent-encoded UTF-8 a client sends", () => {
  checkTable([[GET, "/café/:x"]], [
    [GET, "/caf%C3%A9/1", { route: "/café/:x", params: { x: "1" } }],
  ]);
});

test.run();
