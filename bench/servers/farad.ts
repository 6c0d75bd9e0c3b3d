// farad through its public API, serving the same endpoints as node-http.ts and fastify.ts.
// FARAD_MAX_BATCH sets the maxBatch option (for the boundary experiment in docs/boundary.md).
import { Server } from "../../src/index.js";

const maxBatch = Number(process.env.FARAD_MAX_BATCH ?? 0);
const app = new Server({ maxBatch });
app.get("/plaintext", (ctx) => ctx.string(200, "Hello, World!"));
app.get("/json", (ctx) => ctx.json(200, { message: "Hello, World!" }));
app.get("/user/:id", (ctx) => ctx.json(200, { id: ctx.param("id") }));
app.post("/echo", async (ctx) => ctx.data(200, "application/octet-stream", await ctx.body()));

await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
console.log("ready");

process.on("SIGTERM", () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
