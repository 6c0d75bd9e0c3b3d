/**
 * Out of descriptors: the server stops accepting (instead of spinning on a
 * level-triggered listen socket), keeps serving the connections it has, and
 * accepts again once descriptors are free.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";

const here = dirname(fileURLToPath(import.meta.url));
const LIMIT = 48; // node itself holds ~20 descriptors

async function start(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(here, "fixtures", "emfile-server.js")], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  // Once it has loaded its modules and listens, the child gets a tiny
  // descriptor limit (RLIMIT_NOFILE of that process only).
  await new Promise<void>((resolve, reject) => {
    const p = spawn("prlimit", ["--pid", String(child.pid), `--nofile=${LIMIT}:${LIMIT}`], { stdio: "inherit" });
    p.once("error", reject);
    p.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`prlimit exited with ${code}`))));
  });
  return { child, port };
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

/** One GET on an open socket; resolves to the response text. */
function get(s: Socket, path: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const t = setTimeout(() => reject(new Error(`no response to ${path} in ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer): void => {
      data += d.toString("latin1");
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(data)?.[1] ?? 0);
      if (data.length >= end + 4 + len) {
        clearTimeout(t);
        s.off("data", onData);
        resolve(data.slice(end + 4, end + 4 + len));
      }
    };
    s.on("data", onData);
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

test("EMFILE pauses accepting, keeps serving, resumes when descriptors free up", async () => {
  const { child, port } = await start();
  const sockets: Socket[] = [];
  try {
    // More connections than the child has descriptors for. The kernel
    // completes the handshakes (backlog); the server accepts what it can.
    for (let i = 0; i < LIMIT + 20; i++) sockets.push(await open(port));
    // A connection the server did accept still works.
    const first = await get(sockets[0]!, "/stats");
    const stats = JSON.parse(first) as { connections: number; acceptPaused: boolean };
    assert.ok(stats.connections < LIMIT, `accepted ${stats.connections} with a limit of ${LIMIT}`);
    assert.ok(stats.connections > 5, "accepted some connections");
    assert.is(stats.acceptPaused, true, "accepting is paused while out of descriptors");
    const waiting = sockets.length - stats.connections;
    assert.ok(waiting > 0);
    // Free descriptors: close every connection but the first and the last.
    // The server accepts the backlog in order (those closed by now are read
    // to EOF and closed at once), so it reaches the last one.
    const last = sockets[sockets.length - 1]!;
    for (const s of sockets.slice(1, -1)) s.destroy();
    assert.is(await get(last, "/", 3000), "ok");
    const after = JSON.parse(await get(sockets[0]!, "/stats")) as { acceptPaused: boolean; accepted: number };
    assert.ok(after.accepted > stats.connections, "accepted more after descriptors were freed");
  } finally {
    for (const s of sockets) s.destroy();
    child.kill("SIGTERM");
  }
});

test.run();
