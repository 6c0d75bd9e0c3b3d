/**
 * Registration errors: thrown at once, with a stable code and a message that
 * names the path (both paths for a conflict).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ERR_ROUTE_CONFLICT,
  ERR_ROUTE_INVALID,
  ERR_ROUTE_METHOD_INVALID,
  ERR_ROUTE_OPTION_INVALID,
  RouteError,
  Router,
  type RouterOptions,
} from "../src/route/index.js";
import { thrown } from "./route-helpers.js";

const INVALID: [path: string, messagePart: string][] = [
  ["", "the path is empty"],
  ["user", "must begin with '/'"],
  ["user/:id", "must begin with '/'"],
  ["/user:", "param at 5 has no name"],
  ["/user/:/x", "param at 6 has no name"],
  ["/src/*", "catch-all at 5 has no name"],
  ["/:a:b", "holds two params"],
  ["/:a-:b", "holds two params"],
  ["/x/:a*b", "holds two params"],
  ["/src/*path/x", "must be the last segment"],
  ["/src*path", "must begin a segment"],
  ["/src/a*path", "must begin a segment"],
  ["/:file.json", "names use [A-Za-z0-9_-]"],
  ["/:id/:id", "is used twice"],
  ["/:id/*id", "is used twice"],
  ["/a?b=1", "cannot appear in a path"],
  ["/a b", "cannot appear in a path"],
  ["/a#frag", "cannot appear in a path"],
  ["/a\tb", "cannot appear in a path"],
];

test("invalid paths throw FARAD_ERR_ROUTE_INVALID naming the path", () => {
  for (const [path, part] of INVALID) {
    const err = thrown(() => new Router<string>().get(path, "h"));
    assert.instance(err, RouteError, path);
    assert.is(err.code, ERR_ROUTE_INVALID, path);
    assert.is(err.name, "RouteError");
    assert.ok(err.message.includes(JSON.stringify(path)), `${path}: ${err.message}`);
    assert.ok(err.message.includes(part), `${path}: ${err.message}`);
  }
});

test("accepted edge cases", () => {
  const r = new Router<string>();
  r.get("/user-:id_x", "h"); // '-' and '_' are name characters
  r.get("/src/*path", "h");
  r.get("/src/:file", "h"); // a param and a catch-all may share a position
  r.get("/src/static", "h");
  r.get("/u/:id", "h");
  r.get("/u/:name/x", "h"); // so may params of different names
  r.get("/a/", "h");
  r.get("/a", "h");
  r.get("//double", "h");
  assert.is(r.routes().length, 9);
});

test("duplicate routes throw FARAD_ERR_ROUTE_CONFLICT naming both routes", () => {
  const r = new Router<string>();
  r.get("/a/:id", "h");
  r.get("/static", "h");
  r.get("/files/*path", "h");
  r.post("/a/:id", "h"); // another method is not a duplicate
  const cases: [path: string, existing: string][] = [
    ["/a/:name", "/a/:id"], // same pattern: param names do not tell routes apart
    ["/a/:id", "/a/:id"],
    ["/static", "/static"],
    ["/files/*rest", "/files/*path"],
  ];
  for (const [path, existing] of cases) {
    const err = thrown(() => r.get(path, "h"));
    assert.is(err.code, ERR_ROUTE_CONFLICT, path);
    assert.ok(err.message.includes(`GET ${JSON.stringify(path)}`), err.message);
    assert.ok(err.message.includes(`GET ${JSON.stringify(existing)}`), err.message);
  }
  const g = r.group("/files");
  const err = thrown(() => g.get("/*x", "h"));
  assert.is(err.code, ERR_ROUTE_CONFLICT);
  assert.ok(err.message.includes('"/files/*x"') && err.message.includes('"/files/*path"'), err.message);
});

test("a conflicting any() registers nothing", () => {
  const r = new Router<string>();
  r.post("/x", "h");
  const before = r.routes();
  const err = thrown(() => r.any("/x", "h"));
  assert.is(err.code, ERR_ROUTE_CONFLICT);
  assert.equal(r.routes(), before);
  assert.is(r.findString("GET", "/x").route, null);
  const dup = thrown(() => r.addRoute(["GET", "GET"], "/y", ["h"]));
  assert.is(dup.code, ERR_ROUTE_CONFLICT);
  assert.ok(dup.message.includes("GET twice"), dup.message);
});

test("invalid method tokens throw FARAD_ERR_ROUTE_METHOD_INVALID", () => {
  for (const m of ["", "GE T", "GET\r\n", "PÜRGE", "(GET)"]) {
    const err = thrown(() => new Router<string>().handle(m, "/x", "h"));
    assert.is(err.code, ERR_ROUTE_METHOD_INVALID, JSON.stringify(m));
    assert.ok(err.message.includes('"/x"'), err.message);
  }
});

test("a route needs a handler", () => {
  const err = thrown(() => new Router<string>().get("/x"));
  assert.is(err.code, ERR_ROUTE_INVALID);
  assert.ok(err.message.includes('"/x"') && err.message.includes("no handler"), err.message);
});

test("group prefixes are validated", () => {
  const r = new Router<string>();
  for (const prefix of ["v1", "/files/*path"]) {
    const err = thrown(() => r.group(prefix));
    assert.is(err.code, ERR_ROUTE_INVALID, prefix);
    assert.ok(err.message.includes(JSON.stringify(prefix)), err.message);
  }
  const err = thrown(() => r.group("/v1").group("x"));
  assert.is(err.code, ERR_ROUTE_INVALID);
});

test("bad router options throw FARAD_ERR_ROUTE_OPTION_INVALID", () => {
  const bad: unknown[] = [{ redirectTrailingSlashes: true }, { handleMethodNotAllowed: "yes" }, 5];
  for (const o of bad) {
    const err = thrown(() => new Router<string>(o as RouterOptions));
    assert.is(err.code, ERR_ROUTE_OPTION_INVALID, JSON.stringify(o));
  }
  const ok = new Router<string>({ redirectTrailingSlash: undefined, unescapePathValues: false });
  assert.is(ok.redirectTrailingSlash, true);
  assert.is(ok.unescapePathValues, false);
});

test.run();
