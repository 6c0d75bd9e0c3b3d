// farad serving the streaming benchmark's endpoints (bench/bodies.ts):
//   POST /consume?rate=<MiB/s>  reads the body at that pace and discards it
//   POST /sink                  reads the body as fast as it comes
//   GET  /file                  the file named by $FILE, with ctx.file (sendfile)
// Bodies are read with ctx.bodyStream() (chunks the handler owns), or with
// ctx.bodyChunks() (chunks lent until the next one) when BODY_READ=chunks.
import { Server, type RequestContext } from "../../src/index.js";
import { paced } from "./pace.js";

const lent = process.env.BODY_READ === "chunks";
const body = (ctx: RequestContext): AsyncIterable<unknown> => (lent ? ctx.bodyChunks() : ctx.bodyStream());

const app = new Server({ bodyTimeout: 60_000, handlerTimeout: 0, writeTimeout: 60_000 });
app.post("/consume", async (ctx) => {
  const n = await paced(body(ctx), Number(ctx.query("rate") ?? 0), () => app.stats());
  ctx.json(200, { n });
});
app.post("/sink", async (ctx) => {
  let n = 0;
  for await (const chunk of body(ctx)) n += (chunk as Buffer).length;
  ctx.json(200, { n });
});
app.get("/file", (ctx) => ctx.file(process.env.FILE!));

await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
console.log("ready");
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
