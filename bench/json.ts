/**
 * JSON micro-benchmark for the app layer's choices:
 *
 *   npx tsc -p tsconfig.json && node dist/bench/json.js [--time=seconds] [--rounds=n]
 *
 * - stringify: JSON.stringify against the serializer that
 *   ctx.json(code, value, { schema }) compiles (fast-json-stringify), for a
 *   small object, a medium object and an array of 100 objects.
 * - parse: JSON.parse against secure-json-parse (what ctx.bind() uses), for
 *   a clean body and for one that contains the word "constructor" (the slow
 *   path: secure-json-parse then walks the parsed object).
 * - check: TypeBox's compiled checker on a bound object.
 *
 * Each (case, implementation) pair runs in its own worker thread with
 * benchmark.js, best of `rounds` runs taken in turns, as bench/router.ts.
 */
import { createRequire } from "node:module";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import fastJson from "fast-json-stringify";
import sjson from "secure-json-parse";
import { inWorker as runInWorker } from "./lib/worker.js";

interface BenchEvent { target: { hz: number; stats: { rme: number; sample: unknown[] } } }
interface Bench {
  on(event: "complete", fn: (e: BenchEvent) => void): Bench;
  run(opts?: { async?: boolean }): Bench;
}
type BenchCtor = new (name: string, fn: () => void, opts?: { maxTime?: number; minSamples?: number }) => Bench;
const Benchmark = createRequire(import.meta.url)("benchmark") as BenchCtor;

const Small = Type.Object({ id: Type.Integer(), ok: Type.Boolean(), name: Type.String() });
const Medium = Type.Object({
  id: Type.Integer(),
  login: Type.String(),
  name: Type.String(),
  email: Type.String(),
  admin: Type.Boolean(),
  score: Type.Number(),
  created: Type.String(),
  tags: Type.Array(Type.String()),
  address: Type.Object({ street: Type.String(), city: Type.String(), zip: Type.String() }),
});
const List = Type.Array(Medium);

const small = { id: 42, ok: true, name: "hello" };
const medium = {
  id: 1296269,
  login: "octocat",
  name: "The Octocat",
  email: "octocat@example.com",
  admin: false,
  score: 97.5,
  created: "2011-01-26T19:01:12Z",
  tags: ["a", "b", "c"],
  address: { street: "88 Colin P Kelly Jr St", city: "San Francisco", zip: "94107" },
};
const list = Array.from({ length: 100 }, (_, i) => ({ ...medium, id: i, login: `user${i}` }));

const bodyClean = JSON.stringify(medium);
const bodyWord = JSON.stringify({ ...medium, name: "constructor of things" });

type Pair = { a: string; b: string; make(which: "a" | "b"): () => unknown };
const CASES: Record<string, Pair> = {
  "stringify small": { a: "JSON.stringify", b: "fast-json-stringify", make: (w) => (w === "a" ? () => JSON.stringify(small) : bind(fastJson(Small), small)) },
  "stringify medium": { a: "JSON.stringify", b: "fast-json-stringify", make: (w) => (w === "a" ? () => JSON.stringify(medium) : bind(fastJson(Medium), medium)) },
  "stringify 100 x medium": { a: "JSON.stringify", b: "fast-json-stringify", make: (w) => (w === "a" ? () => JSON.stringify(list) : bind(fastJson(List), list)) },
  "parse medium": { a: "JSON.parse", b: "secure-json-parse", make: (w) => (w === "a" ? () => JSON.parse(bodyClean) : () => sjson.parse(bodyClean)) },
  'parse with "constructor"': { a: "JSON.parse", b: "secure-json-parse", make: (w) => (w === "a" ? () => JSON.parse(bodyWord) : () => sjson.parse(bodyWord)) },
  "check medium": {
    a: "TypeCompiler",
    b: "(none)",
    make: (w) => {
      const c = TypeCompiler.Compile(Medium);
      return w === "a" ? () => c.Check(medium) : () => true;
    },
  },
};

function bind(f: (v: never) => string, v: unknown): () => string {
  return () => f(v as never);
}

interface Job { name: string; which: "a" | "b"; maxTime: number }
interface Result { hz: number; rme: number }

let sink = 0;

function runJob(job: Job): Promise<Result> {
  const fn = CASES[job.name]!.make(job.which);
  return new Promise((resolve) => {
    new Benchmark(`${job.name} ${job.which}`, () => {
      if (fn() !== undefined) sink++;
    }, { maxTime: job.maxTime, minSamples: 20 })
      .on("complete", (e) => resolve({ hz: e.target.hz, rme: e.target.stats.rme }))
      .run({ async: false });
  });
}

function inWorker(job: Job): Promise<Result> {
  return runInWorker<Job, Result>(new URL(import.meta.url), job);
}

function fmt(hz: number): string {
  return hz >= 1e6 ? `${(hz / 1e6).toFixed(2)} M` : `${(hz / 1e3).toFixed(1)} k`;
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith("--time="));
  const maxTime = arg ? Number(arg.slice(7)) : 1;
  const roundsArg = process.argv.find((a) => a.startsWith("--rounds="));
  const rounds = roundsArg ? Number(roundsArg.slice(9)) : 3;
  // The serializer must write what JSON.stringify writes for these values.
  if (fastJson(List)(list) !== JSON.stringify(list)) throw new Error("bench/json: fast-json-stringify output differs");
  console.log(`json micro-benchmark, ${new Date().toISOString()}, node ${process.version}, best of ${rounds} x ${maxTime}s per case`);
  console.log(`${"case".padEnd(26)}${"a".padEnd(22)}${"ops/s".padStart(10)}   ${"b".padEnd(22)}${"ops/s".padStart(10)}   b/a`);
  for (const [name, c] of Object.entries(CASES)) {
    let a: Result | null = null;
    let b: Result | null = null;
    for (let r = 0; r < rounds; r++) {
      const ra = await inWorker({ name, which: "a", maxTime });
      const rb = await inWorker({ name, which: "b", maxTime });
      if (a === null || ra.hz > a.hz) a = ra;
      if (b === null || rb.hz > b.hz) b = rb;
    }
    const ratio = c.b === "(none)" ? "" : `${(b!.hz / a!.hz).toFixed(2)}x`;
    console.log(
      `${name.padEnd(26)}${c.a.padEnd(22)}${fmt(a!.hz).padStart(10)}   ${c.b.padEnd(22)}${(c.b === "(none)" ? "" : fmt(b!.hz)).padStart(10)}   ${ratio}  (±${Math.max(a!.rme, b!.rme).toFixed(1)}%)`,
    );
  }
}

if (isMainThread) {
  await main();
} else {
  const r = await runJob(workerData as Job);
  if (sink < 0) console.log(sink);
  parentPort!.postMessage(r);
}
