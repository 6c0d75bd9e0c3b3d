/**
 * serveStatic() on the wire: index files, dotfile policies, every way out of
 * the root we know of (sent as raw bytes, so no client normalizes them),
 * symlinks, fallthrough, the trailing-slash redirect, methods, mounting
 * (global, catch-all route, prefix), and cache headers.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { serveStatic } from "../src/index.js";
import { get, requestOnce, RawClient, type Response } from "./lib/raw-client.js";
import { startServer, watchdog, type TestServer } from "./lib/server.js";

watchdog(30_000);

const SECRET = "TOP SECRET";
let base = "";
let root = "";
let outside = "";
/** app.use(serveStatic(root)) with defaults, before an /api route. */
let global: TestServer;
/** app.get("/static/*path", serveStatic(root)). */
let catchAll: TestServer;
/** app.use(serveStatic(root, { prefix: "/assets", fallthrough: false, dotfiles: "deny", ... })). */
let prefixed: TestServer;
/** Other options, one route each. */
let other: TestServer;

test.before(async () => {
  base = await mkdtemp(join(tmpdir(), "farad-static-"));
  root = join(base, "public");
  outside = join(base, "outside");
  await mkdir(join(root, "sub"), { recursive: true });
  await mkdir(join(root, "noindex"));
  await mkdir(join(root, ".hidden"));
  await mkdir(join(root, "multi"));
  await mkdir(outside);
  await writeFile(join(outside, "secret.txt"), SECRET);
  await writeFile(join(root, "index.html"), "<h1>home</h1>");
  await writeFile(join(root, "hello.txt"), "hello");
  await writeFile(join(root, "café.txt"), "cafe");
  await writeFile(join(root, ".secret"), "dot");
  await writeFile(join(root, ".hidden", "file.txt"), "hidden");
  await writeFile(join(root, "sub", "index.html"), "sub index");
  await writeFile(join(root, "noindex", "a.txt"), "a");
  await writeFile(join(root, "multi", "default.htm"), "default");
  await writeFile(join(root, "multi", "index.html"), "index");
  await symlink(join(outside, "secret.txt"), join(root, "link-out"));
  await symlink(outside, join(root, "dirlink-out"));
  await symlink("hello.txt", join(root, "link-in"));
  await symlink("sub", join(root, "dirlink-in"));

  global = await startServer((app) => {
    app.use(serveStatic(root));
    app.get("/api/x", (ctx) => ctx.string(200, "api"));
    app.post("/hello.txt", (ctx) => ctx.string(200, "posted"));
  });
  catchAll = await startServer((app) => {
    app.get("/static/*path", serveStatic(root));
  });
  prefixed = await startServer((app) => {
    app.use(serveStatic(root, { prefix: "/assets/", fallthrough: false, dotfiles: "deny", maxAge: 86400, immutable: true }));
    app.get("/elsewhere", (ctx) => ctx.string(200, "elsewhere"));
  });
  other = await startServer((app) => {
    app.get("/follow/*p", serveStatic(root, { followSymlinks: true }));
    app.get("/allow/*p", serveStatic(root, { dotfiles: "allow" }));
    app.get("/noidx/*p", serveStatic(root, { index: false }));
    app.get("/order/*p", serveStatic(root, { index: ["default.htm", "index.html"] }));
    app.get("/noredirect/*p", serveStatic(root, { redirect: false }));
    app.get("/novalidators/*p", serveStatic(root, { etag: false, lastModified: false }));
    app.get("/last/*p", serveStatic(root, { fallthrough: true }));
  });
});

test.after(async () => {
  for (const s of [global, catchAll, prefixed, other]) await s?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

/** One request with exactly these target bytes. */
function raw(s: TestServer, target: string, method = "GET", extra = ""): Promise<Response> {
  return requestOnce(s.port, `${method} ${target} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`, { head: method === "HEAD" });
}

test("files, the index of / and of a directory, UTF-8 names, HEAD, ranges", async () => {
  const home = await raw(global, "/");
  assert.is(home.status, 200);
  assert.is(home.text(), "<h1>home</h1>");
  assert.is(home.header("content-type"), "text/html; charset=utf-8");
  assert.is((await raw(global, "/hello.txt")).text(), "hello");
  assert.is((await raw(global, "/index.html")).text(), "<h1>home</h1>");
  assert.is((await raw(global, "/sub/")).text(), "sub index");
  assert.is((await raw(global, "/caf%C3%A9.txt")).text(), "cafe");
  assert.is((await raw(global, "/hello%2etxt")).text(), "hello", "an encoded dot inside a name is just a dot");
  const head = await raw(global, "/hello.txt", "HEAD");
  assert.is(head.status, 200);
  assert.is(head.header("content-length"), "5");
  const range = await raw(global, "/hello.txt", "GET", "Range: bytes=1-2\r\n");
  assert.is(range.status, 206);
  assert.is(range.text(), "el");
  assert.is((await raw(global, "/link-in")).text(), "hello", "a symlink inside the root is served");
  assert.is((await raw(global, "/dirlink-in/")).text(), "sub index");
});

test("index: false serves no index; a list is tried in order", async () => {
  assert.is((await raw(other, "/noidx/")).status, 404);
  assert.is((await raw(other, "/noidx/sub/")).status, 404);
  assert.is((await raw(other, "/noidx/hello.txt")).text(), "hello");
  assert.is((await raw(other, "/order/multi/")).text(), "default");
  assert.is((await raw(other, "/order/sub/")).text(), "sub index");
});

test("a directory without its trailing slash: 301 to it (query kept) when it has an index; 404 when not", async () => {
  const r = await raw(global, "/sub");
  assert.is(r.status, 301);
  assert.is(r.header("location"), "/sub/");
  const q = await raw(global, "/sub?a=1&b=2");
  assert.is(q.header("location"), "/sub/?a=1&b=2");
  assert.is((await raw(global, "/noindex")).status, 404);
  assert.is((await raw(global, "/noindex/")).status, 404, "no directory listings");
  assert.is((await raw(global, "/hello.txt/")).status, 404, "a file asked for as a directory");
  assert.is((await raw(catchAll, "/static/sub")).header("location"), "/static/sub/");
  assert.is((await raw(prefixed, "/assets")).header("location"), "/assets/", "the prefix root itself");
  assert.is((await raw(other, "/noredirect/sub")).status, 404, "redirect: false");
  // A protocol-relative Location would be an open redirect.
  const open = await raw(global, "//sub");
  assert.ok(open.status === 404 && open.header("location") === undefined, `//sub: ${open.status} ${open.header("location")}`);
});

test("dotfiles: ignored (404) by default, 403 with deny, served with allow", async () => {
  for (const p of ["/.secret", "/.hidden/file.txt", "/.hidden/", "/%2esecret"]) {
    assert.is((await raw(global, p)).status, 404, p);
    assert.is((await raw(prefixed, "/assets" + p)).status, 403, p);
  }
  assert.is((await raw(other, "/allow/.secret")).text(), "dot");
  assert.is((await raw(other, "/allow/.hidden/file.txt")).text(), "hidden");
});

const ESCAPES = [
  "/../outside/secret.txt",
  "/sub/../../outside/secret.txt",
  "/./hello.txt",
  "/%2e%2e/outside/secret.txt",
  "/%2E%2E/outside/secret.txt",
  "/.%2e/outside/secret.txt",
  "/%2e./outside/secret.txt",
  "/sub/%2e%2e/%2e%2e/outside/secret.txt",
  "/%2e%2e%2foutside%2fsecret.txt",
  "/..%2foutside%2fsecret.txt",
  "/..%2Foutside%2Fsecret.txt",
  "/sub%2f..%2f..%2foutside/secret.txt",
  "/..%5coutside%5csecret.txt",
  "/..%5Coutside%5Csecret.txt",
  "/..\\outside\\secret.txt",
  "/sub\\..\\..\\outside\\secret.txt",
  "/%252e%252e/outside/secret.txt",
  "/%252e%252e%252foutside%252fsecret.txt",
  "/%25%32%65%25%32%65/outside/secret.txt",
  "/hello.txt%00",
  "/hello.txt%00.png",
  "/%00/../outside/secret.txt",
  "/%c0%ae%c0%ae/outside/secret.txt",
  "/%e0%80%ae%e0%80%ae/outside/secret.txt",
  "//outside/secret.txt",
  "/%2foutside/secret.txt",
  "/%2f%2e%2e/outside/secret.txt",
  "/hello.txt/..",
  "/%",
  "/%zz",
  "/%2",
];

test("every escape from the root is refused with a 404 (never a 500, never the file): global, catch-all and prefix mounts", async () => {
  const absolute = `/${outside.slice(1)}/secret.txt`; // "/tmp/.../outside/secret.txt" below the root
  for (const p of [...ESCAPES, absolute, `/${"/".repeat(3)}${outside.slice(1)}/secret.txt`]) {
    for (const [s, target] of [
      [global, p],
      [catchAll, "/static" + p],
      [prefixed, "/assets" + p],
    ] as const) {
      const r = await raw(s, target);
      assert.is(r.status, 404, target);
      assert.not.ok(r.text().includes(SECRET), `${target}: leaked the file`);
    }
  }
});

test("a refusal says nothing about what exists outside: the same answer for a file there and a missing one", async () => {
  for (const tpl of ["/%2e%2e/outside/NAME", "/..%2foutside%2fNAME", "/%252e%252e/outside/NAME"]) {
    const there = await raw(global, tpl.replace("NAME", "secret.txt"));
    const missing = await raw(global, tpl.replace("NAME", "nope.txt"));
    assert.is(there.status, missing.status, tpl);
    assert.is(there.text(), missing.text(), tpl);
  }
});

test("symlinks leading outside the root: refused by default (file and directory), served with followSymlinks: true", async () => {
  for (const p of ["/link-out", "/dirlink-out/secret.txt"]) {
    const r = await raw(global, p);
    assert.is(r.status, 404, p);
    assert.not.ok(r.text().includes(SECRET));
    assert.is((await raw(catchAll, "/static" + p)).status, 404, p);
  }
  assert.is((await raw(other, "/follow/link-out")).text(), SECRET);
  assert.is((await raw(other, "/follow/dirlink-out/secret.txt")).text(), SECRET);
  // Still no way out by path, with followSymlinks either.
  assert.is((await raw(other, "/follow/%2e%2e/outside/secret.txt")).status, 404);
});

test("fallthrough: a miss runs the next handler (routes, then the app's 404); false answers 404 itself", async () => {
  assert.is((await raw(global, "/api/x")).text(), "api");
  const nf = await raw(global, "/nope.txt");
  assert.is(nf.status, 404);
  assert.is((await raw(prefixed, "/assets/nope.txt")).status, 404);
  assert.is((await raw(prefixed, "/elsewhere")).text(), "elsewhere", "outside the prefix: not ours");
  assert.is((await raw(prefixed, "/assetsx/hello.txt")).status, 404, "a prefix matches whole segments only");
  assert.is((await raw(other, "/last/nope")).status, 404, "last in its chain: nothing to fall through to");
});

test("methods: only GET and HEAD are served; others fall through, or get 405 with Allow when fallthrough is false", async () => {
  assert.is((await raw(global, "/hello.txt", "POST", "Content-Length: 0\r\n")).text(), "posted");
  assert.is((await raw(global, "/index.html", "DELETE")).status, 404);
  const r = await raw(prefixed, "/assets/hello.txt", "POST", "Content-Length: 0\r\n");
  assert.is(r.status, 405);
  assert.is(r.header("allow"), "GET, HEAD");
  assert.is((await raw(prefixed, "/assets/hello.txt", "HEAD")).status, 200);
});

test("cache headers: max-age=0 by default, maxAge and immutable; ETag and Last-Modified give 304s; both can be off", async () => {
  const d = await raw(global, "/hello.txt");
  assert.is(d.header("cache-control"), "max-age=0");
  const etag = d.header("etag")!;
  assert.ok(etag && d.header("last-modified"));
  const p = await raw(prefixed, "/assets/hello.txt");
  assert.is(p.text(), "hello");
  assert.is(p.header("cache-control"), "max-age=86400, immutable");
  const n = await raw(global, "/hello.txt", "GET", `If-None-Match: ${etag}\r\n`);
  assert.is(n.status, 304);
  assert.is(n.body.length, 0);
  const ims = await raw(global, "/hello.txt", "GET", `If-Modified-Since: ${d.header("last-modified")}\r\n`);
  assert.is(ims.status, 304);
  const off = await raw(other, "/novalidators/hello.txt");
  assert.is(off.header("etag"), undefined);
  assert.is(off.header("last-modified"), undefined);
});

test("keep-alive stays in step across hits, misses, refusals and redirects on one connection", async () => {
  const c = await RawClient.connect(global.port);
  try {
    await c.write(get("/hello.txt") + get("/%2e%2e/outside/secret.txt") + get("/sub") + get("/nope") + get("/sub/"));
    const rs = await c.readResponses(5);
    assert.equal(
      rs.map((r) => r.status),
      [200, 404, 301, 404, 200],
    );
    assert.is(rs[4]!.text(), "sub index");
  } finally {
    c.destroy();
  }
});

test("no error was logged", () => {
  for (const s of [global, catchAll, prefixed, other]) assert.equal(s.logs, []);
});

test.run();
