/**
 * ctx.multipart() on the wire: fields and files streamed as they arrive and
 * hashed, a 64 MiB file part with bounded memory and a slow consumer that
 * pauses the socket, every limit answered with a 413 naming it, malformed
 * bodies (400) and other media types (415), and parts left unread drained.
 */
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MultipartError, type MultipartOptions, type Part } from "../src/index.js";
import { RawClient, type Response } from "./lib/raw-client.js";
import { startServer, watchdog, withServer, type TestServer } from "./lib/server.js";

watchdog(60_000);

const MiB = 1024 * 1024;
const B = "----farad-boundary-7MA4YWxk";
const CT = `multipart/form-data; boundary=${B}`;

function field(name: string, value: string): string {
  return `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
}

function fileHead(name: string, filename: string, type = "application/octet-stream"): string {
  return `--${B}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`;
}

const END = `--${B}--\r\n`;

/** Deterministic bytes: block i is filled with (i * 31 + seed) & 0xff. */
function* blocks(total: number, seed = 0, size = 64 * 1024): Generator<Buffer> {
  for (let sent = 0, i = 0; sent < total; i++) {
    const n = Math.min(size, total - sent);
    yield Buffer.alloc(n, (i * 31 + seed) & 0xff);
    sent += n;
  }
}

function sha256(total: number, seed = 0): string {
  const h = createHash("sha256");
  for (const b of blocks(total, seed)) h.update(b);
  return h.digest("hex");
}

/** A file part: its head, its bytes, its closing CRLF. */
function* filePart(name: string, filename: string, total: number, seed = 0): Generator<Buffer | string> {
  yield fileHead(name, filename);
  yield* blocks(total, seed);
  yield "\r\n";
}

/** POSTs a body made of `pieces` (chunked), returns status and text. */
function post(port: number, path: string, pieces: Iterable<Buffer | string>, contentType = CT): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": contentType } }, (res: IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    Readable.from(pieces).pipe(req);
  });
}

/** One request written whole on a raw connection. */
async function rawPost(port: number, body: string, contentType = CT, path = "/parts"): Promise<Response> {
  const c = await RawClient.connect(port);
  try {
    await c.write(`POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return await c.readResponse();
  } finally {
    c.destroy();
  }
}

interface Summary {
  kind: string;
  name: string;
  value?: string;
  filename?: string;
  mimeType: string;
  size?: number;
  sha256?: string;
}

/** A route that reads every part (files hashed) and answers with a summary. */
function summarizing(app: TestServer["app"], path: string, options?: MultipartOptions): void {
  app.post(path, async (ctx) => {
    const out: Summary[] = [];
    for await (const part of ctx.multipart(options)) {
      if (part.kind === "field") {
        out.push({ kind: part.kind, name: part.name, value: part.value, mimeType: part.mimeType });
      } else {
        const h = createHash("sha256");
        let size = 0;
        for await (const chunk of part.stream) {
          h.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        out.push({ kind: part.kind, name: part.name, filename: part.filename, mimeType: part.mimeType, size, sha256: h.digest("hex") });
      }
    }
    ctx.json(200, out);
  });
}

test("fields and files arrive in order, files streamed and intact (sha256), UTF-8 names and values", async () => {
  await withServer(
    (app) => summarizing(app, "/parts"),
    {},
    async (s) => {
      const pieces = [
        field("a", "1"),
        field("ünï", "välue\r\nwith a line break"),
        ...filePart("f1", "one.bin", 100_000, 1),
        field("b", "2"),
        fileHead("f2", "C:\\Users\\x\\two.txt", "text/plain"),
        "plain text file",
        "\r\n",
        ...filePart("f3", "empty.bin", 0),
        ...filePart("f4", "big.bin", 3 * MiB + 17, 4),
        END,
      ];
      const r = await post(s.port, "/parts", pieces);
      assert.is(r.status, 200, r.body);
      assert.equal(JSON.parse(r.body), [
        { kind: "field", name: "a", value: "1", mimeType: "text/plain" },
        { kind: "field", name: "ünï", value: "välue\r\nwith a line break", mimeType: "text/plain" },
        { kind: "file", name: "f1", filename: "one.bin", mimeType: "application/octet-stream", size: 100_000, sha256: sha256(100_000, 1) },
        { kind: "field", name: "b", value: "2", mimeType: "text/plain" },
        { kind: "file", name: "f2", filename: "two.txt", mimeType: "text/plain", size: 15, sha256: createHash("sha256").update("plain text file").digest("hex") },
        { kind: "file", name: "f3", filename: "empty.bin", mimeType: "application/octet-stream", size: 0, sha256: sha256(0) },
        { kind: "file", name: "f4", filename: "big.bin", mimeType: "application/octet-stream", size: 3 * MiB + 17, sha256: sha256(3 * MiB + 17, 4) },
      ]);
    },
  );
});

test("a 64 MiB file part streams with bounded memory; a slow consumer pauses the socket", async () => {
  const total = 64 * MiB;
  let peak = 0;
  let lead = 0;
  let sawPaused = false;
  let result: { size: number; sha256: string; after: string } | undefined;
  await withServer(
    (app) =>
      app.post("/big", async (ctx) => {
        let after = "";
        let size = 0;
        const h = createHash("sha256");
        for await (const part of ctx.multipart({ fileSize: 128 * MiB })) {
          if (part.kind === "field") {
            after = part.value;
            continue;
          }
          for await (const chunk of part.stream) {
            h.update(chunk as Buffer);
            size += (chunk as Buffer).length;
            // Stall on the first chunk until the reactor has paused the
            // socket for us (a stalled consumer must lead there, however
            // fast the build is), sampling memory while stalled.
            const stallUntil = Date.now() + 20_000;
            while (!sawPaused && Date.now() < stallUntil) {
              await sleep(5);
              peak = Math.max(peak, app.stats().bufferedBytes);
              lead = Math.max(lead, ctx._received - size);
              if (app.stats().readPaused > 0) sawPaused = true;
            }
            peak = Math.max(peak, app.stats().bufferedBytes);
            // Bytes taken off the socket but not yet consumed: held in JS.
            lead = Math.max(lead, ctx._received - size);
            if (app.stats().readPaused > 0) sawPaused = true;
          }
        }
        result = { size, sha256: h.digest("hex"), after };
        ctx.json(200, result);
      }),
    { bodyTimeout: 10_000, handlerTimeout: 30_000 },
    async (s) => {
      const r = await post(s.port, "/big", [...filePart("file", "big.bin", total, 9), field("after", "done"), END]);
      assert.is(r.status, 200, r.body);
      assert.equal(result, { size: total, sha256: sha256(total, 9), after: "done" });
    },
  );
  assert.ok(peak < 4 * MiB, `reactor input buffered at most ${peak} bytes`);
  assert.ok(lead < 8 * MiB, `at most ${lead} bytes read ahead of the consumer`);
  assert.ok(sawPaused, "reading was paused while the consumer lagged");
});

test("every limit is a 413 naming it; a file over fileSize errors its stream and the iteration", async () => {
  let streamError: unknown;
  let iterError: unknown;
  await withServer(
    (app) => {
      app.post("/filesize", async (ctx) => {
        try {
          for await (const part of ctx.multipart({ fileSize: 1000 })) {
            if (part.kind !== "file") continue;
            try {
              for await (const _ of part.stream) void _;
            } catch (e) {
              streamError = e;
            }
          }
        } catch (e) {
          iterError = e;
          throw e;
        }
        ctx.string(200, "no");
      });
      summarizing(app, "/files", { files: 1 });
      summarizing(app, "/fields", { fields: 2 });
      summarizing(app, "/fieldsize", { fieldSize: 10 });
      summarizing(app, "/fieldnamesize", { fieldNameSize: 5 });
      summarizing(app, "/parts", { parts: 2 });
      summarizing(app, "/limit", { limit: 1000 });
      summarizing(app, "/ok", { fileSize: 1000, files: 1, fields: 2, fieldSize: 10, fieldNameSize: 5, parts: 3 });
    },
    {},
    async (s) => {
      const small = (name: string, size: number): string => fileHead(name, `${name}.bin`) + "z".repeat(size) + "\r\n";
      const cases: [string, string, string][] = [
        ["/filesize", small("f", 1001) + END, 'multipart: file "f.bin" is larger than 1000 bytes (limit fileSize)'],
        ["/files", small("f", 1) + small("g", 1) + END, "multipart: more than 1 files (limit files)"],
        ["/fields", field("a", "1") + field("b", "2") + field("c", "3") + END, "multipart: more than 2 fields (limit fields)"],
        ["/fieldsize", field("a", "12345678901") + END, 'multipart: field "a" is larger than 10 bytes (limit fieldSize)'],
        ["/fieldnamesize", field("sixsix", "1") + END, "multipart: a part name is longer than 5 bytes (limit fieldNameSize)"],
        ["/parts", field("a", "1") + field("b", "2") + small("f", 1) + END, "multipart: more than 2 parts (limit parts)"],
        ["/limit", field("a", "x".repeat(2000)) + END, "multipart: the body is larger than 1000 bytes (limit limit)"],
      ];
      // The file part is handed out before its bytes pass the limit.
      const c = await RawClient.connect(s.port);
      try {
        const body = small("f", 1001) + END;
        await c.write(`POST /filesize HTTP/1.1\r\nHost: t\r\nContent-Type: ${CT}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 400)}`);
        await sleep(50);
        await c.write(body.slice(400));
        const r = await c.readResponse();
        assert.is(r.status, 413);
        assert.is(r.text(), cases[0]![2]);
      } finally {
        c.destroy();
      }
      assert.instance(streamError, MultipartError, "the file stream errored");
      assert.is(streamError, iterError, "the stream and the iteration fail with the same error");
      for (const [path, body, message] of cases) {
        const r = await rawPost(s.port, body, CT, path);
        assert.is(r.status, 413, path);
        assert.is(r.text(), message, path);
        assert.is(r.header("connection"), "close", path);
      }
      assert.is((iterError as MultipartError).limit, "fileSize");
      assert.is((iterError as MultipartError).code, "FARAD_ERR_MULTIPART_LIMIT");
      // At the limits exactly: accepted.
      const ok = await rawPost(s.port, small("f", 1000) + field("a", "1234567890") + field("abcde", "") + END, CT, "/ok");
      assert.is(ok.status, 200, ok.text());
      assert.is((ok.json() as Summary[]).length, 3);
    },
  );
});

test("malformed bodies are 400s, other media types 415s", async () => {
  await withServer(
    (app) => summarizing(app, "/parts"),
    {},
    async (s) => {
      const bad: [string, string, RegExp][] = [
        [field("a", "1"), CT, /^malformed multipart body: Unexpected end of multipart data$/],
        [field("a", "1") + fileHead("f", "f.bin") + "abc", CT, /^malformed multipart body: /],
        ["no boundary anywhere in here", CT, /^malformed multipart body: /],
        [field("a", "1") + END, "multipart/form-data", /^malformed multipart body: .*[Bb]oundary/],
        [`--${B}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n` + END, CT, /^malformed multipart body: a part without a name/],
      ];
      for (const [body, ct, message] of bad) {
        const r = await rawPost(s.port, body, ct);
        assert.is(r.status, 400, `${JSON.stringify(body)}: ${r.text()}`);
        assert.match(r.text(), message);
      }
      for (const ct of ["application/json", "text/plain; boundary=x"]) {
        const r = await rawPost(s.port, field("a", "1") + END, ct);
        assert.is(r.status, 415, ct);
        assert.match(r.text(), /expected a multipart\/form-data body/);
      }
    },
  );
});

test("parts left unread are drained: the next part still arrives, and the response goes out", async () => {
  const seen: string[] = [];
  await withServer(
    (app) =>
      app.post("/skip", async (ctx) => {
        // Files are never read; asking for the next part drains them.
        for await (const part of ctx.multipart({ fileSize: 8 * MiB })) seen.push(part.kind === "field" ? `${part.name}=${part.value}` : `file ${part.name}`);
        ctx.string(200, seen.join(","));
      }),
    { bodyTimeout: 5000 },
    async (s) => {
      const r = await post(s.port, "/skip", [...filePart("one", "1.bin", 2 * MiB), field("mid", "x"), ...filePart("two", "2.bin", 5 * MiB), field("last", "y"), END]);
      assert.is(r.status, 200);
      assert.is(r.body, "file one,mid=x,file two,last=y");
    },
  );
});

test("breaking out early answers at once; a file part being read stays readable to its end", async () => {
  await withServer(
    (app) => {
      app.post("/first", async (ctx) => {
        let first: Part | undefined;
        for await (const part of ctx.multipart()) {
          first = part;
          break;
        }
        let n = 0;
        if (first?.kind === "file") for await (const chunk of first.stream) n += (chunk as Buffer).length;
        ctx.string(200, `${first?.name} ${n}`);
      });
    },
    {},
    async (s) => {
      const r = await rawPost(s.port, fileHead("f", "f.bin") + "q".repeat(30_000) + "\r\n" + field("after", "1") + END, CT, "/first");
      assert.is(r.status, 200);
      assert.is(r.text(), "f 30000");
    },
  );
});

test("ctx.multipart() twice on one request throws; a client leaving mid-upload fails the iteration", async () => {
  let twice: unknown;
  let aborted: unknown;
  const s = await startServer(
    (app) => {
      app.post("/twice", async (ctx) => {
        ctx.multipart();
        try {
          ctx.multipart();
        } catch (e) {
          twice = e;
        }
        ctx.string(200, "ok");
      });
      app.post("/abort", async (ctx) => {
        try {
          for await (const part of ctx.multipart({ fileSize: Infinity })) if (part.kind === "file") for await (const _ of part.stream) void _;
        } catch (e) {
          aborted = e;
        }
      });
    },
    { bodyTimeout: 5000 },
  );
  try {
    assert.is((await rawPost(s.port, END, CT, "/twice")).status, 200);
    assert.is((twice as { code?: string }).code, "FARAD_ERR_BODY_ABORTED");
    const c = await RawClient.connect(s.port);
    await c.write(`POST /abort HTTP/1.1\r\nHost: t\r\nContent-Type: ${CT}\r\nContent-Length: ${10 * MiB}\r\n\r\n${fileHead("f", "f.bin")}`);
    await c.write(Buffer.alloc(MiB, 7));
    await sleep(50);
    c.destroy();
    const deadline = Date.now() + 3000;
    while (aborted === undefined && Date.now() < deadline) await sleep(10);
    assert.is((aborted as { code?: string }).code, "FARAD_ERR_BODY_ABORTED");
    while (s.app.stats().connections !== 0 && Date.now() < deadline) await sleep(10);
    assert.is(s.app.stats().pendingHandlers, 0);
  } finally {
    await s.close();
  }
});

test.run();
