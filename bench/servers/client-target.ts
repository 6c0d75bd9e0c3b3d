// The server the client benchmark (bench/client.ts) calls: farad, pinned to
// its own core by the runner, so the clients are what is measured.
import { Server } from "../../src/index.js";

const body64k = Buffer.alloc(64 * 1024, 120);
const app = new Server({});
app.get("/small", (ctx) => ctx.string(200, "Hello, World!"));
app.post("/echo-len", async (ctx) => ctx.string(200, String((await ctx.body()).length)));
app.get("/64k", (ctx) => ctx.data(200, "application/octet-stream", body64k));

await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
console.log("ready");

process.on("SIGTERM", () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
