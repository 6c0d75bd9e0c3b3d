/**
 * Batch boundaries of the shared tables, seen from the wire: pipelined
 * requests whose headers overflow the header table, inline bodies that fill
 * the input region, and handlers that read their request only after the
 * batch that delivered it has ended (so from a detached copy).
 */
import { createHash } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { RawClient } from "./lib/raw-client.js";
import { startServer, watchdog, type TestServer } from "./lib/server.js";

watchdog(20_000);

function md5(b: Buffer): string {
  return createHash("md5").update(b).digest("hex");
}

function routes(app: Server): void {
  app.get("/h/:id", (ctx) => ctx.string(200, `${ctx.param("id")} ${ctx.headers().length} ${ctx.header("x-last")}`));
  app.get("/ah/:id", async (ctx) => {
    await new Promise((r) => setImmediate(r));
    ctx.string(200, `${ctx.param("id")} ${ctx.headers().length} ${ctx.header("x-last")}`);
  });
  app.post("/late/:id", async (ctx) => {
    await new Promise((r) => setTimeout(r, 2));
    const b = await ctx.body();
    ctx.string(200, `${ctx.param("id")} ${ctx.header("x-id")} ${ctx.path} ${b.length} ${md5(b)}`);
  });
}

let s: TestServer;
test.before(async () => {
  s = await startServer(routes, { bodyLimit: 8 << 20 });
});
test.after(async () => {
  await s.close();
});

async function pipeline(reqs: Buffer[], expect: string[]): Promise<void> {
  const c = await RawClient.connect(s.port);
  try {
    const writing = c.write(Buffer.concat(reqs));
    const rs = await c.readResponses(expect.length, { timeout: 5000 });
    await writing;
    const got = rs.map((r) => `${r.status} ${r.text()}`);
    const want = expect.map((e) => `200 ${e}`);
    const firstBad = got.findIndex((g, i) => g !== want[i]);
    assert.is(firstBad, -1, firstBad >= 0 ? `response ${firstBad}: ${got[firstBad]} instead of ${want[firstBad]}` : "");
  } finally {
    c.destroy();
  }
}

test("200 pipelined requests of 100 header fields each (more rows than one batch holds), sync and async", async () => {
  const reqs: Buffer[] = [];
  const expect: string[] = [];
  for (let i = 0; i < 200; i++) {
    let h = "Host: t\r\n";
    for (let k = 0; k < 98; k++) h += `X-${k}: ${i}-${k}\r\n`;
    h += `X-Last: L${i}\r\n`;
    reqs.push(Buffer.from(`GET /${i % 2 ? "ah" : "h"}/${i} HTTP/1.1\r\n${h}\r\n`));
    expect.push(`${i} 100 L${i}`);
  }
  await pipeline(reqs, expect);
});

test("60 pipelined requests with ~60 KiB bodies (several input regions), read after the batch ended", async () => {
  const reqs: Buffer[] = [];
  const expect: string[] = [];
  for (let i = 0; i < 60; i++) {
    const body = Buffer.alloc(60 * 1024 - i, i);
    reqs.push(Buffer.from(`POST /late/${i} HTTP/1.1\r\nHost: t\r\nX-Id: id${i}\r\nContent-Length: ${body.length}\r\n\r\n`), body);
    expect.push(`${i} id${i} /late/${i} ${body.length} ${md5(body)}`);
  }
  await pipeline(reqs, expect);
});

test("10 pipelined requests with 300 KiB bodies (streamed, not inline)", async () => {
  const reqs: Buffer[] = [];
  const expect: string[] = [];
  for (let i = 0; i < 10; i++) {
    const body = Buffer.alloc(300 * 1024 + i, i + 1);
    reqs.push(Buffer.from(`POST /late/${i} HTTP/1.1\r\nHost: t\r\nX-Id: id${i}\r\nContent-Length: ${body.length}\r\n\r\n`), body);
    expect.push(`${i} id${i} /late/${i} ${body.length} ${md5(body)}`);
  }
  await pipeline(reqs, expect);
});

test("many connections in one batch, each pipelining async requests with bodies", async () => {
  const jobs: Promise<void>[] = [];
  for (let k = 0; k < 20; k++) {
    const reqs: Buffer[] = [];
    const expect: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = k * 100 + i;
      const body = Buffer.from(`body-${id}-`.repeat(50 + i));
      reqs.push(Buffer.from(`POST /late/${id} HTTP/1.1\r\nHost: t\r\nX-Id: id${id}\r\nContent-Length: ${body.length}\r\n\r\n`), body);
      expect.push(`${id} id${id} /late/${id} ${body.length} ${md5(body)}`);
    }
    jobs.push(pipeline(reqs, expect));
  }
  await Promise.all(jobs);
});

test.run();
