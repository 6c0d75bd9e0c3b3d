// The peer for bench/proxy.ts: node:http forwarding to UPSTREAM_PORT with
// undici (a Pool, streaming both ways, hop-by-hop headers dropped), the
// usual way to write a fast proxy on node today.
import http from "node:http";
import { pipeline } from "node:stream";
import { Pool } from "undici";

const HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "host"]);
const pool = new Pool(`http://127.0.0.1:${process.env.UPSTREAM_PORT}`, { connections: 128 });
const server = http.createServer(async (req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
  headers["x-forwarded-for"] = req.socket.remoteAddress ?? "";
  try {
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    const up = await pool.request({ path: req.url!, method: req.method as "GET", headers, body: hasBody ? req : undefined });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (!HOP.has(k) && v !== undefined) out[k] = v;
    res.writeHead(up.statusCode, out);
    pipeline(up.body, res, () => {});
  } catch {
    res.writeHead(502).end();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
