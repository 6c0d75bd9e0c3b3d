/**
 * The client against real servers (farad and node:http): reuse of one
 * connection, methods, request bodies of every kind, response framings,
 * headers, and the helpers.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server as NodeServer } from "node:http";
import { Readable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";

import { Client, ClientError } from "../src/index.js";
import { onHeads, rawServer } from "./lib/raw-server.js";
import { startServer, watchdog } from "./lib/server.js";

watchdog(60_000);

async function nodeServer(handler: (req: IncomingMessage, res: import("node:http").ServerResponse) => void): Promise<{ server: NodeServer; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = createServer(handler);
  server.on("connection", () => accepted++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port, accepted: () => accepted };
}

function closeNode(server: NodeServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

test("1,000 sequential requests to a farad server reuse one connection", async () => {
  const s = await startServer((app) => {
    app.get("/n/:i", (ctx) => ctx.string(200, `n=${ctx.param("i")}`));
  });
  const client = new Client();
  try {
    for (let i = 0; i < 1000; i++) {
      const r = await client.get(`http://127.0.0.1:${s.port}/n/${i}`);
      if (r.status !== 200 || r.text() !== `n=${i}`) assert.unreachable(`request ${i}: ${r.status} ${r.text()}`);
    }
    assert.is(s.app.stats().accepted, 1, "the server accepted one connection");
    assert.equal(client.stats(), { connections: 1, idle: 1, inflight: 0, queued: 0, leakedResponses: 0 });
  } finally {
    client.close();
    await s.close();
  }
});

test("1,000 sequential requests to node:http reuse one connection; streamed responses too", async () => {
  const n = await nodeServer((req, res) => res.end(`${req.method} ${req.url}`));
  const client = new Client();
  try {
    for (let i = 0; i < 1000; i++) {
      const res = await client.request({ url: `http://127.0.0.1:${n.port}/x${i}` });
      const text = await res.text();
      if (text !== `GET /x${i}`) assert.unreachable(`request ${i}: ${text}`);
    }
    assert.is(n.accepted(), 1);
  } finally {
    client.close();
    await closeNode(n.server);
  }
});

test("methods and request bodies: string, bytes, Readable, async iterable, web stream; lengths and chunked framing", async () => {
  const seen: { method: string; te?: string; cl?: string; sha: string; len: number }[] = [];
  const n = await nodeServer(async (req, res) => {
    const h = createHash("sha256");
    let len = 0;
    for await (const c of req) {
      h.update(c as Buffer);
      len += (c as Buffer).length;
    }
    seen.push({ method: req.method!, te: req.headers["transfer-encoding"], cl: req.headers["content-length"], sha: h.digest("hex"), len });
    res.end("ok");
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${n.port}` });
  const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  try {
    await client.post("/a", "héllo");
    await client.put("/b", big);
    await client.patch("/c", Readable.from([Buffer.from("ab"), Buffer.from("cd")]));
    await client.post("/d", (async function* () {
      yield "x";
      yield new Uint8Array([0x79]);
    })());
    await client.post("/e", Readable.from([big]), { headers: { "content-length": String(big.length) } });
    await client.post("/f", new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); } }) as unknown as AsyncIterable<Uint8Array>);
    await client.post("/g");
    await client.delete("/h");
    assert.equal(seen, [
      { method: "POST", te: undefined, cl: "6", sha: sha(Buffer.from("héllo")), len: 6 },
      { method: "PUT", te: undefined, cl: String(big.length), sha: sha(big), len: big.length },
      { method: "PATCH", te: "chunked", cl: undefined, sha: sha(Buffer.from("abcd")), len: 4 },
      { method: "POST", te: "chunked", cl: undefined, sha: sha(Buffer.from("xy")), len: 2 },
      { method: "POST", te: undefined, cl: String(big.length), sha: sha(big), len: big.length },
      { method: "POST", te: "chunked", cl: undefined, sha: sha(Buffer.from([1, 2, 3])), len: 3 },
      { method: "POST", te: undefined, cl: "0", sha: sha(Buffer.alloc(0)), len: 0 },
      { method: "DELETE", te: undefined, cl: undefined, sha: sha(Buffer.alloc(0)), len: 0 },
    ]);
    assert.is(n.accepted(), 1, "all on one connection");
  } finally {
    client.close();
    await closeNode(n.server);
  }
});

test("a streamed body whose length disagrees with its Content-Length fails with FARAD_ERR_REQUEST_BODY", async () => {
  const n = await nodeServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${n.port}` });
  try {
    const err = await client.post("/", Readable.from([Buffer.from("abc")]), { headers: { "content-length": "10" } }).catch((e) => e);
    assert.instance(err, ClientError);
    assert.is(err.code, "FARAD_ERR_REQUEST_BODY");
    const err2 = await client.post("/", Readable.from([Buffer.from("abcdef")]), { headers: { "content-length": "2" } }).catch((e) => e);
    assert.is(err2.code, "FARAD_ERR_REQUEST_BODY");
    const failing = new Readable({ read() { this.destroy(new Error("disk on fire")); } });
    const err3 = await client.post("/", failing).catch((e) => e);
    assert.is(err3.code, "FARAD_ERR_REQUEST_BODY");
    assert.match(err3.message, /disk on fire/);
    // The client still works afterwards.
    assert.is((await client.get("/")).status, 200);
  } finally {
    client.close();
    await closeNode(n.server);
  }
});

test("response framings: chunked with trailers, close-delimited HTTP/1.0, HEAD, 204, 304", async () => {
  const n = await nodeServer((req, res) => {
    if (req.url === "/chunked") {
      res.setHeader("trailer", "x-sum");
      res.write("part1-");
      res.write("part2");
      res.addTrailers({ "x-sum": "42" });
      res.end();
    } else if (req.url === "/204") {
      res.writeHead(204).end();
    } else if (req.url === "/304") {
      res.writeHead(304, { etag: '"a"' }).end();
    } else {
      res.setHeader("content-type", "text/plain");
      res.setHeader("content-length", "5");
      res.end(req.method === "HEAD" ? undefined : "body!");
    }
  });
  const raw = await rawServer((sock) =>
    onHeads(sock, () => {
      sock.end("HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end");
    }),
  );
  const client = new Client();
  try {
    const base = `http://127.0.0.1:${n.port}`;
    const c = await client.get(`${base}/chunked`);
    assert.is(c.text(), "part1-part2");
    assert.is(c.headers["transfer-encoding"], "chunked");
    const h = await client.head(`${base}/x`);
    assert.is(h.status, 200);
    assert.is(h.headers["content-length"], "5");
    assert.is(h.body.length, 0);
    const e = await client.get(`${base}/204`);
    assert.is(e.status, 204);
    assert.is(e.body.length, 0);
    const nm = await client.get(`${base}/304`);
    assert.is(nm.status, 304);
    assert.is(nm.headers.etag, '"a"');
    const after = await client.get(`${base}/x`);
    assert.is(after.text(), "body!");
    assert.is(n.accepted(), 1, "the connection survived HEAD, 204 and 304");
    const old = await client.request({ url: `http://127.0.0.1:${raw.port}/` });
    assert.is(old.httpVersion, "1.0");
    assert.is(old.statusText, "OK");
    assert.is(await old.text(), "until the end");
  } finally {
    client.close();
    await closeNode(n.server);
    await raw.close();
  }
});

test("headers: case-insensitive access, repeats joined, set-cookie as array, rawHeaders in order; default and request headers sent", async () => {
  let got: IncomingMessage["headers"] = {};
  const n = await nodeServer((req, res) => {
    got = req.headers;
    res.setHeader("Set-Cookie", ["a=1", "b=2"]);
    res.setHeader("X-Multi", ["one", "two"]);
    res.end();
  });
  const client = new Client({ headers: { "user-agent": "farad-test", "x-default": "d" } });
  try {
    const res = await client.request({ url: `http://127.0.0.1:${n.port}/`, headers: [["X-Default", "override"], ["x-list", "1"], ["x-list", "2"]] });
    assert.equal(res.headers["set-cookie"], ["a=1", "b=2"]);
    assert.is(res.header("X-MULTI"), "one, two");
    assert.is(res.headers["x-multi"], "one, two");
    assert.is(res.header("missing"), undefined);
    assert.equal(res.rawHeaders.slice(0, 4), ["Set-Cookie", "a=1", "Set-Cookie", "b=2"]);
    res.release();
    assert.is(got["user-agent"], "farad-test");
    assert.is(got["x-default"], "override");
    assert.is(got["x-list"], "1, 2");
    assert.is(got.host, `127.0.0.1:${n.port}`);
  } finally {
    client.close();
    await closeNode(n.server);
  }
});

test("each response keeps its own head after later batches reused the client's buffers; request() leaves the caller's options as they were", async () => {
  const n = await nodeServer((req, res) => {
    const id = req.url!.slice(1);
    res.writeHead(200, `Reason ${id}`, { "x-id": id, "x-echo": `echo-${id}`, "content-length": 200_000 });
    // Bodies big enough to take new read slabs while earlier heads are unread.
    res.end(Buffer.alloc(200_000, id.charCodeAt(0)));
  });
  const client = new Client({ maxConnectionsPerHost: 8 });
  try {
    const opts = Array.from({ length: 24 }, (_, i) => ({ url: `http://127.0.0.1:${n.port}/${String.fromCharCode(97 + i)}` }));
    const responses = await Promise.all(opts.map((o) => client.request(o)));
    // Every body read to the end first: many more reader turns and batches.
    const sizes = await Promise.all(responses.map(async (r) => (await r.bytes()).length));
    assert.ok(sizes.every((s) => s === 200_000));
    responses.forEach((r, i) => {
      const id = String.fromCharCode(97 + i);
      assert.is(r.header("x-id"), id);
      assert.is(r.headers["x-echo"], `echo-${id}`);
      assert.is(r.statusText, `Reason ${id}`);
      assert.is(r.headers["content-length"], "200000");
    });
    // No method filled in, no hidden properties added.
    for (const o of opts) {
      assert.equal(Object.keys(o), ["url"]);
      assert.is(Object.getOwnPropertySymbols(o).length, 0);
    }
  } finally {
    client.close();
    await closeNode(n.server);
  }
});

test("bad requests are refused before anything is sent, with FARAD_ERR_INVALID_REQUEST", async () => {
  const client = new Client();
  const cases: [object, RegExp][] = [
    [{ url: "ftp://x/" }, /unsupported protocol/],
    [{ url: "https://x/" }, /TLS/],
    [{ url: "/relative" }, /baseUrl/],
    [{ url: "http://u:p@127.0.0.1/" }, /credentials/],
    [{ url: "http://127.0.0.1:1/", method: "GE T" }, /not a token/],
    [{ url: "http://127.0.0.1:1/", headers: { "bad name": "x" } }, /not a token/],
    [{ url: "http://127.0.0.1:1/", headers: { "x-a": "a\r\nb" } }, /invalid value/],
    [{ url: "http://127.0.0.1:1/", headers: { "transfer-encoding": "chunked" } }, /set by the client/],
    [{ url: "http://127.0.0.1:1/", headers: { "content-length": "-1" } }, /digits/],
    [{ url: "http://127.0.0.1:1/", body: 42 }, /body must be/],
    [{ url: "http://127.0.0.1:1/", timeout: -5 }, /timeout/],
  ];
  for (const [opts, re] of cases) {
    const err = await client.request(opts as never).catch((e) => e);
    assert.instance(err, ClientError, JSON.stringify(opts));
    assert.is(err.code, "FARAD_ERR_INVALID_REQUEST", JSON.stringify(opts));
    assert.match(err.message, re);
  }
  assert.throws(() => new Client({ maxConnectionsPerHost: 0 }), /maxConnectionsPerHost/);
  assert.throws(() => new Client({ baseUrl: "not a url" }), /baseUrl/);
  assert.throws(() => new Client({ retry: { attempts: 0 } }), /attempts/);
  assert.throws(() => new Client({ leakDetection: "yes" as never }), /leakDetection/);
  client.close();
  const closed = await client.get("http://127.0.0.1:1/").catch((e) => e);
  assert.is(closed.code, "FARAD_ERR_CLIENT_CLOSED");
});

test("connect failures name the address and errno; localhost tries each address", async () => {
  const client = new Client();
  try {
    const n = await nodeServer((_req, res) => res.end("v4"));
    const port = n.port;
    // localhost may resolve to ::1 first; the server is on 127.0.0.1 only.
    const r = await client.get(`http://localhost:${port}/`);
    assert.is(r.text(), "v4");
    await closeNode(n.server);
    const err = await client.get(`http://127.0.0.1:${port}/`).catch((e) => e);
    assert.is(err.code, "FARAD_ERR_CONNECT");
    assert.is(err.errno, "ECONNREFUSED");
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  } finally {
    client.close();
  }
});

test("Expect: 100-continue: the body waits for 100; a refusal skips it; a silent server gets it after expectContinueTimeout", async () => {
  const n = await nodeServer((req, res) => {
    let len = 0;
    req.on("data", (c: Buffer) => (len += c.length));
    req.on("end", () => res.end(`got ${len}`));
  });
  let continued = 0;
  n.server.on("checkContinue", (req, res) => {
    if (req.url === "/refuse") {
      res.writeHead(413, { connection: "close" }).end("too big");
      return;
    }
    continued++;
    res.writeContinue();
    n.server.emit("request", req, res);
  });
  const silent = await rawServer((sock) => {
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end >= 0 && buf.length - end - 4 >= 5) sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nbody ${buf.slice(end + 4, end + 8)}`);
    });
  });
  const client = new Client({ expectContinueTimeout: 50 });
  try {
    const ok = await client.post(`http://127.0.0.1:${n.port}/up`, "x".repeat(5000), { headers: { expect: "100-continue" } });
    assert.is(ok.text(), "got 5000");
    assert.is(continued, 1);
    const streamed = await client.post(`http://127.0.0.1:${n.port}/up`, Readable.from([Buffer.alloc(70_000)]), { headers: { expect: "100-continue" } });
    assert.is(streamed.text(), "got 70000");
    const refused = await client.post(`http://127.0.0.1:${n.port}/refuse`, "y".repeat(5000), { headers: { expect: "100-continue" } });
    assert.is(refused.status, 413);
    assert.is(refused.text(), "too big");
    const late = await client.post(`http://127.0.0.1:${silent.port}/`, "hello", { headers: { expect: "100-continue" } });
    assert.is(late.text(), "body hell");
  } finally {
    client.close();
    await closeNode(n.server);
    await silent.close();
  }
});

test("client middleware runs in order around the request and can change it", async () => {
  const n = await nodeServer((req, res) => res.end(String(req.headers["x-trace"])));
  const client = new Client({ baseUrl: `http://127.0.0.1:${n.port}` });
  const order: string[] = [];
  client.use(async (req, next) => {
    order.push("a:before");
    req.headers = { ...(req.headers as object), "x-trace": "t-1" };
    const res = await next(req);
    order.push(`a:after:${res.status}`);
    return res;
  });
  client.use(async (req, next) => {
    order.push(`b:${req.method}`);
    return next(req);
  });
  try {
    const r = await client.get("/");
    assert.is(r.text(), "t-1");
    assert.equal(order, ["a:before", "b:GET", "a:after:200"]);
  } finally {
    client.close();
    await closeNode(n.server);
  }
});

test.run();
