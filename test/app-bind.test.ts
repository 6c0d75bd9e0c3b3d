/**
 * ctx.bind(): every source (route params, query, headers, cookies, JSON,
 * urlencoded and multipart bodies) with coercion and defaults; failures as
 * the 400 JSON body listing each field; 415 and 413; the unknown-field
 * policy; prototype poisoning; tryBind; and one run over a real socket.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BindError, Server, t, Type, type BindErrorBody, type RequestContext, type Static } from "../src/index.js";
import { startServer, watchdog } from "./lib/server.js";

watchdog(20_000);

const JSON_CT = { "content-type": "application/json" };

/**
 * In-process servers. handlerTimeout 0: an inject() of an async handler
 * otherwise leaves the server's deadline timer holding the process open
 * for the whole timeout after the last test.
 */
function newApp(options = {}): Server {
  return new Server({ handlerTimeout: 0, logger: { error() {} }, ...options });
}

/** A server whose POST/GET /b/:id binds `schema` and answers the value as JSON. */
function binder(schema: Parameters<RequestContext["bind"]>[0], options?: Parameters<RequestContext["bind"]>[1], serverOptions = {}): Server {
  const app = newApp(serverOptions);
  const h = async (ctx: RequestContext): Promise<void> => ctx.json(200, { value: await ctx.bind(schema, options) });
  app.post("/b/:id", h);
  app.get("/b/:id", h);
  return app;
}

async function bindOk(app: Server, req: Parameters<Server["inject"]>[0]): Promise<Record<string, unknown>> {
  const r = await app.inject(req);
  assert.is(r.status, 200, r.text());
  return r.json<{ value: Record<string, unknown> }>().value;
}

async function bindFails(app: Server, req: Parameters<Server["inject"]>[0], status = 400): Promise<BindErrorBody> {
  const r = await app.inject(req);
  assert.is(r.status, status, r.text());
  assert.match(String(r.headers["content-type"]), /^application\/json/);
  return r.json<BindErrorBody>();
}

// ------------------------------------------------------------ sources and coercion

test("route param, coerced to an integer", async () => {
  const app = binder(Type.Object({ id: t.param(Type.Integer()) }));
  assert.equal(await bindOk(app, { url: "/b/42" }), { id: 42 });
  const e = await bindFails(app, { url: "/b/4x2" });
  assert.equal(e, { error: "FARAD_ERR_BIND", message: e.message, fields: [{ field: "id", source: "param", message: "Expected integer" }] });
});

test("query: integer, number, boolean, string, defaults, renamed keys", async () => {
  const app = binder(
    Type.Object({
      n: t.query(Type.Integer()),
      x: t.query(Type.Number()),
      on: t.query(Type.Boolean()),
      off: t.query(Type.Boolean()),
      one: t.query(Type.Boolean()),
      zero: t.query(Type.Boolean()),
      s: t.query(Type.String()),
      page: t.query(Type.Integer({ default: 1 })),
      size: t.query("page-size", Type.Integer({ default: 20 })),
      q: t.query(Type.Optional(Type.String())),
    }),
  );
  const v = await bindOk(app, { url: "/b/1?n=-7&x=1.5e2&on=true&off=false&one=1&zero=0&s=a+b%20c&page-size=50" });
  assert.equal(v, { n: -7, x: 150, on: true, off: false, one: true, zero: false, s: "a b c", page: 1, size: 50 });
  assert.not.ok("q" in v, "a missing optional field stays absent");
});

test("query: values that do not convert are reported with the expected type", async () => {
  const app = binder(Type.Object({ n: t.query(Type.Integer()), x: t.query(Type.Number()), b: t.query(Type.Boolean()) }));
  const e = await bindFails(app, { url: "/b/1?n=1.5&x=0x10&b=yes" });
  assert.equal(
    e.fields.map((f) => [f.field, f.source, f.message]),
    [
      ["n", "query", "Expected integer"],
      ["x", "query", "Expected number"],
      ["b", "query", "Expected boolean"],
    ],
  );
  const empty = await bindFails(app, { url: "/b/1?n=&x=%20&b=" });
  assert.is(empty.fields.length, 3, "empty and blank strings are not numbers or booleans");
});

test("query arrays from repeated keys; a single key makes a one-item array; non-array takes the first", async () => {
  const app = binder(Type.Object({ ids: t.query("id", Type.Array(Type.Integer())), tag: t.query(Type.String()) }));
  assert.equal(await bindOk(app, { url: "/b/1?id=3&tag=a&id=1&id=2&tag=b" }), { ids: [3, 1, 2], tag: "a" });
  assert.equal(await bindOk(app, { url: "/b/1?id=9&tag=a" }), { ids: [9], tag: "a" });
  const e = await bindFails(app, { url: "/b/1?id=1&id=x&tag=a" });
  assert.equal(e.fields, [{ field: "id.1", source: "query", message: "Expected integer" }]);
});

test("defaults: array and object defaults are copies, not shared between requests", async () => {
  const app = newApp();
  const S = Type.Object({ tags: t.query(Type.Array(Type.String(), { default: ["x"] })) });
  app.get("/d", async (ctx) => {
    const v = await ctx.bind(S);
    v.tags.push("mutated");
    ctx.json(200, v);
  });
  assert.equal((await app.inject({ url: "/d" })).json(), { tags: ["x", "mutated"] });
  assert.equal((await app.inject({ url: "/d" })).json(), { tags: ["x", "mutated"] });
});

test("headers: case-insensitive names, renamed, coerced, arrays of repeated fields", async () => {
  const app = binder(
    Type.Object({
      token: t.header("X-Token", Type.String()),
      "x-count": t.header(Type.Integer()),
      accept: t.header(Type.Array(Type.String())),
    }),
  );
  const v = await bindOk(app, { url: "/b/1", headers: [["x-TOKEN", "abc"], ["X-Count", "3"], ["Accept", "a"], ["accept", "b"]] });
  assert.equal(v, { token: "abc", "x-count": 3, accept: ["a", "b"] });
  const e = await bindFails(app, { url: "/b/1", headers: { accept: "a" } });
  assert.equal(
    e.fields.map((f) => `${f.source} ${f.field} ${f.message}`),
    ["header X-Token required", "header x-count required"],
  );
});

test("cookies: by name, coerced, quoted values unquoted", async () => {
  const app = binder(Type.Object({ sid: t.cookie(Type.String()), n: t.cookie("visits", Type.Integer()), theme: t.cookie(Type.Optional(Type.String())) }));
  assert.equal(await bindOk(app, { url: "/b/1", headers: { cookie: 'sid="s1"; visits=7' } }), { sid: "s1", n: 7 });
  const e = await bindFails(app, { url: "/b/1", headers: { cookie: "visits=x" } });
  assert.equal(e.fields, [
    { field: "sid", source: "cookie", message: "required" },
    { field: "visits", source: "cookie", message: "Expected integer" },
  ]);
});

test("JSON body: fields as sent, no coercion; nested objects and arrays; unannotated fields come from the body", async () => {
  const app = binder(
    Type.Object({
      id: t.param(Type.Integer()),
      name: Type.String(),
      age: t.body(Type.Integer({ minimum: 0 })),
      tags: Type.Array(Type.String()),
      address: Type.Object({ city: Type.String(), zip: Type.Optional(Type.String()) }),
      level: Type.Integer({ default: 3 }),
    }),
  );
  const body = JSON.stringify({ name: "ada", age: 36, tags: ["a"], address: { city: "London" } });
  assert.equal(await bindOk(app, { method: "POST", url: "/b/5", headers: JSON_CT, body }), {
    id: 5,
    name: "ada",
    age: 36,
    tags: ["a"],
    address: { city: "London" },
    level: 3,
  });
  const bad = JSON.stringify({ name: 1, age: "36", tags: ["a", 2], address: { zip: 1 } });
  const e = await bindFails(app, { method: "POST", url: "/b/5", headers: JSON_CT, body: bad });
  assert.equal(e.fields, [
    { field: "name", source: "body", message: "Expected string" },
    { field: "age", source: "body", message: "Expected integer" },
    { field: "tags.1", source: "body", message: "Expected string" },
    { field: "address.city", source: "body", message: "required" },
    { field: "address.zip", source: "body", message: "Expected string" },
  ]);
});

test("JSON body: application/*+json and charset=utf-8 are accepted", async () => {
  const app = binder(Type.Object({ a: Type.Integer() }));
  for (const ct of ["application/problem+json", "application/json; charset=UTF-8", "Application/JSON"]) {
    assert.equal(await bindOk(app, { method: "POST", url: "/b/1", headers: { "content-type": ct }, body: '{"a":1}' }), { a: 1 });
  }
});

test("the 400 body lists every failing field, in schema order, once each", async () => {
  const app = binder(
    Type.Object({
      id: t.param(Type.Integer()),
      page: t.query(Type.Integer({ minimum: 1 })),
      token: t.header("x-token", Type.String({ minLength: 4 })),
      sid: t.cookie(Type.String()),
      name: Type.String(),
    }),
  );
  const r = await app.inject({ method: "POST", url: "/b/x?page=0", headers: { ...JSON_CT, "x-token": "ab" }, body: "{}" });
  assert.is(r.status, 400);
  assert.is(r.headers["content-type"], "application/json; charset=utf-8");
  const b = r.json<BindErrorBody>();
  assert.is(b.error, "FARAD_ERR_BIND");
  assert.type(b.message, "string");
  assert.equal(b.fields, [
    { field: "id", source: "param", message: "Expected integer" },
    { field: "page", source: "query", message: "Expected integer to be greater or equal to 1" },
    { field: "x-token", source: "header", message: "Expected string length greater or equal to 4" },
    { field: "sid", source: "cookie", message: "required" },
    { field: "name", source: "body", message: "required" },
  ]);
});

// ------------------------------------------------------------ forms

test("urlencoded body: coerced, repeated keys as arrays, t.form and unannotated fields", async () => {
  const app = binder(Type.Object({ name: t.form(Type.String()), age: Type.Integer(), ok: t.form(Type.Boolean()), ids: Type.Array(Type.Integer()) }));
  const v = await bindOk(app, {
    method: "POST",
    url: "/b/1",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "name=J%C3%BCrgen+K&age=41&ok=1&ids=1&ids=2",
  });
  assert.equal(v, { name: "Jürgen K", age: 41, ok: true, ids: [1, 2] });
});

function multipart(boundary: string, parts: { name: string; value: string | Buffer; filename?: string; type?: string }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += "\r\n";
    if (p.type !== undefined) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(head + "\r\n"), Buffer.from(p.value), Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

test("multipart/form-data: fields bound and coerced, file parts skipped", async () => {
  const app = binder(Type.Object({ title: t.form(Type.String()), count: t.form(Type.Integer()), tags: t.form(Type.Array(Type.String())), upload: t.form(Type.Optional(Type.String())) }));
  const file = Buffer.alloc(300 * 1024, 0x61);
  const body = multipart("XyZ", [
    { name: "title", value: "héllo" },
    { name: "upload", value: file, filename: "a.bin", type: "application/octet-stream" },
    { name: "count", value: "12" },
    { name: "tags", value: "a" },
    { name: "tags", value: "b" },
  ]);
  const v = await bindOk(app, { method: "POST", url: "/b/1", headers: { "content-type": "multipart/form-data; boundary=XyZ" }, body });
  assert.equal(v, { title: "héllo", count: 12, tags: ["a", "b"] }, "the file part is not a field");
});

test("multipart/form-data: a malformed body or a missing boundary is a 400", async () => {
  const app = binder(Type.Object({ a: t.form(Type.Optional(Type.String())) }));
  const noBoundary = await bindFails(app, { method: "POST", url: "/b/1", headers: { "content-type": "multipart/form-data" }, body: "--x\r\n" });
  assert.is(noBoundary.fields[0]!.source, "form");
  assert.match(noBoundary.fields[0]!.message, /multipart/);
  const cut = await bindFails(app, {
    method: "POST",
    url: "/b/1",
    headers: { "content-type": "multipart/form-data; boundary=q" },
    body: '--q\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue-without-end',
  });
  assert.match(cut.fields[0]!.message, /multipart/);
});

test("a JSON body to a schema with only form fields is a 415 naming the form types", async () => {
  const app = binder(Type.Object({ a: t.form(Type.String()) }));
  const r = await app.inject({ method: "POST", url: "/b/1", headers: JSON_CT, body: '{"a":"x"}' });
  assert.is(r.status, 415);
  assert.equal(r.json<BindErrorBody>().error, "FARAD_ERR_UNSUPPORTED_MEDIA_TYPE");
  assert.match(r.json<BindErrorBody>().message, /application\/x-www-form-urlencoded, multipart\/form-data/);
});

// ------------------------------------------------------------ 415, 413, malformed bodies

test("415: unsupported media type, non-UTF-8 JSON, a body without Content-Type", async () => {
  const app = binder(Type.Object({ a: Type.Optional(Type.String()) }));
  const plain = await bindFails(app, { method: "POST", url: "/b/1", headers: { "content-type": "text/plain" }, body: "a=1" }, 415);
  assert.is(plain.error, "FARAD_ERR_UNSUPPORTED_MEDIA_TYPE");
  assert.match(plain.message, /unsupported Content-Type "text\/plain"/);
  assert.match(plain.message, /application\/json/);
  const latin = await bindFails(app, { method: "POST", url: "/b/1", headers: { "content-type": "application/json; charset=latin1" }, body: "{}" }, 415);
  assert.match(latin.message, /UTF-8/);
  const none = await bindFails(app, { method: "POST", url: "/b/1", body: '{"a":"x"}' }, 415);
  assert.match(none.message, /without Content-Type/);
});

test("an empty body is no body: its fields are missing, whatever the Content-Type", async () => {
  const app = binder(Type.Object({ a: Type.String(), b: Type.Integer({ default: 2 }) }));
  const e = await bindFails(app, { method: "POST", url: "/b/1", headers: JSON_CT, body: "" });
  assert.equal(e.fields, [{ field: "a", source: "body", message: "required" }]);
  const get = await bindFails(app, { url: "/b/1" });
  assert.equal(get.fields, [{ field: "a", source: "body", message: "required" }]);
});

test("a schema without body fields never reads the body or checks its type", async () => {
  const app = binder(Type.Object({ q: t.query(Type.String()) }));
  assert.equal(await bindOk(app, { method: "POST", url: "/b/1?q=z", headers: { "content-type": "text/plain" }, body: "ignored" }), { q: "z" });
});

test("invalid JSON and a non-object JSON body are 400s on the whole body", async () => {
  const app = binder(Type.Object({ a: Type.Optional(Type.String()) }));
  const bad = await bindFails(app, { method: "POST", url: "/b/1", headers: JSON_CT, body: '{"a":' });
  assert.is(bad.fields.length, 1);
  assert.is(bad.fields[0]!.field, "");
  assert.is(bad.fields[0]!.source, "body");
  assert.match(bad.fields[0]!.message, /^invalid JSON/);
  for (const body of ["[1,2]", "null", '"s"', "3"]) {
    const e = await bindFails(app, { method: "POST", url: "/b/1", headers: JSON_CT, body });
    assert.equal(e.fields, [{ field: "", source: "body", message: "expected a JSON object" }]);
  }
});

test("413: a body over bodyLimit answers the engine's 413, not a bind error", async () => {
  const app = binder(Type.Object({ a: Type.String() }), undefined, { bodyLimit: 64 });
  const r = await app.inject({ method: "POST", url: "/b/1", headers: JSON_CT, body: JSON.stringify({ a: "x".repeat(200) }) });
  assert.is(r.status, 413);
});

// ------------------------------------------------------------ unknown fields

const Person = Type.Object({ name: Type.String(), address: Type.Optional(Type.Object({ city: Type.String() })) });
const extra = JSON.stringify({ name: "a", admin: true, address: { city: "c", evil: 1 } });

test("unknown fields: strip by default, also inside nested objects", async () => {
  const v = await bindOk(binder(Person), { method: "POST", url: "/b/1", headers: JSON_CT, body: extra });
  assert.equal(v, { name: "a", address: { city: "c" } });
});

test("unknown fields: reject lists each one", async () => {
  const e = await bindFails(binder(Person, { unknown: "reject" }), { method: "POST", url: "/b/1", headers: JSON_CT, body: extra });
  assert.equal(e.fields, [{ field: "admin", source: "body", message: "unknown field" }]);
  const form = await bindFails(binder(Person, { unknown: "reject" }), {
    method: "POST",
    url: "/b/1",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "name=a&role=x",
  });
  assert.equal(form.fields, [{ field: "role", source: "form", message: "unknown field" }]);
});

test("unknown fields: allow keeps them as sent", async () => {
  const v = await bindOk(binder(Person, { unknown: "allow" }), { method: "POST", url: "/b/1", headers: JSON_CT, body: extra });
  assert.equal(v, { name: "a", admin: true, address: { city: "c", evil: 1 } });
});

test("unknown fields: a schema with additionalProperties: false rejects by default; nested additionalProperties: true is kept by strip", async () => {
  const closed = Type.Object({ name: Type.String() }, { additionalProperties: false });
  const e = await bindFails(binder(closed), { method: "POST", url: "/b/1", headers: JSON_CT, body: '{"name":"a","x":1}' });
  assert.equal(e.fields, [{ field: "x", source: "body", message: "unknown field" }]);
  const open = Type.Object({ meta: Type.Object({}, { additionalProperties: true }) });
  assert.equal(await bindOk(binder(open), { method: "POST", url: "/b/1", headers: JSON_CT, body: '{"meta":{"k":1}}' }), { meta: { k: 1 } });
});

// ------------------------------------------------------------ prototype poisoning

test("prototype poisoning: __proto__ and constructor.prototype in JSON are rejected, anywhere in the body", async () => {
  const app = binder(Type.Object({ name: Type.String(), user: Type.Optional(Type.Object({})) }), { unknown: "allow" });
  for (const body of [
    '{"name":"a","__proto__":{"admin":true}}',
    '{"name":"a","constructor":{"prototype":{"admin":true}}}',
    '{"name":"a","user":{"__proto__":{"admin":true}}}',
  ]) {
    const e = await bindFails(app, { method: "POST", url: "/b/1", headers: JSON_CT, body });
    assert.is(e.fields[0]!.source, "body");
    assert.match(e.fields[0]!.message, /forbidden prototype property/);
  }
  assert.is(({} as Record<string, unknown>).admin, undefined, "Object.prototype untouched");
});

test("prototype poisoning: a __proto__ form key stays a plain property, even with unknown: allow", async () => {
  const app = newApp();
  app.post("/f", async (ctx) => {
    const v = (await ctx.bind(Type.Object({ a: t.form(Type.String()) }), { unknown: "allow" })) as Record<string, unknown>;
    ctx.json(200, { proto: Object.getPrototypeOf(v) === Object.prototype, own: Object.keys(v), admin: (v as { admin?: unknown }).admin ?? null });
  });
  const r = await app.inject({ method: "POST", url: "/f", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1&__proto__=x&admin=1" });
  assert.equal(r.json(), { proto: true, own: ["a", "__proto__", "admin"], admin: "1" });
  assert.is(({} as Record<string, unknown>).admin, undefined);
});

// ------------------------------------------------------------ tryBind, types, schemas

test("tryBind resolves to the errors instead of throwing; 415 too", async () => {
  const app = newApp();
  const S = Type.Object({ n: t.query(Type.Integer()), body: Type.Optional(Type.String()) });
  app.post("/t", async (ctx) => {
    const r = await ctx.tryBind(S);
    if (r.ok) ctx.json(200, { n: r.value.n });
    else ctx.json(422, { status: r.error.status, errors: r.errors, isBindError: r.error instanceof BindError });
  });
  assert.equal((await app.inject({ method: "POST", url: "/t?n=3" })).json(), { n: 3 });
  const bad = await app.inject({ method: "POST", url: "/t?n=z" });
  assert.is(bad.status, 422);
  assert.equal(bad.json(), { status: 400, errors: [{ field: "n", source: "query", message: "Expected integer" }], isBindError: true });
  const media = await app.inject({ method: "POST", url: "/t?n=1", headers: { "content-type": "text/csv" }, body: "a,b" });
  assert.equal(media.json<{ status: number }>().status, 415);
});

test("the bound value's type is inferred from the schema", async () => {
  const S = Type.Object({ id: t.param(Type.Integer()), tags: t.query(Type.Array(Type.String())), name: Type.Optional(Type.String()) });
  const app = newApp();
  app.get("/x/:id", async (ctx) => {
    const v = await ctx.bind(S);
    const id: number = v.id;
    const tags: string[] = v.tags;
    const name: string | undefined = v.name;
    // @ts-expect-error: id is a number
    const wrong: string = v.id;
    const same: Static<typeof S> = v;
    ctx.json(200, { id, tags, name: name ?? null, wrong, same: same.id });
  });
  assert.equal((await app.inject({ url: "/x/7?tags=a" })).json(), { id: 7, tags: ["a"], name: null, wrong: 7, same: 7 });
});

test("helpers copy the schema; t.query() of a shared schema leaves it unmarked", async () => {
  const Int = Type.Integer();
  const S = Type.Object({ a: t.query(Int), b: t.header(Int), c: Int });
  assert.is.not(S.properties.a, Int);
  const app = binder(S);
  assert.equal(await bindOk(app, { method: "POST", url: "/b/1?a=1", headers: { b: "2", ...JSON_CT }, body: '{"c":3}' }), { a: 1, b: 2, c: 3 });
});

test("Type.Optional around a helper, union coercion in declared order, literals", async () => {
  const app = binder(
    Type.Object({
      o: Type.Optional(t.query(Type.Integer())),
      u: t.query(Type.Union([Type.Integer(), Type.String()])),
      s: t.query(Type.Union([Type.String(), Type.Integer()])),
      mode: t.query(Type.Union([Type.Literal(1), Type.Literal(2)])),
      kind: t.query(Type.Union([Type.Literal("a"), Type.Literal("b")])),
    }),
  );
  assert.equal(await bindOk(app, { url: "/b/1?u=5&s=5&mode=2&kind=b" }), { u: 5, s: "5", mode: 2, kind: "b" });
  assert.equal(await bindOk(app, { url: "/b/1?o=3&u=z&s=5&mode=1&kind=a" }), { o: 3, u: "z", s: "5", mode: 1, kind: "a" });
  const e = await bindFails(app, { url: "/b/1?u=5&s=5&mode=3&kind=c" });
  assert.equal(e.fields.map((f) => f.field), ["mode", "kind"]);
});

test("schemas bind() cannot use throw FARAD_ERR_BIND_SCHEMA (a 500: a developer error, not the client's)", async () => {
  const app = newApp();
  let code = "";
  app.get("/s", async (ctx) => {
    try {
      await ctx.bind(Type.String() as never);
    } catch (e) {
      code = (e as { code: string }).code;
    }
    try {
      await ctx.bind(Type.Object({ a: t.query(Type.String()), b: t.query("a", Type.String()) }));
    } catch (e) {
      code += " " + (e as { code: string }).code;
    }
    ctx.noContent();
  });
  await app.inject({ url: "/s" });
  assert.is(code, "FARAD_ERR_BIND_SCHEMA FARAD_ERR_BIND_SCHEMA");
  assert.throws(() => t.header("", Type.String()), /name must not be empty/);
});

// ------------------------------------------------------------ over a socket

test("over a socket: JSON body, query, header and cookie bound; a failure is a 400 JSON body; multipart from FormData", async () => {
  const S = Type.Object({
    id: t.param(Type.Integer()),
    page: t.query(Type.Integer({ default: 1 })),
    token: t.header("x-token", Type.String()),
    sid: t.cookie(Type.String()),
    name: Type.String(),
  });
  const F = Type.Object({ title: t.form(Type.String()), n: t.form(Type.Integer()) });
  const s = await startServer((app) => {
    app.post("/u/:id", async (ctx) => ctx.json(200, await ctx.bind(S)));
    app.post("/f", async (ctx) => ctx.json(200, await ctx.bind(F)));
  });
  try {
    const base = `http://127.0.0.1:${s.port}`;
    const ok = await fetch(`${base}/u/9?page=2`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-token": "t0k", cookie: "sid=abc" },
      body: JSON.stringify({ name: "ada", extra: 1 }),
    });
    assert.is(ok.status, 200);
    assert.equal(await ok.json(), { id: 9, page: 2, token: "t0k", sid: "abc", name: "ada" });

    const bad = await fetch(`${base}/u/x?page=q`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.is(bad.status, 400);
    assert.is(bad.headers.get("content-type"), "application/json; charset=utf-8");
    const body = (await bad.json()) as BindErrorBody;
    assert.is(body.error, "FARAD_ERR_BIND");
    assert.equal(
      body.fields.map((f) => `${f.source}:${f.field}`),
      ["param:id", "query:page", "header:x-token", "cookie:sid", "body:name"],
    );

    const fd = new FormData();
    fd.append("title", "t");
    fd.append("file", new Blob([new Uint8Array(100_000)]), "f.bin");
    fd.append("n", "5");
    const form = await fetch(`${base}/f`, { method: "POST", body: fd });
    assert.is(form.status, 200);
    assert.equal(await form.json(), { title: "t", n: 5 });

    const media = await fetch(`${base}/f`, { method: "POST", headers: { "content-type": "application/xml" }, body: "<a/>" });
    assert.is(media.status, 415);
  } finally {
    await s.close();
  }
});

test.run();
