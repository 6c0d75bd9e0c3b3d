// The sender's ceiling for bench/bodies.ts: a node:net server that finds
// each request's Content-Length and discards the body, with no HTTP
// framework and no stream above the socket. No HTTP server can take an
// upload faster than this from the same client; when the client's core is
// saturated here, the client, not the servers, bounds the throughput ratio.
import { createServer } from "node:net";

const LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

const server = createServer((socket) => {
  let head = "";
  let left = -1; // body bytes still to come; -1: reading a head
  let length = 0;
  socket.on("data", (data: Buffer) => {
    let off = 0;
    while (off < data.length) {
      if (left < 0) {
        const end = data.indexOf("\r\n\r\n", off, "latin1");
        head += data.toString("latin1", off, end < 0 ? data.length : end + 4);
        if (end < 0) return;
        off = end + 4;
        left = length = Number(LENGTH.exec(head)?.[1] ?? 0);
        head = "";
      }
      const n = Math.min(left, data.length - off);
      left -= n;
      off += n;
      if (left === 0) {
        left = -1;
        const body = JSON.stringify({ n: length });
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    }
  });
  socket.on("error", () => socket.destroy());
});
server.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
