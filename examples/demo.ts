/**
 * The demo server behind `npm start`: a few routes that show the API.
 *   curl localhost:8888/
 *   curl localhost:8888/hello/ada
 *   curl -d '{"a":1}' localhost:8888/echo
 */
import { accessLog, HttpError, Server, t, Type } from "../src/index.js";

const app = new Server({ port: Number(process.env.PORT ?? 8888) });
app.tracer(accessLog({ format: "combined" }));

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

// Binding: typed input from the path, query and JSON body; bad input is a
// 400 listing each field. Try:
//   curl -d '{"name":"ada","age":36}' -H 'content-type: application/json' localhost:8888/api/v1/teams/core/users?notify=true
//   curl -d '{"age":"x"}' -H 'content-type: application/json' localhost:8888/api/v1/teams/core/users
const NewUser = Type.Object({
  team: t.param(Type.String()),
  notify: t.query(Type.Boolean({ default: false })),
  name: Type.String({ minLength: 1 }),
  age: Type.Integer({ minimum: 0 }),
});
const api = app.group("/api/v1", async (ctx) => {
  // Group middleware: runs for /api/v1 routes only.
  await ctx.next();
  ctx.setHeader("x-api-version", "1");
});
api.get("/users/:id", (ctx) => ctx.json(200, { id: ctx.param("id"), path: ctx.fullPath }));
api.post("/teams/:team/users", async (ctx) => ctx.json(201, await ctx.bind(NewUser)));

app.onRun(() => console.log("farad demo starting"));
app.onShutdown(() => console.log("farad demo shutting down"));
// Listens, then shuts down gracefully on SIGINT/SIGTERM.
const spinning = app.spin();
await new Promise((r) => setTimeout(r, 50));
const addr = app.address();
if (addr) console.log(`farad demo listening on http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`);
await spinning;
