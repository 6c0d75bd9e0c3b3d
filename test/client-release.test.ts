/**
 * Explicit reuse: a streamed response holds its connection until it is read
 * to the end, released or closed; each does what it says, idempotently and
 * after errors; a dropped response is reported by the leak detector.
 */
import { createServer, type Server as NodeServer } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { test } from "uvu";
import * as assert from "uvu/assert";

import { Client, ClientError, type ClientResponse } from "../src/index.js";
import { onHeads, rawServer } from "./lib/raw-server.js";
import { until, watchdog } from "./lib/server.js";

watchdog(60_000);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const KiB = 1024;

interface Upstream {
  server: NodeServer;
  port: number;
  accepted: () => number;
  open: () => number;
}

/** /size/N answers N bytes ('a'..'z' repeating); chunked when ?chunked. */
async function upstream(): Promise<Upstream> {
  let accepted = 0;
  let open = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    const n = Number(url.pathname.split("/")[2] ?? 0);
    const body = Buffer.alloc(n);
    for (let i = 0; i < n; i++) body[i] = 97 + (i % 26);
    if (!url.searchParams.has("chunked")) res.setHeader("content-length", n);
    // Write in pieces so large bodies really stream.
    let off = 0;
    const pump = () => {
      while (off < n) {
        const end = Math.min(n, off + 64 * KiB);
        const ok = res.write(body.subarray(off, end));
        off = end;
        if (!ok) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  server.on("connection", (s) => {
    accepted++;
    open++;
    s.on("close", () => open--);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port, accepted: () => accepted, open: () => open };
}

function closeUpstream(u: Upstream): Promise<void> {
  u.server.closeAllConnections();
  return new Promise((r) => u.server.close(() => r()));
}

function expected(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 97 + (i % 26);
  return b;
}

test("a streamed body read to the end gives the connection back; the next request reuses it", async () => {
  const u = await upstream();
  const client = new Client({ baseUrl: `http://127.0.0.1:${u.port}` });
  try {
    for (const path of ["/size/5000000", "/size/5000000?chunked", "/size/0"]) {
      const res = await client.request({ url: path });
      const parts: Buffer[] = [];
      for await (const c of res.body) parts.push(c as Buffer);
      assert.ok(Buffer.concat(parts).equals(expected(Number(path.split("/")[2]!.split("?")[0]))), path);
      await until(() => client.stats().idle === 1, "connection back in the pool");
    }
    assert.is(u.accepted(), 1);
  } finally {
    client.close();
    await closeUpstream(u);
  }
});

test("an unread response holds its connection (reading pauses at the high-water mark) until released", async () => {
  const u = await upstream();
  const client = new Client({ baseUrl: `http://127.0.0.1:${u.port}`, maxConnectionsPerHost: 1, highWaterMark: 64 * KiB, queueTimeout: 300 });
  try {
    const res = await client.request({ url: "/size/8000000" });
    await new Promise((r) => setTimeout(r, 50));
    assert.is(client.stats().inflight, 1, "the response is in flight while unread");
    // The pool's only connection is held: a second request waits and times out.
    const err = await client.get("/size/1").catch((e) => e);
    assert.is(err.code, "FARAD_ERR_POOL_QUEUE_TIMEOUT");
    // A large remainder is not drained: release() closes the connection.
    res.release();
    await until(() => client.stats().connections === 0, "connection closed");
    assert.is((await client.get("/size/3")).text(), "abc");
    assert.is(u.accepted(), 2);
  } finally {
    client.close();
    await closeUpstream(u);
  }
});

test("release() drains a small remainder and reuses the connection; past maxDrainBytes it closes", async () => {
  const u = await upstream();
  const client = new Client({ baseUrl: `http://127.0.0.1:${u.port}`, maxDrainBytes: 256 * KiB, highWaterMark: 16 * KiB });
  try {
    // Known length, small: drained.
    const a = await client.request({ url: "/size/200000" });
    a.release();
    await until(() => client.stats().idle === 1, "drained and back");
    // Chunked, small: drained too.
    const b = await client.request({ url: "/size/100000?chunked" });
    b.release();
    await until(() => client.stats().idle === 1 && client.stats().inflight === 0, "drained chunked and back");
    assert.is(u.accepted(), 1, "both drained on the first connection");
    // Chunked, large: unknown remainder, drained up to the cap, then closed.
    const c = await client.request({ url: "/size/4000000?chunked" });
    c.release();
    await until(() => client.stats().connections === 0, "closed past the cap");
    // Idempotent, and the body cannot be used afterwards.
    c.release();
    c.close();
    assert.throws(() => c.body, (e: ClientError) => e.code === "FARAD_ERR_BODY_USED");
    const err = await c.text().catch((e) => e);
    assert.is(err.code, "FARAD_ERR_BODY_USED");
    assert.is((await client.get("/size/2")).text(), "ab");
  } finally {
    client.close();
    await closeUpstream(u);
  }
});

test("close() closes the connection at once unless the body already arrived whole", async () => {
  const u = await upstream();
  const client = new Client({ baseUrl: `http://127.0.0.1:${u.port}` });
  try {
    const big = await client.request({ url: "/size/8000000" });
    big.close();
    assert.is(client.stats().connections, 0);
    await until(() => u.open() === 0, "server saw the close");
    const small = await client.request({ url: "/size/10" });
    await until(() => client.stats().idle === 1, "whole body arrived, connection back");
    small.close(); // nothing to close: the connection is already reused
    small.close();
    assert.is(client.stats().idle, 1);
    assert.is(u.accepted(), 2);
  } finally {
    client.close();
    await closeUpstream(u);
  }
});

test("destroying the body stream early closes the connection; await using releases", async () => {
  const u = await upstream();
  const client = new Client({ baseUrl: `http://127.0.0.1:${u.port}` });
  try {
    const res = await client.request({ url: "/size/8000000" });
    for await (const _ of res.body) break; // the iterator destroys the stream
    await until(() => client.stats().connections === 0, "closed");
    {
      await using r = await client.request({ url: "/size/1000" });
      assert.is(r.status, 200);
    }
    await until(() => client.stats().idle === 1 && client.stats().inflight === 0, "released by await using");
    assert.is(client.stats().leakedResponses, 0);
  } finally {
    client.close();
    await closeUpstream(u);
  }
});

test("text(), json() and bytes() read the whole body and release; a second read is FARAD_ERR_BODY_USED", async () => {
  const raw = await rawServer((sock) =>
    onHeads(sock, () => sock.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{"a":[1]}')),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}` });
  try {
    const r1 = await client.request({ url: "/" });
    assert.equal(await r1.json(), { a: [1] });
    const again = await r1.text().catch((e) => e);
    assert.is(again.code, "FARAD_ERR_BODY_USED");
    const r2 = await client.request({ url: "/" });
    assert.is((await r2.bytes()).toString(), '{"a":[1]}');
    assert.is(raw.accepted, 1);
  } finally {
    client.close();
    await raw.close();
  }
});

test("errors after the head reach the body reader; release() and close() stay safe", async () => {
  const raw = await rawServer((sock) =>
    onHeads(sock, () => {
      sock.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly-some");
      setTimeout(() => sock.destroy(), 20);
    }),
  );
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}` });
  try {
    const r1 = await client.request({ url: "/" });
    const err = await r1.text().catch((e) => e);
    assert.is(err.code, "FARAD_ERR_PREMATURE_CLOSE");
    r1.release();
    r1.close();
    const r2 = await client.request({ url: "/" });
    const parts: Buffer[] = [];
    const streamErr = await (async () => {
      for await (const c of r2.body) parts.push(c as Buffer);
    })().catch((e) => e);
    assert.is(streamErr.code, "FARAD_ERR_PREMATURE_CLOSE");
    assert.is(Buffer.concat(parts).toString(), "only-some");
    r2.close();
    assert.is(client.stats().inflight, 0);
  } finally {
    client.close();
    await raw.close();
  }
});

test("a response dropped without release is reported once, with where it was made, and its connection is closed", async () => {
  const u = await upstream();
  const leaks: ClientError[] = [];
  const client = new Client({ baseUrl: `http://127.0.0.1:${u.port}`, onLeak: (e) => leaks.push(e) });
  try {
    await (async function makeALeak() {
      await client.request({ url: "/size/4000000" }); // dropped on the floor
    })();
    await until(
      () => {
        gc();
        return leaks.length > 0;
      },
      "leak reported",
      5000,
    );
    assert.is(leaks.length, 1);
    assert.is(leaks[0]!.code, "FARAD_ERR_RESPONSE_LEAKED");
    assert.match(leaks[0]!.stack!, /makeALeak/);
    assert.is(client.stats().leakedResponses, 1);
    await until(() => client.stats().connections === 0, "leaked connection closed");
    // Released, consumed and no-body responses are never reported.
    const kept: ClientResponse[] = [];
    await (async () => {
      const a = await client.request({ url: "/size/100" });
      a.release();
      const b = await client.request({ url: "/size/100" });
      await b.text();
      const c = await client.request({ url: "/size/0" });
      kept.push(c);
    })();
    kept.length = 0;
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(leaks.length, 1);
  } finally {
    client.close();
    await closeUpstream(u);
  }
});

test("text()/bytes() and the helpers stop at maxBodySize with FARAD_ERR_RESPONSE_TOO_LARGE and close the connection", async () => {
  const u = await upstream();
  const client = new Client({ baseUrl: `http://127.0.0.1:${u.port}`, maxBodySize: 1000000 });
  try {
    const declared = await client.request({ url: "/size/3000000" });
    let err = await declared.text().catch((e) => e);
    assert.is(err.code, "FARAD_ERR_RESPONSE_TOO_LARGE");
    err = await client.get("/size/3000000?chunked").catch((e) => e);
    assert.is(err.code, "FARAD_ERR_RESPONSE_TOO_LARGE");
    await until(() => client.stats().connections === 0 && client.stats().inflight === 0, "closed");
    // A stream is not limited; a per-request limit overrides.
    const s = await client.request({ url: "/size/3000000" });
    let n = 0;
    for await (const c of s.body) n += (c as Buffer).length;
    assert.is(n, 3000000);
    assert.is((await client.get("/size/3000000", { maxBodySize: 4000000 })).body.length, 3000000);
  } finally {
    client.close();
    await closeUpstream(u);
  }
});

test("a reader suspended in for-await between slow chunks is not collected (no false leak report, no lost body)", async () => {
  const raw = await rawServer((sock) =>
    onHeads(sock, () => {
      sock.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
      let i = 0;
      const t = setInterval(() => {
        if (i++ < 8) sock.write("4\r\npart\r\n");
        else {
          clearInterval(t);
          sock.write("0\r\n\r\n");
        }
      }, 15);
      sock.on("close", () => clearInterval(t));
    }),
  );
  const leaks: ClientError[] = [];
  const client = new Client({ baseUrl: `http://127.0.0.1:${raw.port}`, onLeak: (e) => leaks.push(e) });
  const collector = setInterval(gc, 3);
  try {
    const res = await client.request({ url: "/" });
    let text = "";
    for await (const c of res.body) text += (c as Buffer).toString();
    assert.is(text, "part".repeat(8));
    assert.is(leaks.length, 0);
  } finally {
    clearInterval(collector);
    client.close();
    await raw.close();
  }
});

test.run();
