/**
 * The JavaScript side of serving, without sockets or a kernel:
 *
 *   npx tsc -p tsconfig.json && node dist/bench/dispatch.js [--time=seconds] [--rounds=n] [--case=name]
 *
 * A stand-in addon (FARAD_ADDON) plays the reactor: it fills the shared
 * tables with a batch of ready-made requests, calls onBatch (and onBatchEnd
 * when asked), and drops the response records. What is measured is what
 * farad's own JavaScript costs per request (context, router, handler,
 * response serialization), which the server benchmark (bench/run.ts) cannot
 * separate from the kernel's TCP work, 80% of the CPU there. Each case runs
 * in its own worker; the best of `rounds` runs is reported in CPU ns per
 * request (process CPU time, which time stolen by other tenants of a shared
 * machine does not inflate), with wall-clock ns beside it.
 *
 * Cases mirror bench/run.ts's scenarios: `plaintext` (a batch of 8 requests
 * on 8 connections), `pipelined` (8 connections × 16 requests), `json`,
 * `param`, and `echo` (an async handler reading a 1 KiB body).
 */
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { inWorker } from "./lib/worker.js";

interface Case {
  name: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  connections: number;
  depth: number;
}

const ECHO_BODY = Buffer.from("0123456789abcdef".repeat(64));
const WRK_HEADERS = { host: "127.0.0.1:8080" };

const cases: Case[] = [
  { name: "plaintext", method: "GET", url: "/plaintext", headers: WRK_HEADERS, connections: 8, depth: 1 },
  { name: "pipelined", method: "GET", url: "/plaintext", headers: WRK_HEADERS, connections: 8, depth: 16 },
  { name: "json", method: "GET", url: "/json", headers: WRK_HEADERS, connections: 8, depth: 1 },
  { name: "param", method: "GET", url: "/user/12345", headers: WRK_HEADERS, connections: 8, depth: 1 },
  {
    name: "echo", method: "POST", url: "/echo", connections: 8, depth: 1, body: ECHO_BODY,
    headers: { ...WRK_HEADERS, "content-type": "application/octet-stream" },
  },
];

interface Job {
  name: string;
  seconds: number;
}

interface Result {
  name: string;
  nsPerRequest: number;
  cpuNsPerRequest: number;
  requests: number;
}

/** The stand-in addon's server handle: the parts of the binding onBatch touches. */
class FakeHandle {
  regions: { control: Int32Array };
  onBatch: () => void;
  onBatchEnd: () => void;
  constructor(_o: unknown, regions: { control: Int32Array }, onBatch: () => void, onBatchEnd: () => void) {
    this.regions = regions;
    this.onBatch = onBatch;
    this.onBatchEnd = onBatchEnd;
    fake.handle = this;
  }
  listen(): number { return 1; }
  flush(): void { this.regions.control[1] = 0; this.regions.control[2] = 0; }
  writeExternal(): boolean { return true; }
  peerAddress(): null { return null; }
  writeChunk(): number { return 0; }
  sendFile(): boolean { return false; }
  pauseBody(): boolean { return true; }
  sendContinue(): boolean { return true; }
  stopAccepting(): void {}
  closeIdle(): void {}
  closeAll(): void {}
  destroy(): void {}
}

const fake: { handle: FakeHandle | null } = { handle: null };

async function runCase(job: Job): Promise<Result> {
  const c = cases.find((x) => x.name === job.name)!;
  // The addon is loaded when the transport module is first evaluated, so the
  // stand-in must be in place before farad is imported.
  const dir = mkdtempSync(join(tmpdir(), "farad-dispatch-"));
  const addon = join(dir, "addon.cjs");
  writeFileSync(addon, "module.exports = globalThis.__faradDispatchAddon;\n");
  (globalThis as Record<string, unknown>).__faradDispatchAddon = { ServerHandle: FakeHandle, parseHead: () => 0, layoutVersion: 0 };
  process.env.FARAD_ADDON = addon;
  const { Server } = await import("../src/index.js");
  const L = await import("../src/transport/layout.js");
  const { synthesize } = await import("../src/protocol/http1/synthetic.js");

  const app = new Server();
  app.get("/plaintext", (ctx) => ctx.string(200, "Hello, World!"));
  app.get("/json", (ctx) => ctx.json(200, { message: "Hello, World!" }));
  app.get("/user/:id", (ctx) => ctx.json(200, { id: ctx.param("id") }));
  app.post("/echo", async (ctx) => ctx.data(200, "application/octet-stream", await ctx.body()));
  await app.listen({ host: "127.0.0.1", port: 1 });
  const h = fake.handle!;
  const r = h.regions as unknown as { control: Int32Array; events: Int32Array; headers: Int32Array; input: Buffer; output: Buffer };

  // One batch: `connections` slots × `depth` requests, laid out as the reactor does.
  const n = c.connections * c.depth;
  let inUsed = 0;
  let rowsUsed = 0;
  const seqBase: number[] = [];
  for (let k = 0; k < n; k++) {
    const s = synthesize({ method: c.method, url: c.url, headers: c.headers, body: c.body }, 0);
    const ev = r.events.subarray(k * L.EVENT_STRIDE, (k + 1) * L.EVENT_STRIDE);
    ev.set(s.event);
    ev[L.E_SLOT] = k % c.connections;
    ev[L.E_GEN] = 1;
    for (const f of [L.E_HEAD_OFF, L.E_TARGET_OFF, L.E_BODY_OFF]) ev[f] = ev[f]! + inUsed;
    ev[L.E_HEADER_INDEX] = rowsUsed / L.HEADER_STRIDE;
    s.buf.copy(r.input, inUsed);
    for (let i = 0; i < s.rows.length; i += L.HEADER_STRIDE) {
      r.headers[rowsUsed + i] = s.rows[i]! + inUsed;
      r.headers[rowsUsed + i + 1] = s.rows[i + 1]!;
      r.headers[rowsUsed + i + 2] = s.rows[i + 2]! + inUsed;
      r.headers[rowsUsed + i + 3] = s.rows[i + 3]!;
    }
    rowsUsed += s.rows.length;
    inUsed += s.buf.length;
    seqBase.push(Math.floor(k / c.connections));
  }
  const ctl = r.control;
  let seq = 0;
  for (let k = 0; k < n; k++) r.events[k * L.EVENT_STRIDE + L.E_SEQ] = seqBase[k]!;
  const batch = async (): Promise<void> => {
    // Sequence numbers grow as on a real connection (the server remembers the last one per slot).
    for (let k = 0; k < n; k++) r.events[k * L.EVENT_STRIDE + L.E_SEQ] = seq + seqBase[k]!;
    seq += c.depth;
    ctl[L.C_EVENTS] = n;
    ctl[L.C_DETACH] = 0;
    ctl[L.C_IN_BATCH] = 1;
    ctl[L.C_NOW_SEC] = Math.floor(Date.now() / 1000);
    h.onBatch();
    // The microtask checkpoint that ends the real batch call: an async
    // handler settles within a few ticks (a real checkpoint drains them all).
    for (let i = 0; i < 6; i++) await null;
    ctl[L.C_OUT_RECORDS] = 0;
    ctl[L.C_OUT_USED] = 0;
    if (ctl[L.C_DETACH]) h.onBatchEnd();
    ctl[L.C_IN_BATCH] = 0;
  };

  // Check the answers once before measuring.
  {
    const before = ctl[L.C_OUT_RECORDS];
    ctl[L.C_EVENTS] = n;
    ctl[L.C_IN_BATCH] = 1;
    h.onBatch();
    for (let i = 0; i < 6; i++) await null;
    const records = ctl[L.C_OUT_RECORDS]! - before!;
    const text = r.output.toString("latin1", 0, ctl[L.C_OUT_USED]);
    const ok = text.split("HTTP/1.1 200 OK\r\n").length - 1;
    if (records !== n || ok !== n || app.stats().pendingHandlers !== 0) {
      throw new Error(`${c.name}: ${records} records, ${ok} answers 200, ${app.stats().pendingHandlers} pending, for ${n} requests`);
    }
    ctl[L.C_OUT_RECORDS] = 0;
    ctl[L.C_OUT_USED] = 0;
    ctl[L.C_IN_BATCH] = 0;
    seq += c.depth;
  }

  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) await batch(); // warm-up: let the JIT settle
  let batches = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const stop = t0 + BigInt(Math.round(job.seconds * 1e9));
  let now = t0;
  while (now < stop) {
    for (let i = 0; i < 64; i++) await batch();
    batches += 64;
    now = process.hrtime.bigint();
  }
  const requests = batches * n;
  const cpu = process.cpuUsage(cpu0);
  return { name: c.name, nsPerRequest: Number(now - t0) / requests, cpuNsPerRequest: ((cpu.user + cpu.system) * 1000) / requests, requests };
}

function option(args: string[], name: string, fallback: string): string {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : a.slice(name.length + 3);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seconds = Number(option(args, "time", "2"));
  const rounds = Number(option(args, "rounds", "3"));
  const only = option(args, "case", "");
  const chosen = only ? cases.filter((c) => only.split(",").includes(c.name)) : cases;
  const best = new Map<string, number>();
  const bestCpu = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    for (const c of chosen) {
      const r = await inWorker<Job, Result>(new URL(import.meta.url), { name: c.name, seconds });
      best.set(c.name, Math.min(best.get(c.name) ?? Infinity, r.nsPerRequest));
      bestCpu.set(c.name, Math.min(bestCpu.get(c.name) ?? Infinity, r.cpuNsPerRequest));
    }
  }
  console.log(`CPU ns per request (best of ${rounds} × ${seconds} s), JavaScript only, node ${process.version}`);
  for (const c of chosen) {
    console.log(`${c.name.padEnd(10)} ${bestCpu.get(c.name)!.toFixed(0).padStart(6)} ns   (wall ${best.get(c.name)!.toFixed(0)} ns)`);
  }
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
} else {
  runCase(workerData as Job).then(
    (r) => parentPort!.postMessage(r),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
