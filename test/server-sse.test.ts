/**
 * Server-sent events on the wire: headers sent at once, event framing
 * (multi-line data, event, id, retry, comments), field validation,
 * heartbeats, Last-Event-ID, backpressure (drain, and closing a client
 * that falls too far behind), and the end of the stream when the client
 * leaves or the handler closes it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Context, SseStream } from "../src/index.js";
import { get, RawClient } from "./lib/raw-client.js";
import { deferred, startServer, until, watchdog, within, withServer } from "./lib/server.js";

watchdog(60_000);

test("headers at once, then events framed by the spec: multi-line data, event, id, retry, JSON data, comments", async () => {
  const release = deferred();
  await withServer(
    (app) =>
      app.get("/events", async (ctx) => {
        const sse = ctx.sse({ heartbeatMs: 0, retry: 3000 });
        await release.promise;
        sse.send({ data: "one" });
        sse.send({ event: "update", id: "42", data: "line1\nline2\r\nline3\rline4" });
        sse.send({ data: { a: 1, b: [true] } });
        sse.comment("hi\nthere");
        sse.send({ data: "" });
        sse.send({ data: " leading space" });
        sse.send({ id: "43", retry: 10 });
        sse.close();
        assert.is(sse.isClosed, true);
        assert.is(sse.send({ data: "late" }), false, "send after close");
        await sse.closed;
      }),
    {},
    async (s) => {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(get("/events"));
        // The head arrives before the first event.
        await c.waitForText("\r\n\r\n");
        const head = c.buffered.toString("latin1");
        assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(head, /\r\nContent-Type: text\/event-stream\r\n/i);
        assert.match(head, /\r\nCache-Control: no-cache\r\n/i);
        assert.match(head, /\r\nTransfer-Encoding: chunked\r\n/i);
        release.resolve();
        const r = await c.readResponse();
        assert.is(
          r.text(),
          "retry: 3000\n\n" +
            "data: one\n\n" +
            "event: update\nid: 42\ndata: line1\ndata: line2\ndata: line3\ndata: line4\n\n" +
            'data: {"a":1,"b":[true]}\n\n' +
            ": hi\n: there\n" +
            "data: \n\n" +
            "data:  leading space\n\n" +
            "id: 43\nretry: 10\n\n",
        );
        // close() ended the response; the connection stays usable.
        await c.write(get("/nothing"));
        assert.is((await c.readResponse()).status, 404);
      } finally {
        c.destroy();
      }
    },
  );
});

test("CR or LF in event or id, NUL in id, and a bad retry are refused with FARAD_ERR_INVALID_OPTION", async () => {
  const codes: string[] = [];
  await withServer(
    (app) =>
      app.get("/bad", async (ctx) => {
        const sse = ctx.sse({ heartbeatMs: 0 });
        for (const ev of [{ event: "a\nb", data: "x" }, { event: "a\rb", data: "x" }, { id: "1\n2", data: "x" }, { id: "1\0", data: "x" }, { retry: -1, data: "x" }, { retry: 1.5 }]) {
          try {
            sse.send(ev);
            codes.push("sent");
          } catch (e) {
            codes.push((e as { code: string }).code);
          }
        }
        sse.send({ data: "ok" });
        sse.close();
        await sse.closed;
      }),
    {},
    async (s) => {
      const r = await (await fetch(`http://127.0.0.1:${s.port}/bad`)).text();
      assert.is(r, "data: ok\n\n", "nothing of a refused event was written");
      assert.equal(codes, Array(6).fill("FARAD_ERR_INVALID_OPTION"));
    },
  );
});

test("heartbeats: a comment line every heartbeatMs while idle, none while events flow", async () => {
  let sse: SseStream | undefined;
  await withServer(
    (app) =>
      app.addRoute(
        "GET",
        "/hb",
        [
          async (ctx) => {
            sse = ctx.sse({ heartbeatMs: 40 });
            await sse.closed;
          },
        ],
        { handlerTimeout: 0 },
      ),
    {},
    async (s) => {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(get("/hb"));
        await c.waitForText("\r\n\r\n");
        const t0 = Date.now();
        await until(() => (c.buffered.toString("latin1").match(/\r\n:\n\r\n/g) ?? []).length >= 3, "three heartbeats", 2000);
        assert.ok(Date.now() - t0 >= 100, "not sooner than the interval");
        // Events every 10 ms: the line is never idle for a whole interval.
        const before = (c.buffered.toString("latin1").match(/:\n/g) ?? []).length;
        for (let i = 0; i < 20; i++) {
          sse!.send({ data: String(i) });
          await sleep(10);
        }
        const during = (c.buffered.toString("latin1").match(/:\n/g) ?? []).length - before;
        assert.ok(during <= 1, `${during} heartbeats while events flowed`);
        sse!.close();
      } finally {
        c.destroy();
      }
    },
  );
});

test("the client leaving ends the stream: closed resolves, c.signal aborts, the heartbeat stops, connections return to 0", async () => {
  let closed = false;
  let signal: AbortSignal | undefined;
  let after: boolean | undefined;
  const s = await startServer((app) =>
    app.get("/gone", async (ctx, c: Context) => {
      signal = c.signal;
      const sse = ctx.sse({ heartbeatMs: 20 });
      sse.send({ data: "hello" });
      await sse.closed;
      closed = true;
      after = sse.send({ data: "after" });
    }),
  );
  try {
    const c = await RawClient.connect(s.port);
    await c.write(get("/gone"));
    await c.waitForText("data: hello\n\n");
    assert.is(s.app.stats().pendingHandlers, 1);
    c.destroy();
    await until(() => closed, "sse.closed resolved");
    assert.ok(signal!.aborted, "c.signal aborted");
    assert.is(after, false, "send() on a closed stream returns false");
    await until(() => s.app.stats().connections === 0 && s.app.stats().pendingHandlers === 0, "connections and handlers back to 0");
    assert.equal(s.logs, []);
  } finally {
    await within(s.close(), 3000, "close");
  }
});

test("the client leaving is noticed with no event ever sent", async () => {
  let closed = false;
  const s = await startServer((app) =>
    app.get("/idle", async (ctx) => {
      const sse = ctx.sse({ heartbeatMs: 20 });
      await sse.closed;
      closed = true;
    }),
  );
  try {
    const c = await RawClient.connect(s.port);
    await c.write(get("/idle"));
    await c.waitForText("\r\n\r\n");
    c.destroy();
    await until(() => closed && s.app.stats().connections === 0, "stream closed");
  } finally {
    await within(s.close(), 3000, "close");
  }
});

test("server shutdown ends open streams (c.signal aborts)", async () => {
  let closed = false;
  const s = await startServer((app) =>
    app.get("/long", async (ctx) => {
      const sse = ctx.sse({ heartbeatMs: 0 });
      await sse.closed;
      closed = true;
    }),
  );
  const c = await RawClient.connect(s.port);
  try {
    await c.write(get("/long"));
    await c.waitForText("\r\n\r\n");
    await within(s.close(), 3000, "close");
    assert.ok(closed, "the stream closed when the server shut down");
  } finally {
    c.destroy();
  }
});

test("the handler deadline ends a stream: closed resolves and the response is terminated", async () => {
  let closed = false;
  await withServer(
    (app) =>
      app.addRoute(
        "GET",
        "/deadline",
        [
          async (ctx) => {
            const sse = ctx.sse({ heartbeatMs: 0 });
            sse.send({ data: "first" });
            await sse.closed;
            closed = true;
          },
        ],
        { handlerTimeout: 100 },
      ),
    {},
    async (s) => {
      const c = await RawClient.connect(s.port);
      try {
        await c.write(get("/deadline"));
        const r = await c.readResponse({ timeout: 2000 });
        assert.is(r.status, 200);
        assert.is(r.text(), "data: first\n\n", "the stream ends with its last event, then the chunked terminator");
        await until(() => closed, "sse.closed resolved");
      } finally {
        c.destroy();
      }
    },
  );
});

test("Last-Event-ID is available to resume from", async () => {
  await withServer(
    (app) =>
      app.get("/resume", async (ctx) => {
        const sse = ctx.sse({ heartbeatMs: 0 });
        const from = Number(sse.lastEventId ?? "0");
        for (let i = from + 1; i <= from + 2; i++) sse.send({ id: String(i), data: `event ${i}` });
        sse.close();
      }),
    {},
    async (s) => {
      const r = await fetch(`http://127.0.0.1:${s.port}/resume`, { headers: { "last-event-id": "7" } });
      assert.is(await r.text(), "id: 8\ndata: event 8\n\nid: 9\ndata: event 9\n\n");
    },
  );
});

test("backpressure: send() returns false when the client lags and drain() waits; every event arrives in order", async () => {
  const N = 1500;
  const payload = "x".repeat(16 * 1024);
  let falses = 0;
  await withServer(
    (app) =>
      app.get("/flood", async (ctx) => {
        const sse = ctx.sse({ heartbeatMs: 0, maxBuffered: 8 * 1024 * 1024 });
        for (let i = 0; i < N && !sse.isClosed; i++) {
          if (!sse.send({ id: String(i), data: payload })) {
            falses++;
            await sse.drain();
          }
        }
        sse.close();
      }),
    { writeTimeout: 10_000 },
    async (s) => {
      const res = await fetch(`http://127.0.0.1:${s.port}/flood`);
      let text = "";
      let n = 0;
      const decoder = new TextDecoder();
      for await (const chunk of res.body!) {
        text += decoder.decode(chunk, { stream: true });
        if (n++ < 200) await sleep(1);
      }
      const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      assert.is(ids.length, N);
      assert.ok(
        ids.every((id, i) => id === i),
        "in order",
      );
      assert.ok(falses > 0, "send() returned false at least once");
    },
  );
});

test("a client that stops reading while the producer ignores backpressure: the stream closes past maxBuffered", async () => {
  let sent = 0;
  let closedAt = -1;
  const s = await startServer(
    (app) =>
      app.get("/stuck", async (ctx) => {
        const sse = ctx.sse({ heartbeatMs: 0, maxBuffered: 512 * 1024 });
        const payload = "y".repeat(64 * 1024);
        // A broadcaster that never waits; bounded so a bug cannot run forever.
        while (!sse.isClosed && sent < 4096) {
          sse.send({ data: payload });
          sent++;
          if (sent % 16 === 0) await sleep(1);
        }
        closedAt = sent;
        await sse.closed;
      }),
    { writeTimeout: 10_000 },
  );
  try {
    const c = await RawClient.connect(s.port);
    c.socket.pause(); // reads nothing
    await c.write(get("/stuck"));
    await until(() => closedAt >= 0, "the producer saw the stream close", 10_000);
    assert.ok(closedAt < 4096, `closed after ${closedAt} events of 64 KiB`);
    c.destroy();
    await until(() => s.app.stats().connections === 0 && s.app.stats().pendingHandlers === 0, "freed");
  } finally {
    await within(s.close(), 3000, "close");
  }
});

test.run();
