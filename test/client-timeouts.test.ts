/**
 * Every timeout raises its own code; the signal aborts at any point;
 * retries follow the policy (attempts, statuses, errors, idempotency,
 * replayable bodies only, Retry-After).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Readable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";

import { Client } from "../src/index.js";
import { onHeads, rawServer } from "./lib/raw-server.js";
import { until, watchdog } from "./lib/server.js";

watchdog(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A listener that never accepts, its one-slot accept queue filled: further
 * SYNs are dropped, so connects hang (a black hole on loopback).
 */
async function blackHole(): Promise<{ port: number; stop(): void }> {
  const py = `
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(port, flush=True)
time.sleep(60)
`;
  const child: ChildProcess = spawn("python3", ["-c", py], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once("error", reject);
  });
  return { port, stop: () => child.kill() };
}

test("connect timeout: FARAD_ERR_CONNECT_TIMEOUT after connectTimeout", async () => {
  const hole = await blackHole();
  const client = new Client({ connectTimeout: 150 });
  try {
    const t0 = Date.now();
    const err = await client.get(`http://127.0.0.1:${hole.port}/`).catch((e) => e);
    const took = Date.now() - t0;
    assert.is(err.code, "FARAD_ERR_CONNECT_TIMEOUT");
    assert.ok(took >= 140 && took < 1000, `took ${took} ms`);
    assert.is(client.stats().connections, 0);
    // A per-request override.
    const err2 = await client.get(`http://127.0.0.1:${hole.port}/`, { connectTimeout: 50 }).catch((e) => e);
    assert.is(err2.code, "FARAD_ERR_CONNECT_TIMEOUT");
    // The signal aborts a connect in progress.
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("user gave up")), 30);
    const err3 = await client.get(`http://127.0.0.1:${hole.port}/`, { signal: ac.signal, connectTimeout: 5000 }).catch((e) => e);
    assert.is(err3.code, "FARAD_ERR_ABORTED");
    assert.is(err3.cause.message, "user gave up");
    await until(() => client.stats().connections === 0, "aborted connect closed");
  } finally {
    client.close();
    hole.stop();
  }
});

test("headers timeout, body timeout and whole-request timeout each raise their own code", async () => {
  const raw = await rawServer((sock) =>
    onHeads(sock, (head) => {
      const path = head.split(" ")[1];
      if (path === "/silent") return; // never answers
      if (path === "/stall") {
        sock.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"); // then nothing
        return;
      }
      // /drip: a byte every 20 ms, forever.
      sock.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
      const t = setInterval(() => sock.write("1\r\nx\r\n"), 20);
      sock.on("close", () => clearInterval(t));
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, headersTimeout: 100, bodyTimeout: 100 });
  try {
    let err = await client.get("/silent").catch((e) => e);
    assert.is(err.code, "FARAD_ERR_HEADERS_TIMEOUT");
    const res = await client.request({ url: "/stall" });
    err = await res.text().catch((e) => e);
    assert.is(err.code, "FARAD_ERR_BODY_TIMEOUT");
    // The drip never idles for 100 ms, so only the whole-request timeout ends it.
    err = await client.get("/drip", { timeout: 250 }).catch((e) => e);
    assert.is(err.code, "FARAD_ERR_REQUEST_TIMEOUT");
    await until(() => client.stats().connections === 0 && raw.sockets.size === 0, "every timed-out connection closed");
  } finally {
    client.close();
    await raw.close();
  }
});

test("a slow reader does not trip the body timeout (reading was paused for it)", async () => {
  const raw = await rawServer((sock) =>
    onHeads(sock, () => {
      sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${1024 * 1024}\r\n\r\n`);
      sock.write(Buffer.alloc(1024 * 1024, 1));
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, bodyTimeout: 60, highWaterMark: 16 * 1024 });
  try {
    const res = await client.request({ url: "/" });
    await sleep(200); // reader away for longer than the body timeout
    assert.is((await res.bytes()).length, 1024 * 1024);
  } finally {
    client.close();
    await raw.close();
  }
});

test("the signal aborts while queued, while waiting for the head, and while reading the body", async () => {
  const raw = await rawServer((sock) =>
    onHeads(sock, (head) => {
      if (head.startsWith("GET /body")) sock.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab");
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, maxConnectionsPerHost: 1 });
  try {
    const ac1 = new AbortController();
    const holding = client.get("/silent", { signal: ac1.signal }).catch((e) => e);
    const ac2 = new AbortController();
    const queued = client.get("/silent", { signal: ac2.signal }).catch((e) => e);
    await sleep(20);
    assert.is(client.stats().queued, 1);
    ac2.abort();
    assert.is((await queued).code, "FARAD_ERR_ABORTED");
    assert.is(client.stats().queued, 0);
    ac1.abort();
    assert.is((await holding).code, "FARAD_ERR_ABORTED");
    const ac3 = new AbortController();
    const res = await client.request({ url: "/body", signal: ac3.signal });
    const reading = res.text().catch((e) => e);
    ac3.abort();
    assert.is((await reading).code, "FARAD_ERR_ABORTED");
    // Already aborted: fails at once.
    const err = await client.get("/x", { signal: AbortSignal.abort() }).catch((e) => e);
    assert.is(err.code, "FARAD_ERR_ABORTED");
    await until(() => client.stats().connections === 0 && client.stats().inflight === 0, "all closed");
  } finally {
    client.close();
    await raw.close();
  }
});

test("retries: statuses with Retry-After, errors with backoff; only idempotent or opted-in methods; never streamed bodies", async () => {
  let hits = 0;
  const raw = await rawServer((sock) =>
    onHeads(sock, (head) => {
      const path = head.split(" ")[1];
      if (path === undefined) return; // a chunked body's end, not a head
      hits++;
      if (path.startsWith("/flaky") && hits % 3 !== 0) {
        sock.write("HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 4\r\n\r\nbusy");
      } else if (path.startsWith("/drop") && hits % 3 !== 0) {
        sock.destroy(); // closed before any response byte, on a fresh connection
      } else {
        sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`);
      }
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, retry: { attempts: 3, baseDelay: 5, maxDelay: 20 } });
  try {
    hits = 0;
    assert.is((await client.get("/flaky")).status, 200);
    assert.is(hits, 3, "two 503s retried");
    hits = 0;
    assert.is((await client.get("/drop")).text(), "ok");
    assert.is(hits, 3, "two dropped connections retried");
    hits = 0;
    const post = await client.post("/flaky", "x");
    assert.is(post.status, 503, "POST is not retried by default");
    assert.is(hits, 1);
    hits = 0;
    const opted = await client.post("/flaky", "x", { idempotent: true });
    assert.is(opted.status, 200);
    assert.is(hits, 3);
    hits = 0;
    const streamed = await client.post("/flaky", Readable.from(["x"]), { retry: { nonIdempotent: true } });
    assert.is(streamed.status, 503, "a streamed body cannot be replayed");
    assert.is(hits, 1);
    hits = 0;
    const once = await client.get("/flaky", { retry: false });
    assert.is(once.status, 503);
    assert.is(hits, 1);
    hits = 0;
    const two = await client.get("/flaky", { retry: { attempts: 2 } });
    assert.is(two.status, 503, "gives the last answer when attempts run out");
    assert.is(hits, 2);
  } finally {
    client.close();
    await raw.close();
  }
});

test("a headers timeout listed in retry.errors is retried when no response byte had arrived", async () => {
  let hits = 0;
  const raw = await rawServer((sock) =>
    onHeads(sock, () => {
      if (++hits < 3) return; // silent twice, then answers
      sock.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, headersTimeout: 60, retry: { attempts: 3, baseDelay: 1, errors: ["FARAD_ERR_HEADERS_TIMEOUT"] } });
  try {
    assert.is((await client.get("/")).text(), "ok");
    assert.is(hits, 3);
    // Not listed (the default): one attempt.
    hits = 0;
    const err = await client.get("/", { retry: { attempts: 3, errors: [] } }).catch((e) => e);
    assert.is(err.code, "FARAD_ERR_HEADERS_TIMEOUT");
    assert.is(hits, 1);
    // A large upload to a slow reader is not timed by headersTimeout.
  } finally {
    client.close();
    await raw.close();
  }
});

test("headersTimeout starts once the request is sent: a slow upload is not cut by it", async () => {
  const total = 32 * 1024 * 1024; // far more than the socket buffers hold
  const raw = await rawServer((sock) => {
    let got = 0;
    sock.pause();
    setTimeout(() => sock.resume(), 400); // the server is busy for a while
    sock.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= total) sock.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
  });
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, headersTimeout: 100 });
  try {
    const t0 = Date.now();
    const r = await client.post("/", Buffer.alloc(total));
    assert.is(r.text(), "ok");
    assert.ok(Date.now() - t0 >= 350, "the upload really was held up");
  } finally {
    client.close();
    await raw.close();
  }
});

test("unknown client options are refused", () => {
  assert.throws(() => new Client({ maxConnections: 5 } as never), /unknown client option "maxConnections"/);
});

test.run();
