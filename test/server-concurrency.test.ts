/**
 * Many connections at once, clients that leave mid-request, several servers
 * in one process, and a server inside a worker thread.
 */
import { Worker } from "node:worker_threads";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Server } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { deferred, startServer, until, watchdog, within, type TestServer } from "./lib/server.js";

watchdog(40_000);

// `ulimit -n` is 20000 here; each connection costs two descriptors in this
// process (client and server side), so 2,000 fits with room to spare.
const CONNECTIONS = 2000;

function routes(name: string) {
  return (app: Server): void => {
    app.get("/c/:n", async (ctx) => {
      const n = Number(ctx.param("n"));
      if (n % 2 === 1) await new Promise((r) => setTimeout(r, n % 5));
      ctx.string(200, `${name} ${n}`);
    });
  };
}

async function oneRequest(port: number, path: string): Promise<string> {
  const c = await RawClient.connect(port, "127.0.0.1", 5000);
  try {
    await c.write(get(path));
    const r = await c.readResponse({ timeout: 5000 });
    assert.is(r.status, 200);
    return r.text();
  } finally {
    c.destroy();
  }
}

test(`${CONNECTIONS} concurrent connections, one request each`, async () => {
  const s = await startServer(routes("a"), { backlog: 4096 });
  try {
    const t0 = Date.now();
    const bodies = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => oneRequest(s.port, `/c/${i}`)));
    const elapsed = Date.now() - t0;
    for (let i = 0; i < CONNECTIONS; i++) assert.is(bodies[i], `a ${i}`);
    // A sanity bound, loose enough for a loaded machine; it takes ~1 s here.
    assert.ok(elapsed < 10_000, `${CONNECTIONS} requests took ${elapsed} ms`);
    const st = s.app.stats();
    assert.is(st.accepted, CONNECTIONS);
    assert.is(st.requests, CONNECTIONS);
    await until(() => s.app.stats().connections === 0, "every connection released");
    assert.is(s.app.stats().pendingHandlers, 0);
  } finally {
    await s.close();
  }
});

test(`${CONNECTIONS} connections open at the same time, then each sends its request`, async () => {
  const s = await startServer(routes("b"), { backlog: 4096 });
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < CONNECTIONS; i += 250) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(250, CONNECTIONS - i) }, () => RawClient.connect(s.port, "127.0.0.1", 5000)))));
    }
    await until(() => s.app.stats().connections === CONNECTIONS, `${CONNECTIONS} connections open on the server`, 3000);
    await Promise.all(clients.map((c, i) => c.write(get(`/c/${i}`))));
    const rs = await Promise.all(clients.map((c) => c.readResponse({ timeout: 5000 })));
    rs.forEach((r, i) => assert.is(r.text(), `b ${i}`));
  } finally {
    for (const c of clients) c.destroy();
    await until(() => s.app.stats().connections === 0, "every connection released", 3000).catch(() => {});
    await s.close();
  }
});

test("a client that resets mid-request (RST): c.signal aborts, connections return to 0", async () => {
  const started = deferred();
  const aborted = deferred<unknown>();
  const s = await startServer((app) =>
    app.get("/wait", async (ctx, c) => {
      started.resolve();
      await new Promise<void>((resolve) => {
        if (c.signal.aborted) return resolve();
        c.signal.addEventListener("abort", () => resolve());
      });
      aborted.resolve(c.signal.reason);
      ctx.string(200, "too late");
    }),
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/wait"));
    await within(started.promise, 1000, "handler start");
    assert.is(s.app.stats().connections, 1);
    c.socket.resetAndDestroy();
    const reason = await within(aborted.promise, 1000, "c.signal abort after the client left");
    assert.is((reason as { code?: string }).code, "FARAD_ERR_CLIENT_GONE");
    await until(() => s.app.stats().connections === 0 && s.app.stats().pendingHandlers === 0, "connection and handler released");
  } finally {
    c.destroy();
    await s.close();
  }
});

test("two servers in one process on different ports serve concurrently", async () => {
  const a = await startServer(routes("A"));
  const b = await startServer(routes("B"));
  try {
    assert.is.not(a.port, b.port);
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      const [srv, name] = i % 2 ? [a, "A"] : [b, "B"];
      jobs.push(oneRequest(srv.port, `/c/${i}`).then((t) => assert.is(t, `${name} ${i}`)));
    }
    // And one pipelined connection to each, interleaved with the rest.
    const pipelined = async (srv: TestServer, name: string): Promise<void> => {
      const c = await RawClient.connect(srv.port);
      try {
        let req = "";
        for (let i = 0; i < 50; i++) req += get(`/c/${i}`);
        await c.write(req);
        const rs = await c.readResponses(50);
        rs.forEach((r, i) => assert.is(r.text(), `${name} ${i}`));
      } finally {
        c.destroy();
      }
    };
    jobs.push(pipelined(a, "A"), pipelined(b, "B"));
    await Promise.all(jobs);
    // Closing one leaves the other serving.
    await a.close();
    assert.is(await oneRequest(b.port, "/c/7"), "B 7");
  } finally {
    await a.close();
    await b.close();
  }
});

test("a server inside a worker thread serves requests from the main thread, beside a main-thread server", async () => {
  const worker = new Worker(new URL("./lib/worker-server.js", import.meta.url));
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  const main = await startServer(routes("main"));
  try {
    const { port } = await within(
      new Promise<{ port: number }>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      }),
      3000,
      "worker listening",
    );
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      jobs.push(
        oneRequest(port, i % 2 ? "/who" : "/async").then((t) => assert.match(t, i % 2 ? /^worker \d+$/ : /^async \d+$/)),
        oneRequest(main.port, `/c/${i}`).then((t) => assert.is(t, `main ${i}`)),
      );
    }
    await Promise.all(jobs);
    assert.is.not(await oneRequest(port, "/who"), "worker 0");
    const closed = new Promise((resolve) => worker.once("message", resolve));
    worker.postMessage("close");
    assert.is(await within(closed, 2000, "worker server close"), "closed");
    assert.is(await within(exited, 2000, "worker exit"), 0);
  } finally {
    await worker.terminate();
    await main.close();
  }
});

test.run();
