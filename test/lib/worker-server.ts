/**
 * A farad Server inside a worker thread, for server-concurrency.test.ts:
 * it posts { port } once listening, answers GET /who with the thread id, and
 * on the message "close" closes and posts "closed".
 */
import { parentPort, threadId } from "node:worker_threads";
import { Server } from "../../src/index.js";

const app = new Server({ exitWaitTimeout: 200, logger: { error: () => {} } });
app.get("/who", (ctx) => ctx.string(200, `worker ${threadId}`));
app.get("/async", async (ctx) => {
  await new Promise((r) => setTimeout(r, 5));
  ctx.string(200, `async ${threadId}`);
});
const { port } = await app.listen({ host: "127.0.0.1", port: 0 });
parentPort!.postMessage({ port });
parentPort!.on("message", async (m) => {
  if (m === "close") {
    await app.close();
    parentPort!.postMessage("closed");
    parentPort!.close();
  }
});
