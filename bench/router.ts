/**
 * Router micro-benchmark: farad's router against find-my-way (fastify's).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/router.js [--time=seconds] [--rounds=n]
 *
 * Both routers hold the same ~34 routes (a GitHub API subset). farad gets the
 * path as bytes, computed once outside the loop, which is what the server
 * hands it; find-my-way gets its string. Each (router, case) pair runs in its
 * own worker thread so one case's type feedback cannot slow another's, as
 * find-my-way's own benchmark does.
 *
 * Two rows per case: "lookup" is farad's find() alone (params stay byte
 * offsets); "+params" also makes every param string, which find-my-way's
 * find() always does, so that row is the like-for-like one.
 */
import { createRequire } from "node:module";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import findMyWay from "find-my-way";
import { METHOD_GET, Router } from "../src/route/index.js";
import { inWorker as runInWorker } from "./lib/worker.js";

interface BenchEvent { target: { hz: number; stats: { rme: number; sample: unknown[] } } }
interface Bench {
  on(event: "complete", fn: (e: BenchEvent) => void): Bench;
  run(opts?: { async?: boolean }): Bench;
}
type BenchCtor = new (name: string, fn: () => void, opts?: { maxTime?: number; minSamples?: number }) => Bench;
const Benchmark = createRequire(import.meta.url)("benchmark") as BenchCtor;

type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** farad syntax; find-my-way's catch-all is an unnamed '*'. */
const ROUTES: [Method, string][] = [
  ["GET", "/"],
  ["GET", "/user"],
  ["GET", "/user/repos"],
  ["GET", "/user/orgs"],
  ["GET", "/user/followers"],
  ["GET", "/users/:user"],
  ["GET", "/users/:user/repos"],
  ["GET", "/users/:user/orgs"],
  ["GET", "/users/:user/followers"],
  ["GET", "/orgs/:org"],
  ["GET", "/orgs/:org/repos"],
  ["GET", "/orgs/:org/members"],
  ["GET", "/repos/:owner/:repo"],
  ["GET", "/repos/:owner/:repo/issues"],
  ["POST", "/repos/:owner/:repo/issues"],
  ["GET", "/repos/:owner/:repo/issues/:number"],
  ["PATCH", "/repos/:owner/:repo/issues/:number"],
  ["GET", "/repos/:owner/:repo/issues/:number/comments"],
  ["GET", "/repos/:owner/:repo/pulls"],
  ["GET", "/repos/:owner/:repo/pulls/:number"],
  ["GET", "/repos/:owner/:repo/commits"],
  ["GET", "/repos/:owner/:repo/commits/:sha"],
  ["GET", "/repos/:owner/:repo/branches"],
  ["GET", "/repos/:owner/:repo/branches/:branch"],
  ["GET", "/repos/:owner/:repo/contents/*path"],
  ["GET", "/gists"],
  ["GET", "/gists/public"],
  ["GET", "/gists/starred"],
  ["GET", "/gists/:id"],
  ["DELETE", "/gists/:id"],
  ["GET", "/notifications"],
  ["GET", "/search/repositories"],
  ["GET", "/search/code"],
  ["GET", "/emojis"],
  ["GET", "/rate_limit"],
];

const CASES: { name: string; path: string; expect: string | null }[] = [
  { name: "static", path: "/search/repositories", expect: "/search/repositories" },
  { name: "one param", path: "/users/octocat", expect: "/users/:user" },
  { name: "three params", path: "/repos/nodejs/node/issues/51234", expect: "/repos/:owner/:repo/issues/:number" },
  { name: "catch-all", path: "/repos/nodejs/node/contents/lib/internal/http.js", expect: "/repos/:owner/:repo/contents/*path" },
  { name: "miss", path: "/repos/nodejs/node/tags", expect: null },
];

type Impl = "farad lookup" | "farad +params" | "find-my-way";
interface Job { impl: Impl; caseIndex: number; maxTime: number }
interface Result { impl: Impl; caseIndex: number; hz: number; rme: number; samples: number }

let sink = 0;

function fail(msg: string): never {
  throw new Error(`bench/router: ${msg}`);
}

function faradBench(c: (typeof CASES)[number], withParams: boolean): () => void {
  const router = new Router<string>();
  for (const [m, p] of ROUTES) router.addRoute(m, p, [p]);
  const out = router.createMatch();
  const buf = Buffer.from(c.path, "latin1");
  const end = buf.length;
  const r = router.find(METHOD_GET, undefined, buf, 0, end, out);
  if ((r?.fullPath ?? null) !== c.expect) fail(`farad matched ${r?.fullPath} for ${c.path}`);
  if (!withParams) {
    return () => {
      if (router.find(METHOD_GET, undefined, buf, 0, end, out) !== null) sink++;
    };
  }
  return () => {
    if (router.find(METHOD_GET, undefined, buf, 0, end, out) !== null) {
      for (let i = 0; i < out.count; i++) sink += router.paramAt(out, i).length;
    }
  };
}

function fmwBench(c: (typeof CASES)[number]): () => void {
  const fmw = findMyWay();
  const noop = (): void => {};
  for (const [m, p] of ROUTES) fmw.on(m, p.replace(/\*\w+$/, "*"), noop, { path: p });
  const path = c.path;
  const found = fmw.find("GET", path);
  const store = (found?.store as { path: string } | undefined)?.path ?? null;
  if (store !== c.expect) fail(`find-my-way matched ${store} for ${path}`);
  return () => {
    if (fmw.find("GET", path) !== null) sink++;
  };
}

function runJob(job: Job): Promise<Result> {
  const c = CASES[job.caseIndex]!;
  const fn = job.impl === "find-my-way" ? fmwBench(c) : faradBench(c, job.impl === "farad +params");
  return new Promise((resolve) => {
    new Benchmark(`${job.impl} ${c.name}`, fn, { maxTime: job.maxTime, minSamples: 20 })
      .on("complete", (e) => resolve({
        impl: job.impl, caseIndex: job.caseIndex,
        hz: e.target.hz, rme: e.target.stats.rme, samples: e.target.stats.sample.length,
      }))
      .run({ async: false });
  });
}

function inWorker(job: Job): Promise<Result> {
  return runInWorker<Job, Result>(new URL(import.meta.url), job);
}

function fmt(hz: number): string {
  return (hz / 1e6).toFixed(2).padStart(8) + " M";
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith("--time="));
  const maxTime = arg ? Number(arg.slice(7)) : 1;
  const roundsArg = process.argv.find((a) => a.startsWith("--rounds="));
  const rounds = roundsArg ? Number(roundsArg.slice(9)) : 3;
  const impls: Impl[] = ["farad lookup", "farad +params", "find-my-way"];
  console.log(`router micro-benchmark, ${new Date().toISOString()}, node ${process.version}, best of ${rounds} x ${maxTime}s per case`);
  console.log("ops/s (M = million); ratio = farad / find-my-way");
  console.log(`${"case".padEnd(14)}${"farad lookup".padStart(14)}${"farad +params".padStart(15)}${"find-my-way".padStart(13)}   ratio lookup   ratio +params`);
  for (let i = 0; i < CASES.length; i++) {
    // Best of `rounds` runs, the routers taking turns: on a shared machine a
    // burst of other load then hits both sides instead of one.
    const res: Record<string, Result> = {};
    for (let round = 0; round < rounds; round++) {
      for (const impl of impls) {
        const r = await inWorker({ impl, caseIndex: i, maxTime });
        if (!res[impl] || r.hz > res[impl]!.hz) res[impl] = r;
      }
    }
    const a = res["farad lookup"]!, b = res["farad +params"]!, f = res["find-my-way"]!;
    const line = `${CASES[i]!.name.padEnd(14)}${fmt(a.hz).padStart(14)}${fmt(b.hz).padStart(15)}${fmt(f.hz).padStart(13)}` +
      `   ${(a.hz / f.hz).toFixed(2).padStart(9)}x   ${(b.hz / f.hz).toFixed(2).padStart(11)}x` +
      `   (±${Math.max(a.rme, b.rme, f.rme).toFixed(1)}%)`;
    console.log(line);
  }
}

if (isMainThread) {
  await main();
} else {
  const r = await runJob(workerData as Job);
  if (sink < 0) console.log(sink);
  parentPort!.postMessage(r);
}
