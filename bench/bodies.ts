// npm run bench:bodies: farad against node:http moving large bodies.
//
//  memory   uploads of --sizes GiB (default 1 and 10) to a handler that reads
//           at --rate MiB/s (default 64) and discards, with Content-Length and
//           chunked framing: the server's peak RSS growth over idle.
//  upload   1 GiB at full speed, --reps times (default 3), medians: MiB/s,
//           server CPU-seconds per GiB, and the client's CPU (this process):
//           when its core is saturated the client, not the server, is the
//           limit. A raw node:net sink (bodies-sink.ts) runs the same upload
//           as the ceiling: no HTTP server can take it faster from this client.
//           --sender picks the client: node (default; node:http's client in
//           this process), sendfile (bench/clients/sendfile-upload.py, the
//           body sent with sendfile(2) from a tmpfs file) or send (the same
//           script with send()s from memory). On loopback each costs about
//           the same client CPU per GiB: TCP, not the copy, is most of it
//           (docs/streaming.md, "Upload throughput").
//  download a 1 GiB file: farad's ctx.file (sendfile) against node:http's
//           fs.createReadStream().pipe(res): server CPU-seconds per GiB.
//
// Servers run pinned to CPU 0, this client to CPU 1. Results are printed and
// inserted into bench/RESULTS.md (newest first) unless --no-save.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { request, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clockTicksPerSecond, coreUsed, cpuUsed, sampleCore, sampleCpu } from "./lib/cpu.js";
import { describeMachine } from "./lib/machine.js";
import { repoRoot, resultsMarkdown, serversDir } from "./lib/paths.js";
import { ServerProcess } from "./lib/server-process.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

interface Opts {
  sizes: number[];
  rate: number;
  framings: ("length" | "chunked")[];
  only: string[];
  save: boolean;
  skip: string[];
  reps: number;
  sender: "sendfile" | "send" | "node";
}

function parse(argv: string[]): Opts {
  const o: Opts = { sizes: [1, 10], rate: 64, framings: ["length", "chunked"], only: ["farad", "farad-chunks", "node", "sink"], save: true, skip: [], reps: 3, sender: "node" };
  for (const a of argv) {
    const [k, v = ""] = a.replace(/^--/, "").split("=") as [string, string?];
    if (k === "sizes") o.sizes = v.split(",").map(Number);
    else if (k === "rate") o.rate = Number(v);
    else if (k === "framing") o.framings = v.split(",") as Opts["framings"];
    else if (k === "only") o.only = v.split(",");
    else if (k === "skip") o.skip = v.split(",");
    else if (k === "no-save") o.save = false;
    else if (k === "reps") o.reps = Math.max(1, Number(v));
    else if (k === "quick") o.sizes = [0.25];
    else if (k === "sender" && (v === "sendfile" || v === "send" || v === "node")) o.sender = v;
    else throw new Error(`unknown option ${a}; known: --sizes=1,10 --rate=64 --framing=length,chunked --only=farad,farad-chunks,node,sink (also farad-sync-sweep) --skip=memory,upload,download --reps=3 --sender=sendfile|send|node --quick --no-save`);
  }
  return o;
}

const SERVERS: Record<string, { label: string; script: string; env?: Record<string, string>; nodeArgs?: string[]; uploadOnly?: boolean; noDownload?: boolean }> = {
  farad: { label: "farad, bodyStream()", script: join(serversDir, "bodies-farad.js") },
  // The same server reading bodies with ctx.bodyChunks(); its download is farad's.
  "farad-chunks": { label: "farad, bodyChunks()", script: join(serversDir, "bodies-farad.js"), env: { BODY_READ: "chunks" }, noDownload: true },
  // Not in the default set: bodyStream() with V8 sweeping dead ArrayBuffers
  // inside the scavenge that found them, so the 1 MiB slabs it gives away no
  // longer count against the old generation's limit afterwards
  // (docs/streaming.md, "Upload throughput").
  "farad-sync-sweep": { label: "farad, bodyStream(), sync sweep", script: join(serversDir, "bodies-farad.js"), nodeArgs: ["--no-concurrent-array-buffer-sweeping"], noDownload: true },
  node: { label: "node:http", script: join(serversDir, "bodies-node.js") },
  sink: { label: "raw socket", script: join(serversDir, "bodies-sink.js"), uploadOnly: true },
};

const SENDERS: Record<Opts["sender"], string> = {
  node: "node:http, 1 MiB writes",
  sendfile: "bench/clients/sendfile-upload.py, sendfile(2) from a 256 MiB tmpfs file",
  send: "bench/clients/sendfile-upload.py --send, 1 MiB send()s",
};

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** POSTs `total` zero bytes (1 MiB writes, honouring backpressure); resolves to the response. */
function post(port: number, path: string, total: number, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "POST", headers: chunked ? {} : { "content-length": String(total) } },
      (res: IncomingMessage) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on("error", reject);
    const block = Buffer.alloc(MiB);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(block.length, total - sent);
        sent += n;
        if (!req.write(n === block.length ? block : block.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

interface UploadResult {
  status: number;
  body: string;
  seconds: number;
  /** Python senders: the connection's TCP_INFO counters over the upload. */
  tcp?: { retransmits: number; busy: number; rwnd_limited: number; sndbuf_limited: number };
}

/** The client of the speed runs: one upload at a time, and the CPU it has used so far. */
interface Sender {
  upload(path: string, total: number): Promise<UploadResult>;
  /** CPU-seconds the client side (this process, and the sender process if any) has used so far. */
  cpu(): number;
  close(): Promise<void>;
}

function ownCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** This process's node:http client (post()). */
function nodeSender(port: number): Sender {
  return {
    async upload(path, total) {
      const t0 = performance.now();
      const r = await post(port, path, total, false);
      return { ...r, seconds: (performance.now() - t0) / 1000 };
    },
    cpu: ownCpu,
    close: async () => {},
  };
}

/**
 * bench/clients/sendfile-upload.py, started once per server on this
 * process's CPU: one upload per stdin line, one JSON line back, a new
 * connection per upload, the body sent from `file` with sendfile(2), or with
 * send() of 1 MiB blocks from memory when `send`.
 */
function pythonSender(port: number, file: string, send: boolean): Sender {
  const script = join(repoRoot, "bench", "clients", "sendfile-upload.py");
  const child: ChildProcess = spawn("python3", [script, "--port", String(port), "--file", file, ...(send ? ["--send", String(MiB)] : [])], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let out = "";
  let waiting: { resolve(line: string): void; reject(e: Error): void } | undefined;
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    const nl = out.indexOf("\n");
    if (nl < 0 || !waiting) return;
    const line = out.slice(0, nl);
    out = out.slice(nl + 1);
    const w = waiting;
    waiting = undefined;
    w.resolve(line);
  });
  void exited.then(() => waiting?.reject(new Error(`sendfile-upload.py exited (${child.exitCode ?? child.signalCode})`)));
  return {
    async upload(path, total) {
      const line = await new Promise<string>((resolve, reject) => {
        waiting = { resolve, reject };
        child.stdin!.write(`${path} ${total}\n`);
      });
      const r = JSON.parse(line) as UploadResult & { error?: string };
      if (r.error) throw new Error(`sendfile-upload.py: ${r.error}`);
      return r;
    },
    cpu: () => ownCpu() + cpuUsed({ schedNs: 0, ticks: 0 }, sampleCpu(child.pid!)).seconds,
    close: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

/**
 * The python sender's body source: 256 MiB of random bytes on tmpfs (so in
 * the page cache, and cold in the CPU caches as a NIC's data would be),
 * sent four times per GiB. The caller removes it.
 */
function makeUploadSource(): string {
  const dir = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const path = join(dir, `farad-bench-upload-${process.pid}.bin`);
  const block = randomBytes(MiB);
  const fd = openSync(path, "w");
  try {
    for (let i = 0; i < 256; i++) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
  return path;
}

function download(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/file" }, (res) => {
      let n = 0;
      res.on("data", (d: Buffer) => (n += d.length));
      res.on("end", () => resolve(n));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

interface MemoryRow { server: string; size: number; framing: string; idleMiB: number; peakMiB: number; peakGrowthMiB: number; seconds: number }
interface SpeedRow {
  server: string;
  what: "upload" | "download";
  mbps: number;
  cpuPerGiB: number;
  /** Upload only: the client's (this process's) CPU-seconds per GiB, and the share of its core it kept busy. */
  clientCpuPerGiB?: number;
  clientBusy?: number;
  /** Upload only: CPU-seconds other processes took on the two cores during the runs (noise). */
  others?: number;
}

/**
 * Waits (up to 30 s) until both CPUs were at least 90% idle for half a
 * second: this machine may be shared, and an upload that overlaps someone
 * else's work costs more CPU per GiB. Returns false if it never was.
 */
async function quiet(): Promise<boolean> {
  const hz = clockTicksPerSecond();
  for (let i = 0; i < 60; i++) {
    const a = [sampleCore(0), sampleCore(1)];
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 500));
    const secs = (performance.now() - t0) / 1000;
    const busy = [0, 1].map((c) => {
      const b = sampleCore(c);
      return (b.tasks - a[c]!.tasks + b.irq - a[c]!.irq + b.steal - a[c]!.steal) / hz;
    });
    if (Math.max(...busy) <= 0.1 * secs) return true;
  }
  return false;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function machineLine(): string {
  const m = describeMachine([]);
  return `${m.nproc} CPUs, ${m.cpuModel}, ${m.kernel}; node ${m.node}; farad at ${m.git}`;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const machine = machineLine(); // before pinning: nproc counts the CPUs this process may use
  // This process is the client: keep it off the servers' CPU.
  try {
    execFileSync("taskset", ["-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  } catch {
    console.log("note: taskset not available; client not pinned");
  }
  const file = join(tmpdir(), "farad-bench-1g.bin");
  if (!existsSync(file)) {
    // Sparse: the pages come from the page cache as zeros for both servers.
    const fd = openSync(file, "w");
    ftruncateSync(fd, GiB);
    closeSync(fd);
  }
  process.env.FILE = file;
  const source = o.sender !== "node" && !o.skip.includes("upload") ? makeUploadSource() : undefined;
  const memory: MemoryRow[] = [];
  const speed: SpeedRow[] = [];
  type Run = Required<Omit<SpeedRow, "server" | "what">>;
  interface Entry { name: string; spec: (typeof SERVERS)[string]; runs: Run[]; noisy: Run[] }
  const entries: Entry[] = o.only.map((name) => {
    const spec = SERVERS[name];
    if (!spec) throw new Error(`unknown server ${name}`);
    return { name, spec, runs: [], noisy: [] };
  });
  let current: { sp: ServerProcess; sender?: Sender } | undefined;
  /** A fresh server process, warmed up: 64 MiB from node:http's client, then 256 MiB from `sender` if given. */
  const fresh = async (e: Entry, sender?: (port: number) => Sender): Promise<{ sp: ServerProcess; sender?: Sender }> => {
    const sp = await ServerProcess.start(e.spec.script, 0, undefined, e.spec.env, e.spec.nodeArgs);
    current = { sp };
    current.sender = sender?.(sp.port);
    await post(sp.port, "/sink", 64 * MiB, false); // warm up
    if (current.sender) await current.sender.upload("/sink", 256 * MiB); // warm: JIT, buffers
    return current;
  };
  const retire = async (): Promise<void> => {
    const c = current;
    current = undefined;
    await c?.sender?.close();
    await c?.sp.stop();
  };
  try {
    // Upload speed, in rounds: each round makes one run per server (the
    // order rotated), each run on a fresh, warmed-up server process. A
    // process's cost per GiB can sit at 1× or 2-3× for its whole life
    // (node:http and the raw sink too), and the machine's speed drifts with
    // its neighbours' memory traffic, so runs of one process in a row would
    // measure one draw of each. A run during which other processes took
    // more than 5% of a core is set aside and made again (up to reps + 3
    // rounds); only if too few quiet runs remain do the least noisy of the
    // others fill in.
    if (!o.skip.includes("upload")) {
      const makeSender = (port: number): Sender => (source ? pythonSender(port, source, o.sender === "send") : nodeSender(port));
      for (let round = 0; round < o.reps + 3 && entries.some((e) => e.runs.length < o.reps); round++) {
        for (let i = 0; i < entries.length; i++) {
          const e = entries[(i + round) % entries.length]!;
          if (e.runs.length >= o.reps) continue;
          const { sp, sender } = await fresh(e, makeSender);
          try {
            if (!(await quiet())) console.log("note: the machine was not quiet before this run");
            const c0 = sampleCpu(sp.pid);
            const k0 = sender!.cpu();
            const cores0 = [sampleCore(0), sampleCore(1)];
            const t0 = performance.now();
            const r = await sender!.upload("/sink", GiB);
            const window = (performance.now() - t0) / 1000;
            const used = cpuUsed(c0, sampleCpu(sp.pid)).seconds;
            const client = sender!.cpu() - k0;
            if (r.status !== 200 || JSON.parse(r.body).n !== GiB) throw new Error(`${e.name}: bad upload answer ${r.status} ${r.body}\nserver stderr:\n${sp.stderrTail}`);
            const secs = r.seconds;
            const others = coreUsed(cores0[0]!, sampleCore(0), used, window).others + coreUsed(cores0[1]!, sampleCore(1), client, window).others;
            const run = { mbps: GiB / MiB / secs, cpuPerGiB: used, clientCpuPerGiB: client, clientBusy: client / secs, others };
            const quietRun = others <= 0.05 * window;
            (quietRun ? e.runs : e.noisy).push(run);
            console.log(`upload   ${e.spec.label.padEnd(20)} ${(GiB / MiB / secs).toFixed(0)} MiB/s, ${used.toFixed(3)} CPU-s per GiB; client ${client.toFixed(3)} CPU-s per GiB, ${((100 * client) / secs).toFixed(0)}% of its core; others ${others.toFixed(2)} CPU-s${r.tcp ? `; waited for the server's window ${r.tcp.rwnd_limited.toFixed(2)} s, ${r.tcp.retransmits} retransmits` : ""}${quietRun ? "" : " (set aside: not quiet)"}`);
          } finally {
            await retire();
          }
        }
      }
      for (const e of entries) {
        const runs = e.runs;
        e.noisy.sort((a, b) => a.others - b.others);
        while (runs.length < o.reps && e.noisy.length > 0) runs.push(e.noisy.shift()!);
        const pick = (key: keyof Run): number => median(runs.map((r) => r[key]));
        speed.push({ server: e.spec.label, what: "upload", mbps: pick("mbps"), cpuPerGiB: pick("cpuPerGiB"), clientCpuPerGiB: pick("clientCpuPerGiB"), clientBusy: pick("clientBusy"), others: pick("others") });
      }
    }
    // Then one server at a time, on a fresh process warmed up with 320 MiB:
    // the download and the memory runs.
    for (const e of entries) {
      const { name, spec } = e;
      if (spec.uploadOnly || (o.skip.includes("memory") && (o.skip.includes("download") || spec.noDownload))) continue;
      const { sp } = await fresh(e, nodeSender);
      if (!o.skip.includes("download") && !spec.noDownload) {
        // Warm the page cache right before: this VM reclaims idle page
        // cache (DAMON), and populating it is charged to whoever reads first.
        await download(sp.port);
        const c0 = sampleCpu(sp.pid);
        const t0 = performance.now();
        const n = await download(sp.port);
        const secs = (performance.now() - t0) / 1000;
        const used = cpuUsed(c0, sampleCpu(sp.pid)).seconds;
        if (n !== GiB) throw new Error(`${name}: downloaded ${n} bytes`);
        speed.push({ server: spec.label, what: "download", mbps: GiB / MiB / secs, cpuPerGiB: used });
        console.log(`download ${spec.label.padEnd(20)} ${(GiB / MiB / secs).toFixed(0)} MiB/s, ${used.toFixed(3)} CPU-s per GiB`);
      }
      if (!o.skip.includes("memory")) {
        // One baseline for every run: RSS once warm and idle. (RSS right
        // before each run moves with GC timing by 20 MiB either way.)
        await new Promise((r) => setTimeout(r, 1000));
        const baseline = rssBytes(sp.pid);
        for (const size of o.sizes) {
          for (const framing of o.framings) {
            await new Promise((r) => setTimeout(r, 500));
            const idle = baseline;
            let peak = idle;
            const timer = setInterval(() => (peak = Math.max(peak, rssBytes(sp.pid))), 50);
            const t0 = performance.now();
            const r = await post(sp.port, `/consume?rate=${o.rate}`, Math.round(size * GiB), framing === "chunked");
            const seconds = (performance.now() - t0) / 1000;
            clearInterval(timer);
            peak = Math.max(peak, rssBytes(sp.pid));
            if (r.status !== 200 || JSON.parse(r.body).n !== Math.round(size * GiB)) {
              throw new Error(`${name}: bad upload answer ${r.status} ${r.body}\nserver stderr:\n${sp.stderrTail}`);
            }
            const row = { server: spec.label, size, framing, idleMiB: idle / MiB, peakMiB: peak / MiB, peakGrowthMiB: Math.max(0, peak - idle) / MiB, seconds };
            memory.push(row);
            console.log(`memory  ${spec.label.padEnd(20)} ${size} GiB ${framing.padEnd(7)} idle ${row.idleMiB.toFixed(1)} MiB, peak ${row.peakMiB.toFixed(1)} MiB, growth ${row.peakGrowthMiB.toFixed(1)} MiB, ${seconds.toFixed(1)} s`);
          }
        }
      }
      await retire();
    }
  } finally {
    await retire();
    if (source) rmSync(source, { force: true });
  }
  const order = (label: string): number => entries.findIndex((e) => e.spec.label === label);
  speed.sort((a, b) => order(a.server) - order(b.server) || (a.what === "upload" ? -1 : 1));
  const SYNC_SWEEP = SERVERS["farad-sync-sweep"]!.label;
  const ratio = (what: "upload" | "download", key: "mbps" | "cpuPerGiB", a = "farad, bodyStream()"): string => {
    const f = speed.find((s) => s.server === a && s.what === what);
    const n = speed.find((s) => s.server === "node:http" && s.what === what);
    return f && n ? (f[key] / n[key]).toFixed(2) : "-";
  };
  const lines = [
    `## ${new Date().toISOString().replace(/\.\d+Z$/, "Z")} — \`npm run bench:bodies${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}\``,
    "",
    `- machine: ${machine}`,
    `- servers pinned to CPU 0, client (${SENDERS[o.sender]}) to CPU 1; uploads: median of ${o.reps} runs of 1 GiB, each on a fresh server process after 320 MiB of warm-up, the servers taking turns, each run started once both CPUs were 90% idle, a run during which others took over 5% of a core made again; the memory runs read at ${o.rate} MiB/s and discard`,
    "",
    "| memory: upload | server | framing | idle RSS (warm) | peak RSS | peak growth | time |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ...memory.map((m) => `| ${m.size} GiB | ${m.server} | ${m.framing} | ${m.idleMiB.toFixed(1)} MiB | ${m.peakMiB.toFixed(1)} MiB | ${m.peakGrowthMiB.toFixed(1)} MiB | ${m.seconds.toFixed(1)} s |`),
    "",
    "| speed | server | MiB/s | server CPU-s per GiB | client CPU-s per GiB | client core busy | others' CPU-s |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...speed.map((s) => `| ${s.what} 1 GiB | ${s.server} | ${s.mbps.toFixed(0)} | ${s.cpuPerGiB.toFixed(3)} | ${s.clientCpuPerGiB?.toFixed(3) ?? ""} | ${s.clientBusy === undefined ? "" : `${(100 * s.clientBusy).toFixed(0)}%`} | ${s.others?.toFixed(2) ?? ""} |`),
    "",
    `farad / node:http: upload throughput ${ratio("upload", "mbps")}× (bodyStream()), ${ratio("upload", "mbps", "farad, bodyChunks()")}× (bodyChunks()); upload CPU per GiB ${ratio("upload", "cpuPerGiB")}× (bodyStream()), ${ratio("upload", "cpuPerGiB", "farad, bodyChunks()")}× (bodyChunks()); download CPU per GiB ${ratio("download", "cpuPerGiB")}× (ctx.file). Ceiling with this client: raw socket / node:http upload throughput ${ratio("upload", "mbps", "raw socket")}×.${speed.some((r) => r.server === SYNC_SWEEP) ? ` bodyStream() under node --no-concurrent-array-buffer-sweeping: upload throughput ${ratio("upload", "mbps", SYNC_SWEEP)}×, CPU per GiB ${ratio("upload", "cpuPerGiB", SYNC_SWEEP)}×.` : ""}`,
    "",
  ];
  console.log("\n" + lines.join("\n"));
  if (o.save) {
    const path = resultsMarkdown;
    const marker = "<!-- runs, newest first; npm run bench inserts below this line -->";
    const old = existsSync(path) ? readFileSync(path, "utf8") : `# Benchmark results\n\n${marker}\n`;
    const at = old.indexOf(marker);
    writeFileSync(path, at < 0 ? `${old}\n${lines.join("\n")}` : `${old.slice(0, at + marker.length)}\n\n${lines.join("\n")}${old.slice(at + marker.length)}`);
    console.log(`wrote ${path}`);
  }
}

await main();
