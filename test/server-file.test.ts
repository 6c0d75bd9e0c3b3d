/**
 * ctx.file() on the wire: full responses and their headers, every Range
 * form, If-Range, the conditional requests (304, 412), HEAD with a pipelined
 * request behind it, Content-Type by extension, Content-Disposition, empty
 * and 100 MiB files, and a missing file.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { get, RawClient, requestOnce, type Response } from "./lib/raw-client.js";
import { startServer, watchdog, type TestServer } from "./lib/server.js";

watchdog(60_000);

const MiB = 1024 * 1024;
const DIGITS = "0123456789".repeat(10); // 100 bytes
const MTIME = new Date("2024-03-01T12:00:00Z");
const BIG = 100 * MiB;

let dir = "";
let s: TestServer;
let etag = "";
let lastModified = "";

/** Deterministic bytes for the large file: block i is filled with (i * 13) & 0xff. */
function* blocks(total: number, size = MiB): Generator<Buffer> {
  for (let sent = 0, i = 0; sent < total; i++) {
    const n = Math.min(size, total - sent);
    yield Buffer.alloc(n, (i * 13) & 0xff);
    sent += n;
  }
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), "farad-file-"));
  await writeFile(join(dir, "digits.txt"), DIGITS);
  await utimes(join(dir, "digits.txt"), MTIME, MTIME);
  await writeFile(join(dir, "empty.txt"), "");
  for (const name of ["a.css", "b.html", "c.png", "d.JSON", "e.xyz", "f.js", "noext"]) await writeFile(join(dir, name), "x");
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(join(dir, "big.bin"));
    out.on("error", reject);
    out.on("finish", resolve);
    (async () => {
      for (const b of blocks(BIG)) if (!out.write(b)) await new Promise<void>((r) => out.once("drain", () => r()));
      out.end();
    })().catch(reject);
  });
  s = await startServer((app) => {
    app.get("/f/:name", (ctx) => ctx.file(join(dir, ctx.param("name")!)));
    app.get("/dl/:name", (ctx) => ctx.file(join(dir, ctx.param("name")!), { download: true }));
    app.get("/dl-named", (ctx) => ctx.file(join(dir, "digits.txt"), { download: "résumé 2024.pdf" }));
    app.get("/cached", (ctx) => ctx.file(join(dir, "digits.txt"), { maxAge: 3600, immutable: true, contentType: "text/x-digits" }));
    app.get("/plain", (ctx) => ctx.file(join(dir, "digits.txt"), { etag: false, lastModified: false, ranges: false }));
  }, { writeTimeout: 20_000, handlerTimeout: 20_000 });
  const r = await requestOnce(s.port, get("/f/digits.txt"));
  etag = r.header("etag")!;
  lastModified = r.header("last-modified")!;
});

test.after(async () => {
  await s?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function req(path: string, headers = ""): Promise<Response> {
  return requestOnce(s.port, get(path, headers));
}

test("200 with the whole file and its headers", async () => {
  const r = await req("/f/digits.txt");
  assert.is(r.status, 200);
  assert.is(r.text(), DIGITS);
  assert.is(r.header("content-length"), "100");
  assert.is(r.header("content-type"), "text/plain; charset=utf-8");
  assert.is(r.header("accept-ranges"), "bytes");
  assert.is(r.header("last-modified"), MTIME.toUTCString());
  assert.match(etag, /^"[0-9a-f]+-64"$/, "strong ETag from mtime and size");
  assert.is(r.header("cache-control"), undefined, "no Cache-Control unless maxAge is given");
  assert.is(r.header("content-disposition"), undefined);
  const c = await req("/cached");
  assert.is(c.header("cache-control"), "max-age=3600, immutable");
  assert.is(c.header("content-type"), "text/x-digits");
  const p = await req("/plain", "Range: bytes=0-1\r\n");
  assert.is(p.status, 200, "ranges: false ignores Range");
  assert.is(p.header("etag"), undefined);
  assert.is(p.header("last-modified"), undefined);
  assert.is(p.header("accept-ranges"), undefined);
  assert.is(p.text(), DIGITS);
});

test("Range: a-b, a-, -n, an end past the file clamped", async () => {
  const cases: [string, number, number][] = [
    ["bytes=0-9", 0, 9],
    ["bytes=10-19", 10, 19],
    ["bytes=90-", 90, 99],
    ["bytes=-5", 95, 99],
    ["bytes=-500", 0, 99],
    ["bytes=95-1000", 95, 99],
    ["bytes=99-99", 99, 99],
  ];
  for (const [range, a, b] of cases) {
    const r = await req("/f/digits.txt", `Range: ${range}\r\n`);
    assert.is(r.status, 206, range);
    assert.is(r.header("content-range"), `bytes ${a}-${b}/100`, range);
    assert.is(r.header("content-length"), String(b - a + 1), range);
    assert.is(r.text(), DIGITS.slice(a, b + 1), range);
  }
});

test("Range: unsatisfiable is a 416 with Content-Range */size; several ranges or junk are served whole", async () => {
  for (const range of ["bytes=100-", "bytes=500-600", "bytes=-0"]) {
    const r = await req("/f/digits.txt", `Range: ${range}\r\n`);
    assert.is(r.status, 416, range);
    assert.is(r.header("content-range"), "bytes */100", range);
    assert.is(r.body.length, 0, range);
  }
  for (const range of ["bytes=0-1,5-6", "items=0-5", "bytes=5-2", "bytes=x-y", "bytes=-"]) {
    const r = await req("/f/digits.txt", `Range: ${range}\r\n`);
    assert.is(r.status, 200, range);
    assert.is(r.header("content-range"), undefined, range);
    assert.is(r.text(), DIGITS, range);
  }
});

test("If-Range: a matching ETag or date applies the range; anything else serves the whole file", async () => {
  const match = await req("/f/digits.txt", `Range: bytes=0-4\r\nIf-Range: ${etag}\r\n`);
  assert.is(match.status, 206);
  assert.is(match.text(), "01234");
  const other = await req("/f/digits.txt", `Range: bytes=0-4\r\nIf-Range: "other"\r\n`);
  assert.is(other.status, 200);
  assert.is(other.text(), DIGITS);
  // Weak validators never match If-Range (strong comparison, RFC 9110 §13.1.5).
  const weak = await req("/f/digits.txt", `Range: bytes=0-4\r\nIf-Range: W/${etag}\r\n`);
  assert.is(weak.status, 200);
  const date = await req("/f/digits.txt", `Range: bytes=0-4\r\nIf-Range: ${lastModified}\r\n`);
  assert.is(date.status, 206);
  const oldDate = await req("/f/digits.txt", `Range: bytes=0-4\r\nIf-Range: ${new Date(MTIME.getTime() - 86400_000).toUTCString()}\r\n`);
  assert.is(oldDate.status, 200);
  assert.is(oldDate.text(), DIGITS);
});

test("If-None-Match: 304 without a body, ETag kept; a list, *, and a non-matching tag", async () => {
  for (const inm of [etag, `"zzz", ${etag}`, `W/${etag}`, "*"]) {
    const r = await req("/f/digits.txt", `If-None-Match: ${inm}\r\n`);
    assert.is(r.status, 304, inm);
    assert.is(r.body.length, 0, inm);
    assert.is(r.header("etag"), etag, inm);
    assert.is(r.header("content-length"), undefined, inm);
  }
  const miss = await req("/f/digits.txt", `If-None-Match: "zzz"\r\n`);
  assert.is(miss.status, 200);
  assert.is(miss.text(), DIGITS);
});

test("If-Modified-Since: 304 when not modified since; If-None-Match takes precedence", async () => {
  const same = await req("/f/digits.txt", `If-Modified-Since: ${lastModified}\r\n`);
  assert.is(same.status, 304);
  assert.is(same.body.length, 0);
  const later = await req("/f/digits.txt", `If-Modified-Since: ${new Date(MTIME.getTime() + 60_000).toUTCString()}\r\n`);
  assert.is(later.status, 304);
  const earlier = await req("/f/digits.txt", `If-Modified-Since: ${new Date(MTIME.getTime() - 60_000).toUTCString()}\r\n`);
  assert.is(earlier.status, 200);
  const junk = await req("/f/digits.txt", "If-Modified-Since: yesterday\r\n");
  assert.is(junk.status, 200);
  const both = await req("/f/digits.txt", `If-None-Match: "zzz"\r\nIf-Modified-Since: ${lastModified}\r\n`);
  assert.is(both.status, 200, "If-None-Match decides when present (RFC 9110 §13.1.3)");
});

test("If-Match and If-Unmodified-Since: 412 when they fail, 200 when they hold", async () => {
  const fail = await req("/f/digits.txt", `If-Match: "zzz"\r\n`);
  assert.is(fail.status, 412);
  assert.is(fail.body.length, 0);
  assert.is((await req("/f/digits.txt", `If-Match: ${etag}\r\n`)).status, 200);
  assert.is((await req("/f/digits.txt", `If-Match: "a", ${etag}\r\n`)).status, 200);
  assert.is((await req("/f/digits.txt", "If-Match: *\r\n")).status, 200);
  const before = new Date(MTIME.getTime() - 60_000).toUTCString();
  assert.is((await req("/f/digits.txt", `If-Unmodified-Since: ${before}\r\n`)).status, 412);
  assert.is((await req("/f/digits.txt", `If-Unmodified-Since: ${lastModified}\r\n`)).status, 200);
  // If-Match present: If-Unmodified-Since is not evaluated (RFC 9110 §13.2.2).
  assert.is((await req("/f/digits.txt", `If-Match: ${etag}\r\nIf-Unmodified-Since: ${before}\r\n`)).status, 200);
  // A precondition fails before a Range is considered.
  assert.is((await req("/f/digits.txt", `If-Match: "zzz"\r\nRange: bytes=0-1\r\n`)).status, 412);
});

test("HEAD: the headers of the GET, no body, and a pipelined request behind it stays in step", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write("HEAD /f/digits.txt HTTP/1.1\r\nHost: t\r\n\r\n" + get("/f/digits.txt", "Range: bytes=0-2\r\n") + "HEAD /f/big.bin HTTP/1.1\r\nHost: t\r\n\r\n" + get("/f/a.css"));
    const head = await c.readResponse({ head: true });
    assert.is(head.status, 200);
    assert.is(head.header("content-length"), "100");
    assert.is(head.header("etag"), etag);
    assert.is(head.body.length, 0);
    const ranged = await c.readResponse();
    assert.is(ranged.status, 206);
    assert.is(ranged.text(), "012");
    const bigHead = await c.readResponse({ head: true });
    assert.is(bigHead.header("content-length"), String(BIG));
    const css = await c.readResponse();
    assert.is(css.text(), "x");
    assert.is(c.buffered.length, 0, "no stray body bytes after a HEAD");
  } finally {
    c.destroy();
  }
});

test("Content-Type by extension (case-insensitive), octet-stream otherwise", async () => {
  const want: Record<string, string> = {
    "a.css": "text/css; charset=utf-8",
    "b.html": "text/html; charset=utf-8",
    "c.png": "image/png",
    "d.JSON": "application/json; charset=utf-8",
    "e.xyz": "application/octet-stream",
    "f.js": "text/javascript; charset=utf-8",
    noext: "application/octet-stream",
  };
  for (const [name, type] of Object.entries(want)) assert.is((await req(`/f/${name}`)).header("content-type"), type, name);
});

test("download: Content-Disposition with the file's name, and an ASCII fallback plus filename* for a non-ASCII name", async () => {
  assert.is((await req("/dl/digits.txt")).header("content-disposition"), 'attachment; filename="digits.txt"');
  const r = await req("/dl-named");
  assert.is(r.header("content-disposition"), `attachment; filename="r_sum_ 2024.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf`);
  assert.is(r.text(), DIGITS);
});

test("an empty file: 200 with Content-Length 0; a range on it is unsatisfiable or ignored", async () => {
  const r = await req("/f/empty.txt");
  assert.is(r.status, 200);
  assert.is(r.header("content-length"), "0");
  assert.is(r.body.length, 0);
  const from = await req("/f/empty.txt", "Range: bytes=0-\r\n");
  assert.is(from.status, 416);
  assert.is(from.header("content-range"), "bytes */0");
  // A suffix range of an empty file has no bytes to select and no valid
  // Content-Range to describe them: the file is served whole.
  const suffix = await req("/f/empty.txt", "Range: bytes=-5\r\n");
  assert.is(suffix.status, 200);
  assert.is(suffix.header("content-range"), undefined);
  assert.is(suffix.header("content-length"), "0");
});

test("a 100 MiB file arrives intact (sha256), also as a range", async () => {
  const want = createHash("sha256");
  for (const b of blocks(BIG)) want.update(b);
  const res = await fetch(`http://127.0.0.1:${s.port}/f/big.bin`);
  assert.is(res.status, 200);
  assert.is(res.headers.get("content-length"), String(BIG));
  const h = createHash("sha256");
  let n = 0;
  for await (const chunk of res.body!) {
    h.update(chunk);
    n += chunk.length;
  }
  assert.is(n, BIG);
  assert.is(h.digest("hex"), want.digest("hex"));
  // The last 3 bytes (block 99).
  const tail = await req("/f/big.bin", `Range: bytes=${BIG - 3}-\r\n`);
  assert.is(tail.status, 206);
  assert.equal([...tail.body], [(99 * 13) & 0xff, (99 * 13) & 0xff, (99 * 13) & 0xff]);
  const across = await req("/f/big.bin", `Range: bytes=${MiB - 1}-${MiB}\r\n`);
  assert.equal([...across.body], [0, 13], "a range across a block boundary");
  assert.is((await stat(join(dir, "big.bin"))).size, BIG);
});

test("a missing file is a 404, the connection kept", async () => {
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/f/nope.txt") + get("/f/digits.txt"));
    const [miss, ok] = await c.readResponses(2);
    assert.is(miss!.status, 404);
    assert.is(miss!.header("connection"), undefined);
    assert.is(ok!.text(), DIGITS);
  } finally {
    c.destroy();
  }
});

test.run();
