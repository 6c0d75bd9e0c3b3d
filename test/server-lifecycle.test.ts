/**
 * Lifecycle and observability: onRun / onShutdown hooks, spin(), per-route
 * handler deadlines, tracers with the engine's timestamps, the
 * diagnostics_channel names node:http publishes (with node-like objects),
 * and currentContext().
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { accessLog, currentContext, HttpError, Server, type AccessLogEntry, type Context, type RequestContext, type Timings } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { startServer, TEST_OPTIONS, until, watchdog, within, withServer } from "./lib/server.js";

watchdog(30_000);

test("onRun hooks run in order before the socket is bound", async () => {
  const order: string[] = [];
  const app = new Server({ ...TEST_OPTIONS });
  app.get("/", (ctx) => ctx.string(200, "ok"));
  app.onRun(async () => {
    await sleep(20);
    order.push("first");
  });
  app.onRun(() => {
    order.push("second");
  });
  const addr = await app.listen({ host: "127.0.0.1", port: 0 });
  try {
    assert.equal(order, ["first", "second"]);
    assert.is(await (await fetch(`http://127.0.0.1:${addr.port}/`)).text(), "ok");
  } finally {
    await app.close();
  }
});

test("a failing onRun hook fails listen() and binds nothing", async () => {
  const app = new Server({ ...TEST_OPTIONS });
  app.onRun(() => {
    throw new Error("config missing");
  });
  try {
    await app.listen({ host: "127.0.0.1", port: 0 });
    assert.unreachable("listen() should have failed");
  } catch (e) {
    assert.is((e as Error).message, "config missing");
  }
  assert.is(app.address(), null);
  await app.close();
});

test("onShutdown hooks run concurrently during close(), bounded by exitWaitTimeout", async () => {
  const app = new Server({ ...TEST_OPTIONS, exitWaitTimeout: 300, logger: { error: () => {} } });
  const started: number[] = [];
  let finished = 0;
  app.onShutdown(async () => {
    started.push(Date.now());
    await sleep(100);
    finished++;
  });
  app.onShutdown(async () => {
    started.push(Date.now());
    await sleep(100);
    finished++;
  });
  app.onShutdown(() => new Promise(() => {})); // never settles: close() must not wait for ever
  await app.listen({ host: "127.0.0.1", port: 0 });
  const t0 = Date.now();
  await within(app.close(), 2000, "close()");
  const took = Date.now() - t0;
  assert.is(finished, 2);
  assert.ok(Math.abs(started[0]! - started[1]!) < 50, "hooks ran concurrently");
  assert.ok(took >= 250 && took < 1500, `close() took ${took} ms with a hook that never ends`);
});

test("spin() listens for SIGINT and SIGTERM by default; exitWaitTimeout defaults to 5 s", async () => {
  const app = new Server({ ...TEST_OPTIONS, exitWaitTimeout: undefined });
  assert.is(app.config.exitWaitTimeout, 5_000);
  app.get("/", (ctx) => ctx.string(200, "ok"));
  const before = { int: process.listenerCount("SIGINT"), term: process.listenerCount("SIGTERM") };
  const spinning = app.spin({ host: "127.0.0.1", port: 0 });
  // The listeners go on once listen() has resolved.
  await until(() => process.listenerCount("SIGTERM") > before.term, "spin()'s SIGTERM listener");
  assert.is(process.listenerCount("SIGINT"), before.int + 1);
  assert.is(process.listenerCount("SIGTERM"), before.term + 1);
  // The listeners as the signal would call them (a real SIGTERM would also
  // reach the test runner's own handlers).
  process.emit("SIGTERM", "SIGTERM");
  await within(spinning, 2000, "spin() after SIGTERM");
  assert.is(process.listenerCount("SIGINT"), before.int);
  assert.is(process.listenerCount("SIGTERM"), before.term);
});

test("spin() serves until a signal, then shuts down gracefully and resolves", async () => {
  const app = new Server({ ...TEST_OPTIONS });
  let hooked = false;
  app.onShutdown(() => {
    hooked = true;
  });
  app.get("/", (ctx) => ctx.string(200, "ok"));
  const spinning = app.spin({ host: "127.0.0.1", port: 0, signals: ["SIGUSR2"] });
  while (app.address() === null) await sleep(5);
  const port = app.address()!.port;
  assert.is(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "ok");
  process.kill(process.pid, "SIGUSR2");
  await within(spinning, 2000, "spin() after the signal");
  assert.ok(hooked, "onShutdown ran");
  assert.is(process.listenerCount("SIGUSR2"), 0, "spin() removed its signal listener");
  await new Promise<void>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("error", () => resolve());
    s.once("connect", () => {
      s.destroy();
      assert.unreachable("the port still accepts connections");
    });
  });
});

test("per-route handlerTimeout overrides the server's; 0 means none", async () => {
  await withServer(
    (app) => {
      const hang = (): Promise<void> => new Promise(() => {});
      app.addRoute("GET", "/short", [hang], { handlerTimeout: 100 });
      app.addRoute("GET", "/none", [async (ctx) => {
        await sleep(400);
        ctx.string(200, "slow but allowed");
      }], { handlerTimeout: 0 });
      app.group("/g").addRoute("GET", "/short", [hang], { handlerTimeout: 150 });
    },
    { handlerTimeout: 250 },
    async (s) => {
      const c = await RawClient.connect(s.port);
      try {
        let t0 = Date.now();
        await c.write(get("/short"));
        assert.is((await c.readResponse()).status, 503);
        let took = Date.now() - t0;
        assert.ok(took >= 90 && took < 240, `503 after ${took} ms (route: 100, server: 250)`);
        t0 = Date.now();
        await c.write(get("/g/short"));
        assert.is((await c.readResponse()).status, 503);
        took = Date.now() - t0;
        assert.ok(took >= 140 && took < 240, `group route 503 after ${took} ms (route: 150)`);
        await c.write(get("/none"));
        const r = await c.readResponse({ timeout: 2000 });
        assert.is(r.status, 200);
        assert.is(r.text(), "slow but allowed");
      } finally {
        c.destroy();
      }
    },
  );
  assert.throws(() => new Server().addRoute("GET", "/x", [() => {}], { handlerTimeout: -5 }), /handlerTimeout/);
});

test("tracers see every request with ordered engine timestamps, including a slow head and streamed responses", async () => {
  const seen: { path: string; t: Timings }[] = [];
  let started = 0;
  await withServer(
    (app) => {
      app.tracer({
        start: () => void started++,
        finish: (ctx: RequestContext) => void seen.push({ path: ctx.path, t: { ...ctx.timings! } }),
      });
      app.get("/a", async (ctx) => {
        await sleep(30);
        ctx.string(200, "a");
      });
      app.post("/b", async (ctx) => ctx.data(200, "application/octet-stream", await ctx.body()));
      // Streamed responses: ended by the server when the chain settles, or by the handler.
      app.get("/s/write", (ctx) => void ctx.write("w"));
      app.get("/s/end", async (ctx) => {
        ctx.write("e");
        await sleep(20);
        ctx.end("nd");
      });
      app.get("/s/send", (ctx) => ctx.send(Readable.from(["se", "nd"])));
      app.get("/s/file", (ctx) => ctx.file(fileURLToPath(import.meta.url)));
      app.get("/s/sse", async (ctx) => {
        const sse = ctx.sse();
        sse.send({ data: "x" });
        sse.close();
        await sse.closed;
      });
    },
    {},
    async (s) => {
      const c = await RawClient.connect(s.port);
      try {
        // The head arrives in two pieces 80 ms apart: readStart is the first.
        await c.write("GET /a HTTP/1.1\r\nHo");
        await sleep(80);
        await c.write("st: x\r\n\r\n");
        assert.is((await c.readResponse()).text(), "a");
        // A body that arrives after its head.
        await c.write("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
        await sleep(50);
        await c.write("cd");
        assert.is((await c.readResponse()).text(), "abcd");
        await c.write(get("/missing"));
        assert.is((await c.readResponse()).status, 404);
        for (const [path, text] of [["/s/write", "w"], ["/s/end", "end"], ["/s/send", "send"], ["/s/sse", "data: x\n\n"]]) {
          await c.write(get(path!));
          assert.is((await c.readResponse()).text(), text, path);
        }
        await c.write(get("/s/file"));
        assert.is((await c.readResponse()).status, 200);
        // The file's chain settles (the descriptor is closed) after its bytes went out.
        for (let i = 0; i < 200 && seen.length < 8; i++) await sleep(10);
      } finally {
        c.destroy();
      }
    },
  );
  assert.is(started, 8);
  assert.equal(seen.map((x) => x.path), ["/a", "/b", "/missing", "/s/write", "/s/end", "/s/send", "/s/sse", "/s/file"]);
  const finishedAfterChain = new Set(["/a", "/b", "/missing", "/s/write"]);
  for (const { path, t } of seen) {
    // A handler that ends its own stream is done writing before its chain settles.
    const order = finishedAfterChain.has(path)
      ? [t.readStart, t.headersParsed, t.handlerStart, t.handlerEnd, t.writeDone]
      : [t.readStart, t.headersParsed, t.handlerStart, t.writeDone];
    assert.ok(Number.isFinite(t.writeDone), `${path}: writeDone is stamped`);
    for (let i = 1; i < order.length; i++) assert.ok(order[i - 1]! <= order[i]! + 0.001, `${path}: stage ${i} goes back in time: ${order.join(", ")}`);
  }
  const ended = seen.find((x) => x.path === "/s/end")!.t;
  assert.ok(ended.writeDone - ended.handlerStart >= 15, "writeDone of a handler-ended stream is when it ended");
  const a = seen[0]!.t;
  assert.ok(a.headersParsed - a.readStart >= 60, `readStart is the first byte: ${a.headersParsed - a.readStart} ms before parse`);
  assert.ok(a.handlerEnd - a.handlerStart >= 25, "handler time covers the await");
  const b = seen[1]!.t;
  assert.ok(b.bodyRead - b.headersParsed >= 30, "bodyRead is when the last body byte came");
});

test("diagnostics_channel: node:http's channel names, with node-like request and response objects used as APM tools use them", async () => {
  interface Socket { remoteAddress?: string; remotePort?: number; localPort?: number; encrypted: boolean }
  interface Req { method: string; url: string; headers: Record<string, string | string[]>; httpVersion: string; socket: Socket; on(e: string, f: () => void): void }
  interface Res {
    statusCode: number;
    headersSent: boolean;
    getHeader(name: string): unknown;
    getHeaders(): Record<string, unknown>;
    setHeader(name: string, value: string): unknown;
    once(e: string, f: () => void): void;
  }
  type Msg = { request: Req; response: Res; socket: Socket; server: unknown };
  const events: unknown[] = [];
  const kept: Res[] = [];
  let port = 0;
  const onStart = (m: unknown): void => {
    const { request, response, socket, server } = m as Msg;
    events.push({
      start: `${request.method} ${request.url}`,
      host: request.headers["host"] === `127.0.0.1:${port}`,
      agent: request.headers["user-agent"],
      version: request.httpVersion,
      remote: /127\.0\.0\.1$/.test(request.socket.remoteAddress ?? "") && typeof request.socket.remotePort === "number",
      local: socket.localPort === port && socket === request.socket && socket.encrypted === false,
      server: server instanceof Server,
    });
    // A tracer propagating its id on the response, then timing it to the end.
    response.setHeader("x-trace-id", "t-1");
    response.once("finish", () => {
      events.push({ finish: response.statusCode, type: response.getHeader("Content-Type"), trace: response.getHeaders()["x-trace-id"], sent: response.headersSent });
      kept.push(response);
    });
    response.once("close", () => events.push("close"));
    request.on("close", () => events.push("request close"));
  };
  const onFinish = (m: unknown): void => void events.push({ channel: (m as Msg).response.statusCode, url: (m as Msg).request.url });
  subscribe("http.server.request.start", onStart);
  subscribe("http.server.response.finish", onFinish);
  try {
    await withServer(
      (app) => {
        app.get("/x/:id", (ctx) => ctx.json(201, { ok: true }));
        app.get("/stream", (ctx) => void ctx.write("s"));
      },
      {},
      async (s) => {
        port = s.port;
        const r = await fetch(`http://127.0.0.1:${s.port}/x/1?q=2`, { headers: { "user-agent": "apm/1" } });
        assert.is(r.headers.get("x-trace-id"), "t-1");
        assert.equal(await r.json(), { ok: true });
        await (await fetch(`http://127.0.0.1:${s.port}/stream`, { headers: { "user-agent": "apm/1" } })).text();
        await sleep(20);
      },
    );
  } finally {
    unsubscribe("http.server.request.start", onStart);
    unsubscribe("http.server.response.finish", onFinish);
  }
  const start = { host: true, agent: "apm/1", version: "1.1", remote: true, local: true, server: true };
  assert.equal(events, [
    { start: "GET /x/1?q=2", ...start },
    { channel: 201, url: "/x/1?q=2" },
    { finish: 201, type: "application/json; charset=utf-8", trace: "t-1", sent: true },
    "close",
    "request close",
    { start: "GET /stream", ...start },
    { channel: 200, url: "/stream" },
    { finish: 200, type: undefined, trace: "t-1", sent: true },
    "close",
    "request close",
  ]);
  // After the finish the response is a snapshot: readable, no longer writable.
  assert.is(kept[0]!.statusCode, 201);
  assert.throws(() => kept[0]!.setHeader("x-late", "1"), (e: { code?: string }) => e.code === "FARAD_ERR_RESPONSE_SENT");
});

test("diagnostics_channel: a throwing listener is logged and does not break the server; without subscribers nothing is published", async () => {
  const onStart = (m: unknown): void => {
    (m as { response: { once(e: string, f: () => void): void } }).response.once("finish", () => {
      throw new Error("listener bug");
    });
  };
  subscribe("http.server.request.start", onStart);
  const s = await startServer((app) => app.get("/", (ctx) => ctx.string(200, "ok")));
  try {
    assert.is(await (await fetch(`http://127.0.0.1:${s.port}/`)).text(), "ok");
    unsubscribe("http.server.request.start", onStart);
    assert.is(await (await fetch(`http://127.0.0.1:${s.port}/`)).text(), "ok");
    // inject() publishes too (it runs the whole pipeline), with no socket.
    let injected: { request: { url: string; socket: { remoteAddress?: string } } } | undefined;
    const onInject = (m: unknown): void => void (injected = m as typeof injected);
    subscribe("http.server.request.start", onInject);
    try {
      await s.app.inject({ url: "/?in=1" });
    } finally {
      unsubscribe("http.server.request.start", onInject);
    }
    assert.is(injected?.request.url, "/?in=1");
    assert.is(injected?.request.socket.remoteAddress, undefined);
  } finally {
    unsubscribe("http.server.request.start", onStart);
    await s.close();
  }
  const failures = s.logs.filter((l) => l.message.includes("diagnostics_channel"));
  assert.is(failures.length, 1);
  assert.is((failures[0]!.err as Error).message, "listener bug");
});

test("currentContext() is the request's long-lived context across awaits when asyncContext is on", async () => {
  let same: boolean | undefined;
  let outside: Context | undefined = undefined;
  const deep = async (): Promise<Context | undefined> => {
    await sleep(5);
    return currentContext();
  };
  const s = await startServer(
    (app) =>
      app.get("/", async (ctx, c) => {
        same = (await deep()) === c;
        ctx.string(200, "ok");
      }),
    { asyncContext: true },
  );
  try {
    await (await fetch(`http://127.0.0.1:${s.port}/`)).text();
    outside = currentContext();
  } finally {
    await s.close();
  }
  assert.is(same, true);
  assert.is(outside, undefined);
  // Off by default: nothing is stored.
  let off: Context | undefined;
  await withServer(
    (app) =>
      app.get("/", async (ctx) => {
        off = await deep();
        ctx.string(200, "ok");
      }),
    {},
    async (t) => void (await (await fetch(`http://127.0.0.1:${t.port}/`)).text()),
  );
  assert.is(off, undefined);
});

test("accessLog(): one line per request with the status actually sent, batched writes", async () => {
  const writes: string[] = [];
  await withServer(
    (app) => {
      app.tracer(accessLog({ write: (t) => void writes.push(t) }));
      app.get("/ok/:id", (ctx) => ctx.string(200, "ok"));
      app.get("/boom", () => {
        throw new Error("boom");
      });
      app.get("/teapot", () => {
        throw new HttpError(418, "short and stout");
      });
    },
    { logger: { error: () => {} } },
    async (s) => {
      const base = `http://127.0.0.1:${s.port}`;
      await Promise.all([
        fetch(`${base}/ok/7?x=1`, { headers: { "user-agent": "t/1", referer: "http://r/" } }).then((r) => r.text()),
        fetch(`${base}/boom`).then((r) => r.text()),
        fetch(`${base}/teapot`).then((r) => r.text()),
        fetch(`${base}/nope`).then((r) => r.text()),
      ]);
      await sleep(20);
    },
  );
  const lines = writes.join("").trim().split("\n").map((l) => JSON.parse(l) as AccessLogEntry);
  const byUrl = new Map(lines.map((l) => [l.url, l]));
  assert.is(lines.length, 4);
  assert.is(byUrl.get("/ok/7?x=1")!.status, 200);
  assert.is(byUrl.get("/ok/7?x=1")!.route, "/ok/:id");
  assert.is(byUrl.get("/ok/7?x=1")!.userAgent, "t/1");
  assert.is(byUrl.get("/ok/7?x=1")!.referer, "http://r/");
  assert.ok(byUrl.get("/ok/7?x=1")!.remoteAddress.endsWith("127.0.0.1"));
  assert.is(byUrl.get("/boom")!.status, 500);
  assert.is(byUrl.get("/teapot")!.status, 418);
  assert.is(byUrl.get("/nope")!.status, 404);
  for (const l of lines) assert.ok(l.durationMs >= 0 && l.durationMs < 1000 && Math.abs(l.time - Date.now()) < 5000);
  assert.ok(writes.length < 4, `lines are batched (${writes.length} writes for 4 requests)`);
  // The combined format
  const combinedOut: string[] = [];
  await withServer(
    (app) => {
      app.tracer(accessLog({ format: "combined", write: (t) => void combinedOut.push(t) }));
      app.get("/c", (ctx) => ctx.string(201, "c"));
    },
    {},
    async (s) => void (await (await fetch(`http://127.0.0.1:${s.port}/c`)).text()),
  );
  await sleep(10);
  assert.throws(() => accessLog({ format: "xml" as never }), TypeError);
  assert.match(combinedOut.join(""), /^\S+ - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/c HTTP\/1\.1" 201 - "-" "[^"]*" \d+\.\d{3}\n$/);
});

test.run();
