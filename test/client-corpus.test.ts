/**
 * Every case of the response parser corpus (test/fixtures/responses.txt)
 * played by a server over a real socket to the client: valid responses
 * arrive with their status, reason, version, headers and decoded body;
 * malformed ones fail with FARAD_ERR_BAD_RESPONSE and the parser's code;
 * streams that end early fail with FARAD_ERR_PREMATURE_CLOSE.
 */
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

import { Client, ClientError } from "../src/index.js";
import { loadCorpus, unescape } from "./lib/corpus.js";
import { rawServer, type RawServer } from "./lib/raw-server.js";
import { watchdog } from "./lib/server.js";

watchdog(60_000);

const cases = loadCorpus(fileURLToPath(new URL("../../test/fixtures/responses.txt", import.meta.url)));

// The bytes the current case's server sends, then it closes.
let script: Buffer = Buffer.alloc(0);
let server: RawServer;

test.before(async () => {
  server = await rawServer((sock) => {
    let seen = "";
    sock.on("data", (d: Buffer) => {
      seen += d.toString("latin1");
      if (seen.includes("\r\n\r\n")) {
        seen = "";
        sock.end(script);
      }
    });
  });
});
test.after(() => server.close());

function limitsOf(spec: string | undefined): { maxHeaderBytes?: number; maxHeaders?: number; maxTrailerBytes?: number } {
  const out: Record<string, number> = {};
  for (const part of (spec ?? "").split(/\s+/).filter(Boolean)) {
    const [k, v] = part.split("=");
    if (k === "header_bytes") out.maxHeaderBytes = Number(v);
    else if (k === "headers") out.maxHeaders = Number(v);
    else if (k === "trailer_bytes") out.maxTrailerBytes = Number(v);
  }
  return out;
}

for (const c of cases) {
  const method = c.get("request_method") ?? "GET";
  if (method === "CONNECT") continue; // request() does not open tunnels; the native runner covers these
  test(`${c.name} (responses.txt:${c.line})`, async () => {
    script = c.raw;
    const client = new Client({ ...limitsOf(c.get("limits")), leakDetection: false });
    try {
      const expect = c.get("expect")!;
      let outcome: { status: number; reason: string; version: string; headers: number; body: Buffer } | ClientError;
      try {
        const res = await client.request({ url: `http://127.0.0.1:${server.port}/`, method });
        // As a stream: bytes() would refuse the huge declared lengths some cases have.
        const parts: Buffer[] = [];
        for await (const chunk of res.body) parts.push(chunk as Buffer);
        const body = Buffer.concat(parts);
        outcome = { status: res.status, reason: res.statusText, version: res.httpVersion, headers: res.rawHeaders.length / 2, body };
      } catch (e) {
        if (!(e instanceof ClientError)) throw e;
        outcome = e;
      }
      if (expect === "ok") {
        if (outcome instanceof ClientError) return assert.unreachable(`expected a response, got ${outcome.code} ${outcome.reason ?? ""}: ${outcome.message}`);
        assert.is(outcome.status, Number(c.get("status")));
        assert.is(outcome.reason, unescape(c.get("reason") ?? ""));
        assert.is(outcome.version, c.get("version"));
        assert.is(outcome.headers, Number(c.get("headers")));
        const kind = c.get("body")!;
        if (c.get("tunnel") === "true") assert.is(outcome.body.toString("latin1"), unescape(c.get("rest") ?? ""));
        else if (kind === "none") assert.is(outcome.body.length, 0);
        else assert.is(outcome.body.toString("latin1"), unescape(c.get("body_data") ?? ""));
      } else if (expect === "incomplete") {
        assert.instance(outcome, ClientError, "an incomplete response must fail");
        const e = outcome as ClientError;
        assert.ok(e.code === "FARAD_ERR_PREMATURE_CLOSE" || e.code === "FARAD_ERR_SOCKET_CLOSED", `${e.code}: ${e.message}`);
      } else {
        assert.instance(outcome, ClientError, `expected ${expect}`);
        const e = outcome as ClientError;
        assert.is(e.code, "FARAD_ERR_BAD_RESPONSE", e.message);
        assert.is(e.reason, expect);
      }
    } finally {
      client.close();
    }
  });
}

test.run();
