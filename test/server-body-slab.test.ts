/**
 * Request bodies read into the transport's body slabs (native/server/layout.h):
 * chunks are views that the reactor never writes again, whatever the slab
 * refills, the interleaving of connections, the framing or the pace.
 */
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BODY_SLAB_BYTES } from "../src/transport/native.js";
import { RawClient } from "./lib/raw-client.js";
import { watchdog, withServer } from "./lib/server.js";

watchdog(60_000);

const MiB = 1024 * 1024;

/** `total` bytes in blocks of `size`, block i filled with (seed + i * 13) & 0xff. */
function* pattern(seed: number, total: number, size = 61 * 1024): Generator<Buffer> {
  for (let sent = 0, i = 0; sent < total; i++) {
    const n = Math.min(size, total - sent);
    yield Buffer.alloc(n, (seed + i * 13) & 0xff);
    sent += n;
  }
}

function sha256(chunks: Iterable<Uint8Array>): string {
  const h = createHash("sha256");
  for (const c of chunks) h.update(c);
  return h.digest("hex");
}

function post(port: number, path: string, body: Iterable<Buffer>, length?: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, method: "POST", headers: length === undefined ? {} : { "content-length": String(length) } },
      (res: IncomingMessage) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on("error", reject);
    Readable.from(body).pipe(req);
  });
}

test("chunks kept by handlers stay intact across slab refills and interleaved uploads, both framings", async () => {
  const kept = new Map<string, Buffer[]>();
  await withServer(
    (app) => {
      app.post("/keep/:id", async (ctx) => {
        const chunks: Buffer[] = [];
        kept.set(ctx.param("id")!, chunks);
        for await (const c of ctx.bodyStream()) chunks.push(c as Buffer);
        ctx.json(200, { n: chunks.reduce((s, c) => s + c.length, 0) });
      });
    },
    { bodyTimeout: 10_000, handlerTimeout: 30_000 },
    async (s) => {
      // Four uploads at once, each many slabs long: their chunks share slabs.
      const total = 12 * MiB + 12345;
      const uploads = [0, 1, 2, 3].map((k) =>
        post(s.port, `/keep/${k}`, pattern(k * 61, total), k % 2 === 0 ? total : undefined),
      );
      for (const r of await Promise.all(uploads)) assert.equal([r.status, JSON.parse(r.body)], [200, { n: total }]);
      // Only now, after every slab has been filled and replaced, compare.
      for (const k of [0, 1, 2, 3]) {
        assert.is(sha256(kept.get(String(k))!), sha256(pattern(k * 61, total)), `upload ${k}`);
      }
    },
  );
});

test("chunks are 8-byte aligned views of body slabs, larger than one socket block when the consumer keeps up", async () => {
  let biggest = 0;
  let views = true;
  let aligned = true;
  await withServer(
    (app) => {
      app.post("/sink", async (ctx) => {
        for await (const c of ctx.bodyStream()) {
          const b = c as Buffer;
          biggest = Math.max(biggest, b.length);
          if (b.buffer.byteLength !== BODY_SLAB_BYTES) views = false;
          if (b.byteOffset % 8 !== 0) aligned = false;
        }
        ctx.status(204);
      });
    },
    { bodyTimeout: 10_000, handlerTimeout: 30_000 },
    async (s) => {
      const total = 64 * MiB;
      const r = await post(s.port, "/sink", pattern(1, total, MiB), total);
      assert.is(r.status, 204);
    },
  );
  assert.ok(views, "every chunk is a view of a body slab");
  assert.ok(aligned, "every chunk starts 8-byte aligned");
  assert.ok(biggest > 64 * 1024 && biggest <= BODY_SLAB_BYTES, `largest chunk ${biggest} bytes`);
});

test("a body that arrives with its head, then alone, then with the next request is read to its last byte and no further", async () => {
  await withServer(
    (app) => {
      app.post("/len", async (ctx) => {
        const body = await ctx.body();
        ctx.json(200, { n: body.length, sha256: sha256([body]) });
      });
      app.get("/after", (ctx) => ctx.string(200, "after"));
    },
    { bodyLimit: 8 * MiB },
    async (s) => {
      const body = Buffer.concat([...pattern(7, 3 * MiB + 5)]);
      const c = await RawClient.connect(s.port);
      try {
        // Head and the first bytes together (the head's read), a large middle
        // (read straight into slabs), the tail with a pipelined request.
        await c.write(Buffer.concat([Buffer.from(`POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body.subarray(0, 1000)]));
        await sleep(20);
        await c.write(body.subarray(1000, body.length - 10));
        await sleep(20);
        await c.write(Buffer.concat([body.subarray(body.length - 10), Buffer.from("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")]));
        const [first, second] = await c.readResponses(2, { timeout: 5000 });
        assert.is(first!.status, 200);
        assert.equal(JSON.parse(first!.body.toString()), { n: body.length, sha256: sha256([body]) });
        assert.is(second!.status, 200);
        assert.is(second!.body.toString(), "after");
      } finally {
        c.destroy();
      }
    },
  );
});

test("a slow consumer pauses the reactor and gets every byte once it catches up", async () => {
  await withServer(
    (app) => {
      app.post("/slow", async (ctx) => {
        const h = createHash("sha256");
        let n = 0;
        for await (const c of ctx.bodyStream()) {
          h.update(c as Buffer);
          n += (c as Buffer).length;
          if (n < 8 * MiB) await sleep(5);
        }
        ctx.json(200, { n, sha256: h.digest("hex") });
      });
    },
    { bodyTimeout: 10_000, handlerTimeout: 30_000 },
    async (s) => {
      const total = 16 * MiB;
      for (const length of [total, undefined]) {
        const r = await post(s.port, "/slow", pattern(3, total), length);
        assert.is(r.status, 200);
        assert.equal(JSON.parse(r.body), { n: total, sha256: sha256(pattern(3, total)) });
      }
    },
  );
});

test.run();
