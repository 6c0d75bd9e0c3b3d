/**
 * The reverse proxy: a farad server proxying to node:http upstreams over
 * real sockets. Bodies stream both ways (256 MiB each way with a hash
 * check and bounded memory), hop-by-hop fields are dropped, X-Forwarded-*
 * set, failures map to 502/504, and a client that leaves aborts upstream.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server as NodeServer, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";

import { Client, leastInFlight, proxy, roundRobin } from "../src/index.js";
import { startServer, until, watchdog } from "./lib/server.js";

watchdog(120_000);

const MiB = 1024 * 1024;

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: NodeServer; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

function closeNode(server: NodeServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/** `total` bytes of a repeating pattern, in 64 KiB chunks, generated lazily. */
function pattern(total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

function patternHash(total: number): string {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  const h = createHash("sha256");
  for (let sent = 0; sent < total; sent += chunk.length) h.update(total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent));
  return h.digest("hex");
}

test("headers: hop-by-hop dropped both ways (also those Connection names), X-Forwarded-* set, Host is the upstream's", async () => {
  let seen: IncomingMessage["headers"] = {};
  const up = await upstream((req, res) => {
    seen = req.headers;
    res.setHeader("connection", "x-up-private");
    res.setHeader("x-up-private", "secret");
    res.setHeader("keep-alive", "timeout=5");
    res.setHeader("x-up", "visible");
    res.end(`${req.method} ${req.url}`);
  });
  const p = proxy({ target: `http://127.0.0.1:${up.port}/base` });
  const s = await startServer((app) => app.any("/*path", p));
  const client = new Client();
  try {
    const r = await client.get(`http://127.0.0.1:${s.port}/a/b?c=d`, {
      headers: { connection: "x-private", "x-private": "no", te: "trailers", "x-forwarded-for": "10.0.0.1", "x-keep": "yes" },
    });
    assert.is(r.status, 200);
    assert.is(r.text(), "GET /base/a/b?c=d");
    assert.is(seen["x-private"], undefined);
    assert.is(seen.te, undefined);
    assert.is(seen["x-keep"], "yes");
    assert.is(seen.host, `127.0.0.1:${up.port}`);
    assert.is(seen["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert.is(seen["x-forwarded-proto"], "http");
    assert.is(seen["x-forwarded-host"], `127.0.0.1:${s.port}`);
    assert.is(r.headers["x-up"], "visible");
    assert.is(r.headers["x-up-private"], undefined);
    assert.is(r.headers["keep-alive"], undefined);
  } finally {
    client.close();
    p.close();
    await s.close();
    await closeNode(up.server);
  }
});

test("status, HEAD, 204 and 304 pass through; POST bodies of both framings arrive", async () => {
  const up = await upstream(async (req, res) => {
    let n = 0;
    for await (const c of req) n += (c as Buffer).length;
    if (req.url === "/204") return void res.writeHead(204).end();
    if (req.url === "/304") return void res.writeHead(304, { etag: '"x"' }).end();
    res.writeHead(req.url === "/teapot" ? 418 : 200, { "content-type": "text/plain", "content-length": String(String(n).length) });
    res.end(req.method === "HEAD" ? undefined : String(n));
  });
  const p = proxy({ target: `http://127.0.0.1:${up.port}` });
  const s = await startServer((app) => app.any("/*path", p));
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}` });
  try {
    assert.is((await client.get("/teapot")).status, 418);
    const h = await client.head("/x");
    assert.is(h.status, 200);
    assert.is(h.headers["content-length"], "1");
    assert.is(h.body.length, 0);
    assert.is((await client.get("/204")).status, 204);
    const nm = await client.get("/304");
    assert.is(nm.status, 304);
    assert.is(nm.headers.etag, '"x"');
    assert.is((await client.post("/len", "x".repeat(1000))).text(), "1000");
    assert.is((await client.post("/len", Readable.from([Buffer.alloc(3000), Buffer.alloc(5)]))).text(), "3005");
    assert.is((await client.get("/after")).text(), "0", "the downstream connection is still good");
  } finally {
    client.close();
    p.close();
    await s.close();
    await closeNode(up.server);
  }
});

test("upstream failures: refused -> 502, no head in time -> 504, cut mid-body -> downstream closed", async () => {
  const up = await upstream((req, res) => {
    if (req.url === "/hang") return; // never answers
    res.writeHead(200, { "content-length": "100" });
    res.write("partial");
    setTimeout(() => res.destroy(), 20);
  });
  const dead = await upstream(() => {});
  const deadPort = dead.port;
  await closeNode(dead.server);
  const good = proxy({ target: `http://127.0.0.1:${up.port}`, headersTimeout: 100 });
  const refused = proxy({ target: `http://127.0.0.1:${deadPort}` });
  const s = await startServer((app) => {
    app.get("/refused", refused);
    app.any("/*path", good);
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}` });
  try {
    const a = await client.get("/refused");
    assert.is(a.status, 502);
    assert.is(a.headers["x-farad-upstream-error"], "FARAD_ERR_CONNECT");
    const b = await client.get("/hang");
    assert.is(b.status, 504);
    assert.is(b.headers["x-farad-upstream-error"], "FARAD_ERR_HEADERS_TIMEOUT");
    const res = await client.request({ url: "/cut" });
    assert.is(res.status, 200);
    const err = await res.text().catch((e) => e);
    assert.is(err.code, "FARAD_ERR_PREMATURE_CLOSE");
  } finally {
    client.close();
    good.close();
    refused.close();
    await s.close();
    await closeNode(up.server);
  }
});

test("a downstream client that leaves aborts the upstream request", async () => {
  let upstreamClosed = false;
  let arrived = false;
  const up = await upstream((req, res) => {
    arrived = true;
    res.on("close", () => (upstreamClosed = true));
    // Never answers: only the abort can end it.
    void req;
  });
  const p = proxy({ target: `http://127.0.0.1:${up.port}` });
  const s = await startServer((app) => app.any("/*path", p));
  try {
    const sock = connect(s.port, "127.0.0.1");
    sock.write("GET /wait HTTP/1.1\r\nhost: x\r\n\r\n");
    await until(() => arrived, "request reached upstream");
    sock.destroy();
    await until(() => upstreamClosed, "upstream request aborted", 3000);
  } finally {
    p.close();
    await s.close();
    await closeNode(up.server);
  }
});

test("256 MiB through the proxy each way, hash intact, memory bounded", async () => {
  const total = 256 * MiB;
  let uploadHash = "";
  const up = await upstream(async (req, res) => {
    if (req.method === "POST") {
      const h = createHash("sha256");
      for await (const c of req) h.update(c as Buffer);
      uploadHash = h.digest("hex");
      res.end("stored");
    } else {
      res.writeHead(200, { "content-length": String(total) });
      pattern(total).pipe(res);
    }
  });
  const p = proxy({ target: `http://127.0.0.1:${up.port}` });
  const s = await startServer((app) => app.any("/*path", p), { bodyTimeout: 30_000, handlerTimeout: 60_000, writeTimeout: 30_000 });
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}`, timeout: 60_000 });
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 10);
  try {
    const up1 = await client.post("/upload", pattern(total), { headers: { "content-length": String(total) } });
    assert.is(up1.text(), "stored");
    assert.is(uploadHash, patternHash(total));
    const res = await client.request({ url: "/download" });
    const h = createHash("sha256");
    let n = 0;
    for await (const c of res.body) {
      h.update(c as Buffer);
      n += (c as Buffer).length;
    }
    assert.is(n, total);
    assert.is(h.digest("hex"), patternHash(total));
    assert.ok(peak < 96 * MiB, `array buffer memory grew by at most ${Math.round(peak / MiB)} MiB for 2 × 256 MiB`);
  } finally {
    clearInterval(sampler);
    client.close();
    p.close();
    await s.close();
    await closeNode(up.server);
  }
});

test("with a balancer: requests spread over the endpoints; a dead one is ejected and retries fail over", async () => {
  const hits = [0, 0, 0];
  const ups = await Promise.all([0, 1, 2].map((i) => upstream((_req, res) => {
    hits[i]!++;
    res.end(String(i));
  })));
  const dead = await upstream(() => {});
  const deadPort = dead.port;
  await closeNode(dead.server);
  const endpoints = ups.map((u) => `127.0.0.1:${u.port}`);
  // The client alone: round robin over three, in order.
  const b1 = roundRobin({ resolver: endpoints });
  const client = new Client({ balancer: b1 });
  try {
    const got: string[] = [];
    for (let i = 0; i < 6; i++) got.push((await client.get("/")).text());
    assert.equal(got, ["0", "1", "2", "0", "1", "2"]);
  } finally {
    client.close();
    b1.close();
  }
  // A dead endpoint among them: ejected after its failures, and idempotent
  // retries land on a live one meanwhile.
  const b2 = leastInFlight({ resolver: [...endpoints, `127.0.0.1:${deadPort}`], ejection: { consecutiveFailures: 2 } });
  const c2 = new Client({ balancer: b2, retry: { attempts: 3, baseDelay: 1, maxDelay: 2 } });
  try {
    for (let i = 0; i < 30; i++) assert.is((await c2.get("/")).status, 200);
    const deadEp = b2.endpoints().find((e) => e.port === deadPort)!;
    assert.is(deadEp.state, "ejected");
    assert.ok(b2.endpoints().every((e) => e.inFlight === 0), "every start was ended");
  } finally {
    c2.close();
    b2.close();
  }
  // Through the proxy.
  const b3 = roundRobin({ resolver: endpoints });
  const p = proxy({ balancer: b3 });
  const s = await startServer((app) => app.any("/*path", p));
  const c3 = new Client({ baseUrl: `http://127.0.0.1:${s.port}` });
  try {
    hits.fill(0);
    for (let i = 0; i < 9; i++) assert.is((await c3.get("/x")).status, 200);
    assert.equal(hits, [3, 3, 3]);
  } finally {
    c3.close();
    p.close();
    b3.close();
    await s.close();
    for (const u of ups) await closeNode(u.server);
  }
});

test("bad proxy options throw clear errors", () => {
  assert.throws(() => proxy({} as never), /exactly one of target and balancer/);
  assert.throws(() => proxy({ target: "nope" }), /not a valid URL/);
  assert.throws(() => proxy({ target: "https://x" }), /http:/);
});

test.run();
