// One client under load: `node load.js <client> <scenario> <port> <seconds> <concurrency>`.
// A closed loop of <concurrency> requests in flight, each reading its whole
// response; prints one JSON line: requests, errors, wall and CPU seconds of
// this process (every thread: JS, libuv, V8 helpers, native pollers).
import http from "node:http";
import { Pool } from "undici";

import { Client } from "../../src/index.js";

const [kind, scenario, portArg, secondsArg, concArg] = process.argv.slice(2);
const port = Number(portArg);
const seconds = Number(secondsArg);
const concurrency = Number(concArg);
const origin = `http://127.0.0.1:${port}`;
const post1k = Buffer.alloc(1024, 97);

interface Spec {
  method: "GET" | "POST";
  path: string;
  body?: Buffer;
  stream: boolean;
  expect: number; // response body bytes
}
const specs: Record<string, Spec> = {
  "get-small": { method: "GET", path: "/small", stream: false, expect: 13 },
  "post-1k": { method: "POST", path: "/echo-len", body: post1k, stream: false, expect: 4 },
  "stream-64k": { method: "GET", path: "/64k", stream: true, expect: 65536 },
};
const spec = specs[scenario!];
if (!spec) throw new Error(`unknown scenario ${scenario}`);

type One = () => Promise<number>;

function faradClient(): { one: One; close(): void } {
  const leak = process.env.FARAD_LEAK === "count" ? "count" : process.env.FARAD_LEAK === "off" ? false : "stack";
  const client = new Client({ maxConnectionsPerHost: concurrency, leakDetection: leak });
  const url = `${origin}${spec!.path}`;
  return {
    one: async () => {
      const res = await client.request({ url, method: spec!.method, body: spec!.body });
      if (spec!.stream) {
        let n = 0;
        for await (const c of res.body) n += (c as Buffer).length;
        return n;
      }
      return (await res.bytes()).length;
    },
    close: () => client.close(),
  };
}

function undiciClient(): { one: One; close(): void } {
  const pool = new Pool(origin, { connections: concurrency });
  return {
    one: async () => {
      const { body } = await pool.request({ path: spec!.path, method: spec!.method, body: spec!.body });
      if (spec!.stream) {
        let n = 0;
        for await (const c of body) n += (c as Buffer).length;
        return n;
      }
      return Buffer.from(await body.arrayBuffer()).length;
    },
    close: () => void pool.close(),
  };
}

function nodeClient(): { one: One; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  return {
    one: () =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, path: spec!.path, method: spec!.method, agent }, (res) => {
          let n = 0;
          res.on("data", (c: Buffer) => (n += c.length));
          res.on("end", () => resolve(n));
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(spec!.body);
      }),
    close: () => agent.destroy(),
  };
}

const c = kind === "farad" ? faradClient() : kind === "undici" ? undiciClient() : kind === "node-http" ? nodeClient() : null;
if (!c) throw new Error(`unknown client ${kind}`);

let requests = 0;
let errors = 0;
let wrong = 0;
let running = true;
async function worker(): Promise<void> {
  while (running) {
    try {
      const n = await c!.one();
      if (n !== spec!.expect) wrong++;
      requests++;
    } catch {
      errors++;
    }
  }
}

const workers = Array.from({ length: concurrency }, () => worker());
// Warm-up, then the measured window.
await new Promise((r) => setTimeout(r, 1000));
const r0 = requests;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const r1 = requests;
const cpu1 = process.cpuUsage(cpu0);
const wall = (performance.now() - t0) / 1000;
running = false;
await Promise.all(workers);
c.close();
console.log(JSON.stringify({ requests: r1 - r0, errors, wrong, wall, cpu: (cpu1.user + cpu1.system) / 1e6 }));
process.exit(0);
