// Reads an async iterable of chunks at `rateMiB` MiB/s (0: as fast as it
// comes) and discards them; resolves to the byte count.
import { setTimeout as sleep } from "node:timers/promises";

export async function paced(body: AsyncIterable<unknown>, rateMiB: number, stats?: () => unknown): Promise<number> {
  const bytesPerMs = (rateMiB * 1024 * 1024) / 1000;
  const start = performance.now();
  let n = 0;
  // A stall detector: a benchmark that hangs should say what the server saw.
  let last = Date.now();
  const watch = setInterval(() => {
    if (Date.now() - last > 5000) console.error(`stall: no body for ${Date.now() - last} ms after ${n} bytes${stats ? `; ${JSON.stringify(stats())}` : ""}`);
  }, 5000);
  try {
    for await (const chunk of body) {
      last = Date.now();
      n += (chunk as Buffer).length;
      if (bytesPerMs > 0) {
        const due = start + n / bytesPerMs;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
      }
    }
  } finally {
    clearInterval(watch);
  }
  return n;
}
