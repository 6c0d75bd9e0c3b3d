/**
 * Param values: from bytes to strings, percent-decoding as UTF-8, and the
 * raw fallback for malformed input.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { paramValue, Router } from "../src/route/index.js";

function value(bytes: string | Uint8Array, unescape = true): string {
  const b = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
  // Embed the value in a larger buffer to check the offsets are honoured.
  const buf = new Uint8Array(b.length + 6);
  buf.set(Buffer.from("xyz", "latin1"), 0);
  buf.set(b, 3);
  buf.set(Buffer.from("%%%", "latin1"), 3 + b.length);
  return paramValue(buf, 3, 3 + b.length, unescape);
}

const UNESCAPE: [raw: string, decoded: string][] = [
  ["plain", "plain"],
  ["", ""],
  ["a%2Fb", "a/b"],
  ["a%2fb", "a/b"],
  ["caf%C3%A9", "café"],
  ["caf%c3%a9", "café"],
  ["caf%C3%A9%20bar", "café bar"],
  ["%F0%9F%98%80", "😀"],
  ["a+b", "a+b"], // '+' means space only in query strings
  ["%25", "%"],
  ["%2525", "%25"], // decoded once
  ["%", "%"], // malformed: raw
  ["a%", "a%"],
  ["a%2", "a%2"],
  ["%G1", "%G1"],
  ["ok%20then%ZZ", "ok%20then%ZZ"], // one bad escape leaves the whole value raw
  ["%FF", "%FF"], // decodes to invalid UTF-8: raw
  ["%C3", "%C3"],
  ["%C3%28", "%C3%28"],
  ["x".repeat(23), "x".repeat(23)],
  ["y".repeat(40), "y".repeat(40)],
  ["%41".repeat(30), "A".repeat(30)],
];

test("paramValue with unescape", () => {
  for (const [raw, decoded] of UNESCAPE) assert.is(value(raw), decoded, raw);
});

test("paramValue without unescape returns the bytes as they came", () => {
  for (const [raw] of UNESCAPE) assert.is(value(raw, false), raw, raw);
});

test("raw non-ASCII bytes: UTF-8 when valid, else one char per byte", () => {
  assert.is(value(Buffer.from("café", "utf8")), "café");
  assert.is(value(Buffer.from("café", "utf8"), false), "café");
  assert.is(value(new Uint8Array([0x61, 0xff, 0x62])), "a\u00ffb");
  assert.is(value(new Uint8Array([0xe9, 0x25, 0x32, 0x30])), "\u00e9%20"); // raw invalid UTF-8 and an escape
  assert.is(value(Buffer.from("é%20x", "utf8")), "é x");
});

test("every length decodes like Buffer latin1", () => {
  const src = Buffer.from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "latin1");
  for (let n = 0; n <= src.length; n++) {
    assert.is(paramValue(src, 5, 5 + Math.min(n, src.length - 5), true), src.toString("latin1", 5, 5 + Math.min(n, src.length - 5)));
  }
});

test("the router's unescapePathValues option drives param()/params()", () => {
  for (const unescape of [true, false]) {
    const r = new Router<string>({ unescapePathValues: unescape });
    r.get("/f/:name/*rest", "h");
    const m = r.findString("GET", "/f/a%2Fb%20c/d%2F%C3%A9/e");
    assert.equal(r.params(m), unescape
      ? { name: "a/b c", rest: "d/é/e" }
      : { name: "a%2Fb%20c", rest: "d%2F%C3%A9/e" });
  }
});

test("%2F inside a param does not split segments", () => {
  const r = new Router<string>();
  r.get("/files/:name", "one");
  r.get("/files/:dir/:name", "two");
  const m = r.findString("GET", "/files/a%2Fb");
  assert.is(m.route?.fullPath, "/files/:name");
  assert.is(r.param(m, "name"), "a/b");
});

test.run();
