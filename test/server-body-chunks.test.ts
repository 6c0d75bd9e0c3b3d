/**
 * ctx.bodyChunks(): the body as chunks lent until the next one is asked for.
 * Lent slabs are read into again once every chunk of them is back; chunks
 * given for good (bodyStream(), body()) keep their slab out of reuse.
 */
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ErrorCodes, HttpError } from "../src/index.js";
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

const OPTIONS = { bodyTimeout: 10_000, handlerTimeout: 30_000 };

test("bodyChunks() reads Content-Length and chunked bodies intact, reusing a few slabs", async () => {
  const slabs = new Set<ArrayBufferLike>();
  await withServer(
    (app) => {
      app.post("/hash", async (ctx) => {
        const h = createHash("sha256");
        let n = 0;
        for await (const c of ctx.bodyChunks()) {
          h.update(c);
          n += c.length;
          slabs.add(c.buffer);
        }
        ctx.json(200, { n, sha256: h.digest("hex") });
      });
    },
    OPTIONS,
    async (s) => {
      const total = 48 * MiB + 7;
      for (const length of [total, undefined]) {
        const r = await post(s.port, "/hash", pattern(5, total), length);
        assert.is(r.status, 200);
        assert.equal(JSON.parse(r.body), { n: total, sha256: sha256(pattern(5, total)) }, length ? "Content-Length" : "chunked");
      }
    },
  );
  // 96 MiB went through 1 MiB slabs; lent slabs come back and are reused.
  assert.ok(slabs.size <= 16, `${slabs.size} distinct slabs`);
});

test("slabs with chunks given for good are not reused while uploads lend and keep chunks side by side", async () => {
  const kept: Buffer[] = [];
  await withServer(
    (app) => {
      app.post("/keep", async (ctx) => {
        for await (const c of ctx.bodyStream()) kept.push(c as Buffer);
        ctx.status(204);
      });
      app.post("/lend", async (ctx) => {
        const copies: Buffer[] = [];
        for await (const c of ctx.bodyChunks()) copies.push(Buffer.from(c));
        ctx.json(200, { sha256: sha256(copies) });
      });
    },
    OPTIONS,
    async (s) => {
      const total = 16 * MiB + 3;
      const runs = await Promise.all([
        post(s.port, "/keep", pattern(1, total), total),
        post(s.port, "/lend", pattern(2, total), total),
        post(s.port, "/lend", pattern(3, total)),
      ]);
      assert.is(runs[0]!.status, 204);
      assert.is(JSON.parse(runs[1]!.body).sha256, sha256(pattern(2, total)));
      assert.is(JSON.parse(runs[2]!.body).sha256, sha256(pattern(3, total)));
      // More lent traffic after the kept chunks arrived: it must not reuse their slabs.
      const more = await post(s.port, "/lend", pattern(4, 8 * MiB), 8 * MiB);
      assert.is(JSON.parse(more.body).sha256, sha256(pattern(4, 8 * MiB)));
      assert.is(sha256(kept), sha256(pattern(1, total)), "chunks kept by bodyStream() are intact");
    },
  );
});

test("a slow bodyChunks() consumer pauses the reactor and still gets every byte", async () => {
  let peakBuffered = 0;
  await withServer(
    (app) => {
      app.post("/slow", async (ctx) => {
        const h = createHash("sha256");
        let n = 0;
        for await (const c of ctx.bodyChunks()) {
          h.update(c);
          n += c.length;
          peakBuffered = Math.max(peakBuffered, app.stats().bufferedBytes);
          if (n < 6 * MiB) await sleep(5);
        }
        ctx.json(200, { n, sha256: h.digest("hex") });
      });
    },
    OPTIONS,
    async (s) => {
      const total = 12 * MiB;
      const r = await post(s.port, "/slow", pattern(9, total), total);
      assert.equal(JSON.parse(r.body), { n: total, sha256: sha256(pattern(9, total)) });
    },
  );
  assert.ok(peakBuffered <= MiB, `reactor input buffered at most ${peakBuffered} bytes`);
});

test("bytes that came before bodyChunks() was called are lent first", async () => {
  await withServer(
    (app) => {
      app.post("/late", async (ctx) => {
        await sleep(50); // the first body events arrive meanwhile
        const h = createHash("sha256");
        let n = 0;
        for await (const c of ctx.bodyChunks()) {
          h.update(c);
          n += c.length;
        }
        ctx.json(200, { n, sha256: h.digest("hex") });
      });
    },
    OPTIONS,
    async (s) => {
      for (const total of [100, 40 * 1024, 3 * MiB]) {
        const r = await post(s.port, "/late", pattern(6, total), total);
        assert.equal(JSON.parse(r.body), { n: total, sha256: sha256(pattern(6, total)) }, `${total} bytes`);
      }
    },
  );
});

test("bodyChunks(): limit is a 413, leaving the loop early answers, and the body is read one way only", async () => {
  await withServer(
    (app) => {
      app.post("/limit", async (ctx) => {
        try {
          for await (const _ of ctx.bodyChunks({ limit: 1000 })) void _;
          ctx.status(200);
        } catch (e) {
          ctx.json(e instanceof HttpError ? e.status : 500, { code: (e as { code?: string }).code });
        }
      });
      app.post("/first", async (ctx) => {
        let first = 0;
        for await (const c of ctx.bodyChunks()) {
          first = c.length;
          break;
        }
        ctx.json(200, { first: first > 0 });
      });
      app.post("/twice", async (ctx) => {
        const it = ctx.bodyChunks();
        let threw = "";
        try {
          ctx.bodyStream();
        } catch (e) {
          threw = (e as { code: string }).code;
        }
        const rejected = await ctx.body().then(() => "", (e: { code: string }) => e.code);
        let n = 0;
        for await (const c of it) n += c.length;
        ctx.json(200, { same: it === ctx.bodyChunks(), threw, rejected, n });
      });
    },
    OPTIONS,
    async (s) => {
      const big = await post(s.port, "/limit", pattern(1, 5000), 5000);
      assert.equal([big.status, JSON.parse(big.body).code], [413, ErrorCodes.BODY_TOO_LARGE]);
      const chunked = await post(s.port, "/limit", pattern(1, 3 * MiB));
      assert.is(chunked.status, 413);
      const early = await post(s.port, "/first", pattern(1, 8 * MiB), 8 * MiB);
      assert.equal([early.status, JSON.parse(early.body)], [200, { first: true }]);
      const twice = await post(s.port, "/twice", pattern(1, 70_000), 70_000);
      assert.equal(JSON.parse(twice.body), { same: true, threw: ErrorCodes.BODY_ABORTED, rejected: ErrorCodes.BODY_ABORTED, n: 70_000 });
      // The server is still well after all that.
      const again = await post(s.port, "/first", pattern(2, 1000), 1000);
      assert.is(again.status, 200);
    },
  );
});

test.run();
