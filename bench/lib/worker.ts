import { Worker } from "node:worker_threads";

/**
 * Runs `script` (a micro-benchmark file that checks `workerData`) in a
 * worker thread with `job` and resolves to the one message it posts: each
 * case measured in a fresh isolate, as find-my-way's benchmarks do.
 */
export function inWorker<J, R>(script: URL, job: J): Promise<R> {
  return new Promise((resolve, reject) => {
    const w = new Worker(script, { workerData: job });
    w.once("message", (r: R) => resolve(r));
    w.once("error", reject);
  });
}
