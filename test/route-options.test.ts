/**
 * Router options: trailing-slash and fixed-path redirects, 405 with Allow,
 * removeExtraSlash, allowedMethods. Every table runs in both registration orders.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MatchKind, METHOD_CONNECT, METHOD_GET } from "../src/route/index.js";
import { build, checkTable, type RouteRow } from "./route-helpers.js";

const TSR: RouteRow[] = [
  ["GET", "/"],
  ["GET", "/a/"],
  ["GET", "/b"],
  ["POST", "/a/"],
  ["PUT", "/b"],
  ["GET", "/c/:id/"],
  ["GET", "/d/:id"],
  ["GET", "/src/*path"],
  ["GET", "/x/y/z"],
  ["GET", "//evil.com"],
  ["CONNECT", "/tunnel/"],
];

test("redirectTrailingSlash (default on): 301 for GET/HEAD, 308 otherwise, query kept", () => {
  checkTable(TSR, [
    ["GET", "/a", { redirect: "/a/", status: 301 }],
    ["GET", "/b/", { redirect: "/b", status: 301 }],
    ["POST", "/a", { redirect: "/a/", status: 308 }],
    ["PUT", "/b/", { redirect: "/b", status: 308 }],
    ["GET", "/c/7", { redirect: "/c/7/", status: 301 }],
    ["GET", "/d/7/", { redirect: "/d/7", status: 301 }],
    ["GET", "/src", { redirect: "/src/", status: 301 }],
    ["GET", "/a?x=1&y=%20", { redirect: "/a/?x=1&y=%20", status: 301 }],
    ["GET", "/b/?", { redirect: "/b?", status: 301 }],
    ["GET", "/x/y", null], // only the slash may differ
    ["GET", "/x/y/z//", null],
    ["HEAD", "/a", null], // no HEAD tree at all: nothing to redirect to
    ["GET", "//evil.com/", null], // a Location of "//evil.com" would leave the site
    ["CONNECT", "/tunnel", null], // never for CONNECT
    ["GET", "/a/", { route: "/a/" }],
    ["GET", "/b", { route: "/b" }],
  ]);
  const r = build([["HEAD", "/h/"]]);
  const m = r.findString("HEAD", "/h");
  assert.is(m.kind, MatchKind.REDIRECT);
  assert.is(m.status, 301);
  const c = r.createMatch();
  const buf = Buffer.from("/tunnel");
  assert.is(build(TSR).find(METHOD_CONNECT, undefined, buf, 0, buf.length, c), null);
  assert.is(c.kind, MatchKind.NOT_FOUND);
});

test("redirectTrailingSlash off: misses stay misses", () => {
  checkTable(TSR, [
    ["GET", "/a", null],
    ["GET", "/b/", null],
    ["GET", "/src", null],
  ], { redirectTrailingSlash: false });
});

const FIXED: RouteRow[] = [
  ["GET", "/Users/:id"],
  ["GET", "/docs/Intro"],
  ["GET", "/docs/API/"],
  ["POST", "/Upload"],
  ["GET", "/files/*path"],
];

test("redirectFixedPath: cleaned, case-insensitive match redirects to the route's case", () => {
  checkTable(FIXED, [
    ["GET", "/users/Bob", { redirect: "/Users/Bob", status: 301 }],
    ["GET", "/DOCS/INTRO", { redirect: "/docs/Intro", status: 301 }],
    ["GET", "/a/../docs/intro", { redirect: "/docs/Intro", status: 301 }],
    ["GET", "//docs//./Intro", { redirect: "/docs/Intro", status: 301 }],
    ["GET", "/docs/intro/", { redirect: "/docs/Intro", status: 301 }],
    ["GET", "/docs/api", { redirect: "/docs/API/", status: 301 }],
    ["GET", "/docs/intro?q=1", { redirect: "/docs/Intro?q=1", status: 301 }],
    ["POST", "/upload", { redirect: "/Upload", status: 308 }],
    ["GET", "/FILES/A/B", { redirect: "/files/A/B", status: 301 }],
    ["GET", "/../../docs/Intro", { redirect: "/docs/Intro", status: 301 }],
    ["GET", "/docs/Intro", { route: "/docs/Intro" }],
    ["GET", "/docs/outro", null],
  ], { redirectFixedPath: true });
  checkTable(FIXED, [
    ["GET", "/users/Bob", null],
    ["GET", "/a/../docs/Intro", null],
  ]);
  // Without redirectTrailingSlash the fixed path must match as is.
  checkTable(FIXED, [
    ["GET", "/docs/intro/", null],
    ["GET", "/docs/intro", { redirect: "/docs/Intro", status: 301 }],
  ], { redirectFixedPath: true, redirectTrailingSlash: false });
});

const NOT_ALLOWED: RouteRow[] = [
  ["GET", "/x"],
  ["POST", "/x"],
  ["PURGE", "/x"],
  ["DELETE", "/y/:id"],
  ["GET", "/z"],
  ["PATCH", "/files/*path"],
];

test("handleMethodNotAllowed: 405 with a sorted Allow of registered methods", () => {
  checkTable(NOT_ALLOWED, [
    ["PUT", "/x", { allow: "GET, POST, PURGE" }],
    ["HEAD", "/x", { allow: "GET, POST, PURGE" }],
    ["PROPFIND", "/x", { allow: "GET, POST, PURGE" }],
    ["GET", "/y/1", { allow: "DELETE" }],
    ["GET", "/files/a", { allow: "PATCH" }],
    ["GET", "/y/", null],
    ["GET", "/nope", null],
    ["GET", "/z/", { redirect: "/z", status: 301 }], // a redirect comes first
    ["POST", "/x", { route: "/x" }],
  ], { handleMethodNotAllowed: true });
  checkTable(NOT_ALLOWED, [["PUT", "/x", null]]);
});

test("allowedMethods() for Allow headers and OPTIONS *", () => {
  for (const reverse of [false, true]) {
    const r = build(NOT_ALLOWED, undefined, reverse);
    const of = (p: string): string => {
      const b = Buffer.from(p);
      return r.allowedMethods(b, 0, b.length);
    };
    assert.is(of("/x"), "GET, POST, PURGE");
    assert.is(of("/y/9"), "DELETE");
    assert.is(of("/nope"), "");
    assert.is(of("*"), "DELETE, GET, PATCH, POST, PURGE");
  }
});

test("removeExtraSlash: repeated slashes collapse before the lookup, no redirect", () => {
  const routes: RouteRow[] = [["GET", "/a/b"], ["GET", "/p/:id/*rest"], ["GET", "/q/"]];
  checkTable(routes, [
    ["GET", "//a///b", { route: "/a/b" }],
    ["GET", "/p//7///x//y", { route: "/p/:id/*rest", params: { id: "7", rest: "x/y" } }],
    ["GET", "//q", { redirect: "/q/", status: 301 }],
    ["GET", "//q//?k=v", { route: "/q/" }],
    ["GET", "//q?k=v//", { redirect: "/q/?k=v//", status: 301 }],
    ["GET", "/a/b/./", null],
  ], { removeExtraSlash: true });
  checkTable(routes, [
    ["GET", "//a///b", null],
    ["GET", "/a//b", null],
  ]);
  // Offsets then point into the match's own buffer, not the request buffer.
  const r = build(routes, { removeExtraSlash: true });
  const buf = Buffer.from("GET //p//7//x HTTP/1.1");
  const out = r.createMatch();
  assert.ok(r.find(METHOD_GET, undefined, buf, 4, 13, out));
  assert.is.not(out.buf, buf);
  assert.equal(r.params(out), { id: "7", rest: "x" });
});

test.run();
