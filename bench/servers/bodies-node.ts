// node:http serving the streaming benchmark's endpoints, the idiomatic way:
// for-await over the request, fs.createReadStream().pipe(res) for the file.
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { paced } from "./pace.js";

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (req.method === "POST" && url.pathname === "/consume") {
    const n = await paced(req, Number(url.searchParams.get("rate") ?? 0));
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ n }));
  } else if (req.method === "POST" && url.pathname === "/sink") {
    let n = 0;
    for await (const chunk of req) n += (chunk as Buffer).length;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ n }));
  } else if (req.method === "GET" && url.pathname === "/file") {
    const file = process.env.FILE!;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": statSync(file).size });
    createReadStream(file).pipe(res);
  } else {
    res.writeHead(404).end();
  }
});
server.requestTimeout = 0;
server.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
