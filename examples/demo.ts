/**
 * The demo server behind `npm start`: a few routes that show the API.
 *   curl localhost:8888/
 *   curl localhost:8888/hello/ada
 *   curl -d '{"a":1}' localhost:8888/echo
 */
import { HttpError, Server } from "../src/index.js";

const app = new Server({ port: Number(process.env.PORT ?? 8888) });

// Middleware: time every request, add a header after the handler ran.
app.use(async (ctx) => {
  const t = performance.now();
  await ctx.next();
  ctx.setHeader("x-response-time", `${(performance.now() - t).toFixed(3)}ms`);
});

app.get("/", (ctx) => ctx.string(200, "farad is running. Try /hello/:name, POST /echo, /slow, /fail\n"));
app.get("/hello/:name", (ctx) => ctx.json(200, { hello: ctx.param("name"), lang: ctx.query("lang") ?? "en" }));
app.post("/echo", async (ctx) => ctx.data(200, ctx.header("content-type") ?? "application/octet-stream", await ctx.body()));
app.get("/slow", async (ctx, c) => {
  // c.signal aborts if the client leaves or the server shuts down.
  await new Promise((resolve) => setTimeout(resolve, 200));
  if (!c.aborted) ctx.string(200, "done\n");
});
app.get("/fail", () => {
  throw new HttpError(422, "this route always refuses");
});

const api = app.group("/api/v1");
api.get("/users/:id", (ctx) => ctx.json(200, { id: ctx.param("id"), path: ctx.fullPath }));

const addr = await app.listen();
console.log(`farad demo listening on http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log(`${signal}: closing`);
    void app.close().then(() => process.exit(0));
  });
}
