/**
 * The pool: connection limits, the bounded queue and its timeout, LIFO
 * reuse, idle expiry, servers that close idle connections (detected, and
 * an idempotent request sent again once), Connection: close, Keep-Alive
 * timeouts, pipelining.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";

import { Client } from "../src/index.js";
import { onHeads, rawServer } from "./lib/raw-server.js";
import { startServer, until, watchdog } from "./lib/server.js";

watchdog(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("maxConnectionsPerHost bounds connections; the queue is served in order; a full queue fails at once", async () => {
  const s = await startServer((app) => {
    app.get("/slow/:i", async (ctx) => {
      await sleep(30);
      ctx.string(200, ctx.param("i")!);
    });
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}`, maxConnectionsPerHost: 3, maxQueue: 5 });
  try {
    const done: string[] = [];
    const ps = Array.from({ length: 8 }, (_, i) => client.get(`/slow/${i}`).then((r) => done.push(r.text())));
    await sleep(5);
    assert.is(client.stats().connections, 3);
    assert.is(client.stats().queued, 5);
    const err = await client.get("/slow/x").catch((e) => e);
    assert.is(err.code, "FARAD_ERR_POOL_QUEUE_FULL");
    await Promise.all(ps);
    assert.is(done.length, 8);
    assert.is(s.app.stats().accepted, 3);
  } finally {
    client.close();
    await s.close();
  }
});

test("a request waiting longer than queueTimeout fails with FARAD_ERR_POOL_QUEUE_TIMEOUT and leaves the queue", async () => {
  const s = await startServer((app) => {
    app.get("/slow", async (ctx) => {
      await sleep(300);
      ctx.string(200, "done");
    });
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}`, maxConnectionsPerHost: 1, queueTimeout: 50 });
  try {
    const first = client.get("/slow");
    const t0 = Date.now();
    const err = await client.get("/slow").catch((e) => e);
    assert.is(err.code, "FARAD_ERR_POOL_QUEUE_TIMEOUT");
    assert.ok(Date.now() - t0 < 250, "failed long before the first finished");
    assert.is(client.stats().queued, 0);
    assert.is((await first).text(), "done");
  } finally {
    client.close();
    await s.close();
  }
});

test("idle connections are reused last-in first-out and closed after maxIdleTime", async () => {
  const s = await startServer((app) => {
    app.get("/", async (ctx) => {
      await sleep(20);
      ctx.string(200, "ok");
    });
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}`, maxIdleTime: 150 });
  try {
    // Three connections, released in order a, b, c: c is the warmest.
    const rs = await Promise.all([client.request({ url: "/" }), client.request({ url: "/" }), client.request({ url: "/" })]);
    for (const r of rs) {
      await r.text();
      await sleep(5);
    }
    assert.is(client.stats().idle, 3);
    // Sequential requests all take the same (most recent) connection.
    for (let i = 0; i < 5; i++) await client.get("/");
    assert.is(s.app.stats().accepted, 3);
    await until(() => client.stats().connections === 0, "idle connections closed after maxIdleTime", 2000);
    await until(() => s.app.stats().connections === 0, "server saw them close");
  } finally {
    client.close();
    await s.close();
  }
});

test("a server closing idle connections: detected while idle; a request racing the close is sent again once", async () => {
  let n = 0;
  // Answers one request per connection with keep-alive, then closes after a delay.
  const raw = await rawServer((sock) =>
    onHeads(sock, () => {
      n++;
      sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${n % 10}`);
      setTimeout(() => sock.end(), 30);
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}` });
  try {
    await client.get("/");
    await until(() => client.stats().connections === 0, "the close was seen while idle");
    assert.is((await client.get("/")).status, 200);
    assert.is(raw.accepted, 2);
  } finally {
    client.close();
    await raw.close();
  }
  // Now a server that drops the connection the moment a second request arrives on it.
  const dropper = await rawServer((sock) => {
    let served = 0;
    onHeads(sock, () => {
      if (served++ === 0) sock.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      else sock.destroy();
    });
  });
  const c2 = new Client({ baseUrl: `http://127.0.0.1:${dropper.port}` });
  try {
    assert.is((await c2.get("/")).text(), "ok");
    // GET on the reused connection fails before any response byte: retried on a fresh one.
    assert.is((await c2.get("/")).text(), "ok");
    assert.is(dropper.accepted, 2);
    // POST is not idempotent: not retried.
    const err = await c2.post("/", "x").catch((e) => e);
    assert.is(err.code, "FARAD_ERR_SOCKET_CLOSED");
    assert.is(dropper.accepted, 2);
  } finally {
    c2.close();
    await dropper.close();
  }
});

test("Connection: close from the server and Keep-Alive: timeout are honoured", async () => {
  const raw = await rawServer((sock, i) =>
    onHeads(sock, (head) => {
      if (head.startsWith("GET /close")) sock.write("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nc");
      else sock.write(`HTTP/1.1 200 OK\r\nkeep-alive: timeout=1\r\ncontent-length: 1\r\n\r\n${i}`);
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}` });
  try {
    await client.get("/close");
    assert.is(client.stats().connections, 0, "closed after the response");
    await client.get("/close");
    assert.is(raw.accepted, 2);
    // timeout=1 means reuse only within (1 s - 1 s margin): not at all.
    await client.get("/ka");
    await sleep(20);
    await client.get("/ka");
    assert.is(raw.accepted, 4);
  } finally {
    client.close();
    await raw.close();
  }
});

test("the client answers a request's Connection: close by closing after the response", async () => {
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "x")));
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}` });
  try {
    const r = await client.get("/", { headers: { connection: "close" } });
    assert.is(r.text(), "x");
    await until(() => client.stats().connections === 0, "closed");
  } finally {
    client.close();
    await s.close();
  }
});

test("pipelining: several requests in flight on one connection, answers in order", async () => {
  let maxInFlight = 0;
  const raw = await rawServer((sock) => {
    const pending: string[] = [];
    onHeads(sock, (head) => {
      pending.push(head.split(" ")[1]!);
      maxInFlight = Math.max(maxInFlight, pending.length);
      // Answer in a batch once four are waiting (or after a pause).
      const flush = () => {
        while (pending.length) {
          const p = pending.shift()!;
          sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${p.length}\r\n\r\n${p}`);
        }
      };
      if (pending.length >= 4) flush();
      else setTimeout(flush, 50);
    });
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, maxConnectionsPerHost: 1, pipelining: 4 });
  try {
    // The first request opens the connection; the rest pipeline behind it.
    const first = client.get("/0");
    await sleep(10);
    const rest = [1, 2, 3].map((i) => client.get(`/${i}`));
    const texts = (await Promise.all([first, ...rest])).map((r) => r.text());
    assert.equal(texts, ["/0", "/1", "/2", "/3"]);
    assert.is(raw.accepted, 1);
    assert.ok(maxInFlight >= 2, `requests were pipelined (max ${maxInFlight} in flight)`);
  } finally {
    client.close();
    await raw.close();
  }
});

test("client.close() fails what is queued and in flight with FARAD_ERR_CLIENT_CLOSED and closes every socket", async () => {
  const s = await startServer((app) => {
    app.get("/hang", async (ctx) => {
      await sleep(500);
      ctx.string(200, "late");
    });
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${s.port}`, maxConnectionsPerHost: 1 });
  const a = client.get("/hang").catch((e) => e);
  const b = client.get("/hang").catch((e) => e);
  await sleep(20);
  client.close();
  client.close();
  assert.is((await a).code, "FARAD_ERR_CLIENT_CLOSED");
  assert.is((await b).code, "FARAD_ERR_CLIENT_CLOSED");
  assert.equal(client.stats(), { connections: 0, idle: 0, inflight: 0, queued: 0, leakedResponses: 0 });
  await until(() => s.app.stats().connections === 0, "server saw the close");
  await s.close();
});

test.run();
