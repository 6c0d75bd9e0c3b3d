// Reads an async iterable of chunks at `rateMiB` MiB/s (0: as fast as it
// comes) and discards them; resolves to the byte count.
import { setTimeout as sleep } from "node:timers/promises";

export async function paced(body: AsyncIterable<unknown>, rateMiB: number): Promise<number> {
  const bytesPerMs = (rateMiB * 1024 * 1024) / 1000;
  const start = performance.now();
  let n = 0;
  for await (const chunk of body) {
    n += (chunk as Buffer).length;
    if (bytesPerMs > 0) {
      const due = start + n / bytesPerMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
    }
  }
  return n;
}
