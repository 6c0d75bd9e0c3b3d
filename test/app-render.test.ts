/**
 * Rendering helpers on RequestContext: redirect, noContent, request cookies,
 * Set-Cookie (attributes, validation, several on the wire), ETags and
 * conditional GET (If-None-Match, If-Modified-Since, 304), etagOf, and
 * json() with a response schema.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { etagOf, Server, Type, type CookieOptions, type RequestContext } from "../src/index.js";
import { get, requestOnce } from "./lib/raw-client.js";
import { startServer, watchdog } from "./lib/server.js";

watchdog(20_000);

/** handlerTimeout 0: see test/app-bind.test.ts (the deadline timer outlives inject()). */
function newApp(): Server {
  return new Server({ handlerTimeout: 0, logger: { error() {} } });
}

/** Runs `fn` as a GET handler; resolves to the response, or to the error it threw as `{ code, message }`. */
async function run(fn: (ctx: RequestContext) => void, headers: Record<string, string | string[]> = {}, method = "GET") {
  const app = newApp();
  let thrown: { code: string; message: string } | null = null;
  app.handle(method, "/x", (ctx) => {
    try {
      fn(ctx);
    } catch (e) {
      thrown = { code: (e as { code: string }).code, message: (e as Error).message };
      ctx.string(599, "threw");
    }
  });
  const res = await app.inject({ method, url: "/x", headers });
  return { res, thrown: thrown as { code: string; message: string } | null };
}

// ------------------------------------------------------------ redirect, noContent

test("redirect: each allowed code sets Location and sends no body", async () => {
  for (const code of [301, 302, 303, 307, 308]) {
    const { res } = await run((ctx) => ctx.redirect(code, "/next?a=1"));
    assert.is(res.status, code);
    assert.is(res.headers.location, "/next?a=1");
    assert.is(res.body.length, 0);
    assert.is(res.headers["content-length"], "0");
  }
});

test("redirect: other codes throw FARAD_ERR_INVALID_STATUS", async () => {
  for (const code of [200, 300, 304, 305, 306, 309, 404, 301.5]) {
    const { thrown } = await run((ctx) => ctx.redirect(code, "/a"));
    assert.is(thrown?.code, "FARAD_ERR_INVALID_STATUS", String(code));
  }
});

test("redirect: CR, LF or NUL in the location throws; spaces and non-ASCII are percent-encoded, %XX kept", async () => {
  for (const bad of ["/a\r\nSet-Cookie: x=1", "/a\nb", "/a\rb", "/a\0b", ""]) {
    const { thrown } = await run((ctx) => ctx.redirect(302, bad));
    assert.is(thrown?.code, "FARAD_ERR_INVALID_HEADER", JSON.stringify(bad));
  }
  const { res } = await run((ctx) => ctx.redirect(302, "/café au lait?q=%20x"));
  assert.is(res.headers.location, "/caf%C3%A9%20au%20lait?q=%20x");
  const abs = await run((ctx) => ctx.redirect(301, "https://example.com/ü"));
  assert.is(abs.res.headers.location, "https://example.com/%C3%BC");
});

test("noContent: 204 without body, Content-Length or Content-Type; headers kept", async () => {
  const { res } = await run((ctx) => {
    ctx.setHeader("X-Kept", "1");
    ctx.noContent();
  });
  assert.is(res.status, 204);
  assert.is(res.body.length, 0);
  assert.is(res.headers["content-length"], undefined);
  assert.is(res.headers["content-type"], undefined);
  assert.is(res.headers["x-kept"], "1");
});

// ------------------------------------------------------------ request cookies

test("cookie(): parsed once per request, RFC 6265 pairs, quoted values, first of a name wins", async () => {
  let seen: unknown[] = [];
  await run(
    (ctx) => {
      seen = [ctx.cookie("a"), ctx.cookie("b"), ctx.cookie("c"), ctx.cookie("d"), ctx.cookie("e"), ctx.cookie("missing"), ctx.cookie("flag")];
      ctx.noContent();
    },
    { cookie: ['a=1; b="two"; a=shadowed;c=x=y', " d = spaced ;e=;flag"] },
  );
  assert.equal(seen, ["1", "two", "x=y", "spaced", "", undefined, undefined]);
});

test("cookie(): no Cookie header, and values are not percent-decoded", async () => {
  const none = await run((ctx) => ctx.string(200, String(ctx.cookie("a"))));
  assert.is(none.res.text(), "undefined");
  const raw = await run((ctx) => ctx.string(200, String(ctx.cookie("a"))), { cookie: "a=caf%C3%A9" });
  assert.is(raw.res.text(), "caf%C3%A9");
});

// ------------------------------------------------------------ Set-Cookie

test("setCookie: every attribute, in a fixed order; several Set-Cookie headers", async () => {
  const expires = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
  const { res } = await run((ctx) => {
    ctx.setCookie("sid", "abc123", { maxAge: 3600.9, expires, domain: "example.com", path: "/app", secure: true, httpOnly: true, sameSite: "None", partitioned: true, priority: "High" });
    ctx.setCookie("plain", "v");
    ctx.setCookie("q", '"quoted"', { sameSite: "Lax" });
    ctx.noContent();
  });
  assert.equal(res.headers["set-cookie"], [
    "sid=abc123; Max-Age=3600; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Domain=example.com; Path=/app; HttpOnly; Secure; Partitioned; Priority=High; SameSite=None",
    "plain=v; Path=/",
    'q="quoted"; Path=/; SameSite=Lax',
  ]);
});

test("setCookie: invalid names, values and attributes throw FARAD_ERR_INVALID_COOKIE", async () => {
  const cases: [string, string, CookieOptions?][] = [
    ["", "v"],
    ["a b", "v"],
    ["a;b", "v"],
    ["a=b", "v"],
    ["ü", "v"],
    ["a", "x y"],
    ["a", "x;y"],
    ["a", "x,y"],
    ["a", 'x"y'],
    ["a", "x\\y"],
    ["a", "é"],
    ["a", "x\r\nSet-Cookie: evil=1"],
    ["a", "v", { sameSite: "None" }],
    ["a", "v", { partitioned: true }],
    ["a", "v", { sameSite: "lax" as "Lax" }],
    ["a", "v", { priority: "urgent" as "High" }],
    ["a", "v", { maxAge: Infinity }],
    ["a", "v", { expires: new Date("nope") }],
    ["a", "v", { domain: "exa mple.com" }],
    ["a", "v", { domain: "a.com; Secure" }],
    ["a", "v", { path: "/a;b" }],
    ["a", "v", { path: "/a\nb" }],
    ["__Secure-a", "v"],
    ["__Host-a", "v", { secure: true, domain: "example.com" }],
    ["__Host-a", "v", { secure: true, path: "/app" }],
  ];
  for (const [name, value, opts] of cases) {
    const { thrown, res } = await run((ctx) => void ctx.setCookie(name, value, opts));
    assert.is(thrown?.code, "FARAD_ERR_INVALID_COOKIE", `${JSON.stringify([name, value, opts])}: ${res.status}`);
  }
  const ok = await run((ctx) => {
    ctx.setCookie("__Host-id", "1", { secure: true });
    ctx.setCookie("__Secure-id", "2", { secure: true, domain: ".example.com" });
    ctx.noContent();
  });
  assert.equal(ok.res.headers["set-cookie"], ["__Host-id=1; Path=/; Secure", "__Secure-id=2; Domain=.example.com; Path=/; Secure"]);
});

test("setCookie: maxAge 0 or negative expires at once", async () => {
  const { res } = await run((ctx) => {
    ctx.setCookie("a", "1", { maxAge: -5 });
    ctx.noContent();
  });
  assert.is(res.headers["set-cookie"], "a=1; Max-Age=0; Path=/");
});

test("clearCookie: empty value, Max-Age=0 and an Expires in the past, with the given path and domain", async () => {
  const { res } = await run((ctx) => {
    ctx.clearCookie("sid");
    ctx.clearCookie("pref", { path: "/app", domain: "example.com", secure: true, sameSite: "None" });
    ctx.noContent();
  });
  assert.equal(res.headers["set-cookie"], [
    "sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "pref=; Max-Age=0; Domain=example.com; Path=/app; Secure; SameSite=None; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
  ]);
});

// ------------------------------------------------------------ ETag and conditional GET

test("etag: quotes an opaque tag, keeps an entity-tag, weak adds W/; invalid tags throw", async () => {
  const tags: string[] = [];
  for (const [v, weak] of [["abc", false], ['"abc"', false], ["abc", true], ['W/"abc"', false], ['"abc"', true], ["", false]] as const) {
    const { res } = await run((ctx) => {
      ctx.etag(v, { weak });
      ctx.noContent();
    });
    tags.push(String(res.headers.etag));
  }
  assert.equal(tags, ['"abc"', '"abc"', 'W/"abc"', 'W/"abc"', 'W/"abc"', '""']);
  for (const bad of ['a"b', "a b", "a\nb", 'W/"a'] as const) {
    const { thrown } = await run((ctx) => void ctx.etag(bad));
    assert.is(thrown?.code, "FARAD_ERR_INVALID_HEADER", bad);
  }
});

test("etagOf: a strong tag from the content; same bytes same tag, string and bytes agree", () => {
  const a = etagOf("hello");
  assert.match(a, /^"5-[A-Za-z0-9+/]{27}"$/);
  assert.is(etagOf(Buffer.from("hello")), a);
  assert.is(etagOf(new Uint8Array(Buffer.from("hello"))), a);
  assert.is.not(etagOf("hellp"), a);
  assert.match(etagOf(""), /^"0-/);
  assert.match(etagOf("é"), /^"2-/, "the length is in bytes");
});

/** A GET handler that sets an ETag (and Last-Modified) and answers 304 when fresh. */
async function conditional(headers: Record<string, string>, opts: { etag?: string; lastModified?: string; method?: string; status?: number } = {}) {
  let fresh: boolean | null = null;
  const r = await run(
    (ctx) => {
      if (opts.status !== undefined) ctx.status(opts.status);
      if (opts.etag !== undefined) ctx.etag(opts.etag);
      if (opts.lastModified !== undefined) ctx.setHeader("Last-Modified", opts.lastModified);
      ctx.setHeader("Cache-Control", "max-age=60");
      fresh = ctx.fresh();
      if (ctx.notModified()) return;
      ctx.string(opts.status ?? 200, "body");
    },
    headers,
    opts.method ?? "GET",
  );
  return { res: r.res, fresh: fresh as boolean | null };
}

test("If-None-Match: a match answers 304 with the ETag and other headers, no body, no Content-Type", async () => {
  const { res, fresh } = await conditional({ "if-none-match": '"v1"' }, { etag: "v1" });
  assert.is(fresh, true);
  assert.is(res.status, 304);
  assert.is(res.body.length, 0);
  assert.is(res.headers.etag, '"v1"');
  assert.is(res.headers["cache-control"], "max-age=60");
  assert.is(res.headers["content-type"], undefined);
  assert.is(res.headers["content-length"], undefined);
});

test("If-None-Match: weak comparison, lists, commas inside tags, *", async () => {
  const yes: [string, string][] = [
    ['W/"v1"', "v1"],
    ['"v1"', 'W/"v1"'],
    ['"a", "b" , W/"v1"', "v1"],
    ['"x,y"', "x,y"],
    ["*", "v1"],
    ['"a",*', "v9"],
  ];
  for (const [inm, etag] of yes) assert.is((await conditional({ "if-none-match": inm }, { etag })).res.status, 304, `${inm} vs ${etag}`);
  const no: [string, string][] = [
    ['"v2"', "v1"],
    ['"V1"', "v1"],
    ["v1", "v1"],
    ['"x"', "x,y"],
    ['"a", "b"', "c"],
    ["", "v1"],
  ];
  for (const [inm, etag] of no) {
    const { res } = await conditional({ "if-none-match": inm }, { etag });
    assert.is(res.status, 200, `${inm} vs ${etag}`);
    assert.is(res.text(), "body");
  }
});

test("If-None-Match without an ETag on the response is not fresh (except *)", async () => {
  assert.is((await conditional({ "if-none-match": '"v1"' })).res.status, 200);
  assert.is((await conditional({ "if-none-match": "*" })).res.status, 304);
});

test("If-Modified-Since: fresh when Last-Modified is not later; ignored when If-None-Match is present", async () => {
  const lm = "Wed, 21 Oct 2015 07:28:00 GMT";
  assert.is((await conditional({ "if-modified-since": lm }, { lastModified: lm })).res.status, 304);
  assert.is((await conditional({ "if-modified-since": "Wed, 21 Oct 2015 08:00:00 GMT" }, { lastModified: lm })).res.status, 304);
  assert.is((await conditional({ "if-modified-since": "Wed, 21 Oct 2015 07:27:59 GMT" }, { lastModified: lm })).res.status, 200);
  assert.is((await conditional({ "if-modified-since": "garbage" }, { lastModified: lm })).res.status, 200);
  assert.is((await conditional({ "if-modified-since": lm })).res.status, 200, "no Last-Modified");
  // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
  assert.is((await conditional({ "if-modified-since": lm, "if-none-match": '"other"' }, { lastModified: lm, etag: "v1" })).res.status, 200);
});

test("fresh() is false for methods other than GET/HEAD, for non-2xx statuses, and without conditional headers", async () => {
  assert.is((await conditional({ "if-none-match": '"v1"' }, { etag: "v1", method: "POST" })).fresh, false);
  assert.is((await conditional({ "if-none-match": '"v1"' }, { etag: "v1", status: 404 })).res.status, 404);
  assert.is((await conditional({}, { etag: "v1" })).fresh, false);
  assert.is((await conditional({ "if-none-match": '"v1"' }, { etag: "v1", method: "HEAD" })).res.status, 304);
});

// ------------------------------------------------------------ json with a schema

test("json(code, value, { schema }): declared properties only, same text as JSON.stringify for them", async () => {
  const User = Type.Object({ id: Type.Integer(), name: Type.String(), tags: Type.Array(Type.String()), nick: Type.Optional(Type.String()) });
  const value = { id: 1, name: 'a "q" ü\n', tags: ["x"], password: "secret" };
  const { res } = await run((ctx) => ctx.json(201, value, { schema: User }));
  assert.is(res.status, 201);
  assert.is(res.headers["content-type"], "application/json; charset=utf-8");
  assert.is(res.text(), JSON.stringify({ id: 1, name: value.name, tags: ["x"] }));
  const again = await run((ctx) => ctx.json(200, { id: 2, name: "b", tags: [], nick: "n" }, { schema: User }));
  assert.equal(again.res.json(), { id: 2, name: "b", tags: [], nick: "n" });
});

test("json() with a value the schema cannot serialize fails the request (500), not silently", async () => {
  const app = newApp();
  app.get("/j", (ctx) => ctx.json(200, { a: "x" }, { schema: Type.Object({ a: Type.Object({ b: Type.String() }), c: Type.String() }) }));
  const res = await app.inject({ url: "/j" });
  assert.is(res.status, 500);
});

// ------------------------------------------------------------ on the wire

test("on the wire: several Set-Cookie lines, a redirect, a 304 without body bytes, a schema JSON body", async () => {
  const s = await startServer((app) => {
    app.get("/login", (ctx) => {
      ctx.setCookie("sid", "s1", { httpOnly: true, secure: true, sameSite: "Strict" });
      ctx.setCookie("theme", "dark", { maxAge: 60 });
      ctx.clearCookie("old");
      ctx.redirect(303, "/home");
    });
    app.get("/page", (ctx) => {
      const body = `hello ${ctx.cookie("theme") ?? "light"}`;
      ctx.etag(etagOf(body));
      if (ctx.notModified()) return;
      ctx.string(200, body);
    });
    app.get("/user", (ctx) => ctx.json(200, { id: 1, secret: "s" }, { schema: Type.Object({ id: Type.Integer() }) }));
  });
  try {
    const login = await requestOnce(s.port, get("/login"));
    assert.is(login.status, 303);
    assert.is(login.header("location"), "/home");
    assert.equal(login.headerValues("set-cookie"), [
      "sid=s1; Path=/; HttpOnly; Secure; SameSite=Strict",
      "theme=dark; Max-Age=60; Path=/",
      "old=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ]);

    const base = `http://127.0.0.1:${s.port}`;
    const viaFetch = await fetch(`${base}/login`, { redirect: "manual" });
    assert.is(viaFetch.headers.getSetCookie().length, 3);

    const first = await fetch(`${base}/page`, { headers: { cookie: "theme=dark" } });
    assert.is(await first.text(), "hello dark");
    const tag = first.headers.get("etag")!;
    assert.is(tag, etagOf("hello dark"));

    const raw = await requestOnce(s.port, get("/page", `Cookie: theme=dark\r\nIf-None-Match: W/${tag}\r\n`));
    assert.is(raw.status, 304);
    assert.is(raw.header("etag"), tag);
    assert.is(raw.header("content-length"), undefined);
    assert.is(raw.body.length, 0);
    assert.ok(raw.raw.toString("latin1").endsWith("\r\n\r\n"), "nothing after the head");

    const changed = await fetch(`${base}/page`, { headers: { "if-none-match": tag } });
    assert.is(changed.status, 200, "another cookie, another body, another tag");

    const user = await fetch(`${base}/user`);
    assert.is(await user.text(), '{"id":1}');
  } finally {
    await s.close();
  }
});

test.run();
