/**
 * Listening: the default dual-stack address, ipv6Only, a port in use,
 * listen() twice, reusePort sharing one port, host names, and the headers
 * every response carries (Date, RFC 9110 §6.6.1).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Server } from "../src/index.js";
import { get, RawClient, requestOnce } from "./lib/raw-client.js";
import { TEST_OPTIONS, watchdog } from "./lib/server.js";

watchdog(20_000);

function server(name: string, extra: ConstructorParameters<typeof Server>[0] = {}): Server {
  const app = new Server({ ...TEST_OPTIONS, logger: { error: () => {} }, ...extra });
  app.get("/", (ctx) => ctx.string(200, name));
  return app;
}

async function ask(port: number, host = "127.0.0.1"): Promise<string> {
  const c = await RawClient.connect(port, host);
  try {
    await c.write(get("/"));
    return (await c.readResponse()).text();
  } finally {
    c.destroy();
  }
}

test("the default host (::) serves IPv4 and IPv6 clients; address() reports it", async () => {
  const app = server("dual");
  try {
    const addr = await app.listen({ port: 0 });
    assert.equal(app.address(), addr);
    if (addr.address === "::") {
      assert.is(addr.family, "IPv6");
      assert.is(await ask(addr.port, "::1"), "dual");
    }
    assert.is(await ask(addr.port, "127.0.0.1"), "dual");
  } finally {
    await app.close();
  }
});

test("ipv6Only refuses IPv4 clients", async () => {
  const app = server("v6", { ipv6Only: true });
  try {
    const { port, address } = await app.listen({ port: 0 });
    if (address !== "::") return; // no IPv6 on this machine
    assert.is(await ask(port, "::1"), "v6");
    try {
      await RawClient.connect(port, "127.0.0.1");
      assert.unreachable("IPv4 connect succeeded");
    } catch (e) {
      assert.is((e as { code?: string }).code, "ECONNREFUSED");
    }
  } finally {
    await app.close();
  }
});

test("a host name is resolved; listen() on a port in use rejects with EADDRINUSE; listen() twice throws", async () => {
  const a = server("a");
  const b = server("b");
  try {
    const addr = await a.listen({ host: "localhost", port: 0 });
    assert.ok(addr.address === "127.0.0.1" || addr.address === "::1", addr.address);
    try {
      await b.listen({ host: addr.address, port: addr.port });
      assert.unreachable("second listen on the same port succeeded");
    } catch (e) {
      assert.is((e as { code?: string }).code, "EADDRINUSE");
    }
    try {
      await a.listen({ host: "127.0.0.1", port: 0 });
      assert.unreachable("listen() twice succeeded");
    } catch (e) {
      assert.is((e as { code?: string }).code, "FARAD_ERR_SERVER_STATE");
    }
    assert.is(await ask(addr.port, addr.address), "a", "the first server still serves");
  } finally {
    await a.close();
    await b.close();
  }
});

test("reusePort: two servers on one port both receive connections", async () => {
  const r1 = server("r1", { reusePort: true });
  const r2 = server("r2", { reusePort: true });
  try {
    const { port } = await r1.listen({ host: "127.0.0.1", port: 0 });
    await r2.listen({ host: "127.0.0.1", port });
    const seen = new Set<string>();
    // The kernel spreads connections by a hash of the client port: with 200
    // connections, one server receiving none is vanishingly unlikely.
    for (let i = 0; i < 200 && seen.size < 2; i++) seen.add(await ask(port));
    assert.equal([...seen].sort(), ["r1", "r2"]);
  } finally {
    await r1.close();
    await r2.close();
  }
});

test("handler responses carry a Date header in IMF-fixdate form, close to now", async () => {
  const app = server("d");
  try {
    const { port } = await app.listen({ host: "127.0.0.1", port: 0 });
    const r = await requestOnce(port, get("/"));
    const date = r.header("date")!;
    assert.match(date, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.ok(Math.abs(Date.parse(date) - Date.now()) < 5000, `Date ${date} is not now`);
  } finally {
    await app.close();
  }
});

test.run();
