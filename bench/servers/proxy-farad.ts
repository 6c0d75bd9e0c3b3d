// farad's reverse proxy (proxy()) in front of UPSTREAM_PORT, for bench/proxy.ts.
import { Server, proxy } from "../../src/index.js";

const app = new Server({});
app.any("/*path", proxy({ target: `http://127.0.0.1:${process.env.UPSTREAM_PORT}` }));
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
console.log("ready");
process.on("SIGTERM", () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
