/**
 * Discovery and balancing for the client, in-process: each balancer's
 * distribution (exact where the algorithm is deterministic, within tight
 * bounds where it is random), run-time weights, ejection and probing on a
 * fake clock, resolver updates keeping endpoint state, and the DNS resolver
 * driven by an injected lookup and fake timers (plus one run on real timers).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BalanceErrorCodes,
  leastInFlight,
  p2cLatency,
  roundRobin,
  weightedRandom,
  type Balancer,
  type BalancerOptions,
  type Endpoint,
} from "../src/client/balance.js";
import {
  dnsResolver,
  ResolveErrorCodes,
  staticResolver,
  type Address,
  type DnsRecord,
  type DnsResolverOptions,
  type Resolver,
  type Timers,
} from "../src/client/resolve.js";
import { watchdog } from "./lib/server.js";

// Every wait below is bounded; this only fires on a bug.
watchdog(20_000);

/** mulberry32: a small seeded PRNG, so random balancers are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000): { now: () => number; advance(ms: number): void; set(t: number): void; readonly t: number } {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
    set(v) {
      t = v;
    },
    get t() {
      return t;
    },
  };
}

/** Picks n times (no start/end, so nothing the balancer measures changes) and counts by key. */
function countPicks(b: Balancer, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const ep of b.endpoints()) counts[ep.key] = 0;
  for (let i = 0; i < n; i++) {
    const k = b.pick().key;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

function sequence(b: Balancer, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += b.pick().host[0];
  return s;
}

function byKey(b: Balancer, key: string): Endpoint {
  const ep = b.endpoints().find((e) => e.key === key);
  assert.ok(ep, `no endpoint ${key}`);
  return ep;
}

/** One whole request on `ep`. */
function request(b: Balancer, ep: Endpoint, ok: boolean, latencyMs = 5): void {
  b.start(ep);
  b.end(ep, { ok, latencyMs });
}

function fail(b: Balancer, key: string, times: number): void {
  const ep = byKey(b, key);
  for (let i = 0; i < times; i++) request(b, ep, false);
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, "expected a throw");
  assert.is((caught as { code?: string }).code, code, (caught as Error).message);
  if (message) assert.match((caught as Error).message, message);
}

const INVALID = "FARAD_ERR_INVALID_OPTION";
const ABC = ["a:1", "b:1", "c:1"];

// ---------------------------------------------------------------- options

test("bad options throw FARAD_ERR_INVALID_OPTION naming the problem", () => {
  for (const make of [roundRobin, weightedRandom, leastInFlight, p2cLatency]) {
    throwsCode(() => make({ resolver: [] }), INVALID, /empty/);
  }
  throwsCode(() => roundRobin({ resolver: ["a:0"] }), INVALID, /port must be an integer from 1 to 65535/);
  throwsCode(() => roundRobin({ resolver: ["a:70000"] }), INVALID, /port/);
  throwsCode(() => roundRobin({ resolver: ["a:http"] }), INVALID, /host:port/);
  throwsCode(() => roundRobin({ resolver: ["a"] }), INVALID, /host:port/);
  throwsCode(() => roundRobin({ resolver: ["::1:80"] }), INVALID, /brackets/);
  throwsCode(() => roundRobin({ resolver: [{ host: "a", port: 1.5 }] }), INVALID, /port/);
  throwsCode(() => roundRobin({ resolver: [{ host: "a b", port: 1 }] }), INVALID, /bad host/);
  throwsCode(() => roundRobin({ resolver: [{ host: "a", port: 1, weight: -1 }] }), INVALID, /weight must be a finite number >= 0/);
  throwsCode(() => roundRobin({ resolver: [{ host: "a", port: 1, weight: NaN }] }), INVALID, /weight/);
  throwsCode(() => roundRobin({ resolver: ["a:1", "A:1"] }), INVALID, /duplicate endpoint a:1/);
  throwsCode(() => roundRobin({ resolver: ["[::1]:80", { host: "::1", port: 80 }] }), INVALID, /duplicate endpoint \[::1\]:80/);
  throwsCode(() => roundRobin({ resolver: "a:1" as unknown as string[] }), INVALID, /resolver/);
  throwsCode(() => roundRobin({ resolver: ABC, ewmaDecayMs: 0 }), INVALID, /ewmaDecayMs/);
  throwsCode(() => roundRobin({ resolver: ABC, failurePenaltyMs: -1 }), INVALID, /failurePenaltyMs/);
  throwsCode(() => roundRobin({ resolver: ABC, random: 4 as unknown as () => number }), INVALID, /random/);
  throwsCode(() => roundRobin({ resolver: ABC, ejection: { consecutiveFailures: 0 } }), INVALID, /consecutiveFailures/);
  throwsCode(() => roundRobin({ resolver: ABC, ejection: { baseEjectMs: 1000, maxEjectMs: 10 } }), INVALID, /maxEjectMs/);
  throwsCode(() => roundRobin({ resolver: ABC, ejection: { maxEjectedPercent: 101 } }), INVALID, /maxEjectedPercent/);
  throwsCode(() => roundRobin({ resolver: ABC, ejection: { consecutive: 3 } as BalancerOptions["ejection"] }), INVALID, /ejection.consecutive: unknown option/);
  throwsCode(() => roundRobin({ resolver: ABC, weights: [1] } as unknown as BalancerOptions), INVALID, /weights: unknown option/);
});

test("keys: host:port, IPv6 in brackets, host names in lower case", () => {
  const b = roundRobin({ resolver: ["[::1]:8080", { host: "fe80::2", port: 80 }, "Api.Example:443", { host: "10.0.0.1", port: 1, weight: 2 }] });
  assert.equal(
    b.endpoints().map((e) => [e.key, e.host, e.port, e.weight]),
    [["[::1]:8080", "::1", 8080, 1], ["[fe80::2]:80", "fe80::2", 80, 1], ["api.example:443", "api.example", 443, 1], ["10.0.0.1:1", "10.0.0.1", 1, 2]],
  );
  const ep = b.endpoints()[0]!;
  assert.is(ep.state, "healthy");
  assert.is(ep.inFlight, 0);
  assert.is(ep.consecutiveFailures, 0);
  assert.is(ep.ejectedUntil, 0);
});

test("setWeight: unknown key and bad weights throw and change nothing", () => {
  const b = roundRobin({ resolver: ABC });
  throwsCode(() => b.setWeight("d:1", 2), BalanceErrorCodes.UNKNOWN_ENDPOINT, /d:1/);
  for (const w of [-1, NaN, Infinity, "2" as unknown as number]) throwsCode(() => b.setWeight("a:1", w), INVALID, /weight/);
  assert.equal(b.endpoints().map((e) => e.weight), [1, 1, 1]);
  assert.is(sequence(b, 6), "abcabc");
  const other = roundRobin({ resolver: ABC });
  throwsCode(() => b.start(other.pick()), BalanceErrorCodes.UNKNOWN_ENDPOINT);
  throwsCode(() => b.end(other.pick(), { ok: true, latencyMs: 1 }), BalanceErrorCodes.UNKNOWN_ENDPOINT);
});

// ---------------------------------------------------------------- round-robin

test("roundRobin: equal weights rotate in list order", () => {
  const b = roundRobin({ resolver: ABC });
  assert.is(sequence(b, 9), "abcabcabc");
});

test("roundRobin: weights 5,1,1 give nginx's smooth sequence a a b a c a a, every cycle", () => {
  const b = roundRobin({ resolver: [{ host: "a", port: 1, weight: 5 }, { host: "b", port: 1 }, { host: "c", port: 1 }] });
  const s = sequence(b, 7000);
  assert.is(s, "aabacaa".repeat(1000));
});

test("roundRobin: weight 0 is listed but never picked; setWeight at run time changes the cycle", () => {
  const b = roundRobin({ resolver: [{ host: "a", port: 1 }, { host: "b", port: 1, weight: 0 }, { host: "c", port: 1 }] });
  assert.is(b.endpoints().length, 3);
  assert.is(sequence(b, 6), "acacac");
  b.setWeight("b:1", 1);
  const c1 = countPicks(b, 3000);
  assert.equal(c1, { "a:1": 1000, "b:1": 1000, "c:1": 1000 });
  b.setWeight("a:1", 3);
  b.setWeight("c:1", 0);
  const c2 = countPicks(b, 4000);
  assert.equal(c2, { "a:1": 3000, "b:1": 1000, "c:1": 0 });
  // The Endpoint's weight property is the same control.
  byKey(b, "c:1").weight = 4;
  assert.is(byKey(b, "c:1").weight, 4);
  assert.equal(countPicks(b, 8000), { "a:1": 3000, "b:1": 1000, "c:1": 4000 });
});

test("no endpoint: every weight 0 throws FARAD_ERR_NO_ENDPOINT", () => {
  const b = weightedRandom({ resolver: [{ host: "a", port: 1, weight: 0 }, { host: "b", port: 1, weight: 0 }] });
  throwsCode(() => b.pick(), BalanceErrorCodes.NO_ENDPOINT, /every endpoint has weight 0/);
  b.setWeight("b:1", 1);
  assert.is(b.pick().key, "b:1");
});

// ---------------------------------------------------------------- weighted random

test("weightedRandom: 10,000 seeded picks land within 1% of weights 1,2,3,4", () => {
  const b = weightedRandom({
    resolver: [1, 2, 3, 4].map((w, i) => ({ host: `h${i}`, port: 80, weight: w })),
    random: seeded(42),
  });
  const c = countPicks(b, 10_000);
  [1000, 2000, 3000, 4000].forEach((expected, i) => {
    const got = c[`h${i}:80`]!;
    assert.ok(Math.abs(got - expected) <= 100, `h${i}: ${got} picks, expected ${expected} ± 100`);
  });
});

test("weightedRandom: with evenly spread random numbers the alias table is exact", () => {
  const N = 10_000;
  let k = 0;
  const weights = [5, 1, 1, 3];
  const b = weightedRandom({
    resolver: weights.map((w, i) => ({ host: `h${i}`, port: 80, weight: w })),
    random: () => (k++ % N + 0.5) / N,
  });
  const c = countPicks(b, N);
  weights.forEach((w, i) => {
    const got = c[`h${i}:80`]!;
    const expected = (N * w) / 10;
    // One of the n columns' boundaries can round a single pick either way.
    assert.ok(Math.abs(got - expected) <= weights.length, `h${i}: ${got} picks, expected ${expected}`);
  });
});

test("weightedRandom: setWeight at run time moves traffic; weight 0 gets none", () => {
  const b = weightedRandom({ resolver: ABC, random: seeded(7) });
  b.setWeight("a:1", 0);
  b.setWeight("c:1", 3);
  const c = countPicks(b, 10_000);
  assert.is(c["a:1"], 0);
  assert.ok(Math.abs(c["b:1"]! - 2500) <= 100, `b: ${c["b:1"]}`);
  assert.ok(Math.abs(c["c:1"]! - 7500) <= 100, `c: ${c["c:1"]}`);
});

// ---------------------------------------------------------------- least in flight

test("leastInFlight: always the least loaded; ties rotate", () => {
  const b = leastInFlight({ resolver: ABC });
  const a = byKey(b, "a:1");
  for (let i = 0; i < 5; i++) b.start(a);
  const picked: string[] = [];
  for (let i = 0; i < 10; i++) {
    const ep = b.pick();
    picked.push(ep.host);
    b.start(ep);
  }
  assert.ok(!picked.includes("a"), picked.join());
  assert.equal(b.endpoints().map((e) => e.inFlight), [5, 5, 5]);
  // b finishes two requests: it is the least loaded now.
  const bb = byKey(b, "b:1");
  b.end(bb, { ok: true, latencyMs: 1 });
  b.end(bb, { ok: true, latencyMs: 1 });
  assert.is(b.pick().key, "b:1");
  // Idle and sequential: the tie rotates instead of always taking the first.
  const idle = leastInFlight({ resolver: ABC });
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 300; i++) {
    const ep = idle.pick();
    counts[ep.host]!++;
    request(idle, ep, true);
  }
  assert.equal(counts, { a: 100, b: 100, c: 100 });
});

test("leastInFlight: in-flight requests fill in proportion to weight", () => {
  const b = leastInFlight({ resolver: [{ host: "a", port: 1, weight: 2 }, { host: "b", port: 1 }] });
  for (let i = 0; i < 30; i++) b.start(b.pick());
  assert.equal(b.endpoints().map((e) => e.inFlight), [20, 10]);
  b.setWeight("b:1", 4);
  for (let i = 0; i < 30; i++) b.start(b.pick());
  // Loads move toward 2:4 = 20:40 of the 60.
  assert.equal(b.endpoints().map((e) => e.inFlight), [20, 40]);
});

// ---------------------------------------------------------------- p2c

function p2cWithLatencies(latencies: number[], clock: ReturnType<typeof fakeClock>, seed = 1): Balancer {
  const b = p2cLatency({ resolver: latencies.map((_, i) => `h${i}:80`), random: seeded(seed), now: clock.now });
  latencies.forEach((ms, i) => request(b, byKey(b, `h${i}:80`), true, ms));
  return b;
}

test("p2c: the faster endpoint wins every comparison it is in (shares 2/3, 1/3, 0)", () => {
  const clock = fakeClock();
  const b = p2cWithLatencies([10, 50, 200], clock);
  assert.equal(b.endpoints().map((e) => e.latencyEwmaMs), [10, 50, 200]);
  const c = countPicks(b, 10_000);
  assert.ok(Math.abs(c["h0:80"]! - 6667) <= 200, `fast: ${c["h0:80"]}`);
  assert.ok(Math.abs(c["h1:80"]! - 3333) <= 200, `mid: ${c["h1:80"]}`);
  assert.is(c["h2:80"], 0);
});

test("p2c: in-flight requests weigh on the cost (latency × (inFlight + 1))", () => {
  const clock = fakeClock();
  const b = p2cWithLatencies([10, 50], clock);
  const fast = byKey(b, "h0:80");
  for (let i = 0; i < 5; i++) b.start(fast); // 10 × 6 = 60 > 50 × 1
  assert.equal(countPicks(b, 100), { "h0:80": 0, "h1:80": 100 });
  b.end(fast, { ok: true, latencyMs: 10 });
  b.end(fast, { ok: true, latencyMs: 10 }); // 10 × 4 = 40 < 50
  assert.equal(countPicks(b, 100), { "h0:80": 100, "h1:80": 0 });
});

test("p2c: weight divides the cost; setWeight at run time shifts in-flight load", () => {
  const clock = fakeClock();
  const b = p2cWithLatencies([20, 20], clock);
  b.setWeight("h1:80", 4);
  for (let i = 0; i < 50; i++) b.start(b.pick());
  const [a, c] = b.endpoints().map((e) => e.inFlight);
  assert.ok(a === 10 || a === 9 || a === 11, `in flight ${a}:${c}`);
  assert.is(a! + c!, 50);
});

test("p2c: peak EWMA jumps up at once and decays down by elapsed time (ewmaDecayMs is the half-life)", () => {
  const clock = fakeClock();
  const b = p2cLatency({ resolver: ["a:1", "b:1"], now: clock.now, ewmaDecayMs: 1000 });
  const a = byKey(b, "a:1");
  request(b, a, true, 10);
  assert.is(a.latencyEwmaMs, 10);
  clock.advance(1);
  request(b, a, true, 100);
  assert.is(a.latencyEwmaMs, 100);
  // Same instant: a lower sample has no weight yet.
  request(b, a, true, 10);
  assert.is(a.latencyEwmaMs, 100);
  clock.advance(1000);
  request(b, a, true, 10);
  assert.is(a.latencyEwmaMs, 55);
  clock.advance(2000);
  request(b, a, true, 15);
  assert.is(a.latencyEwmaMs, 55 * 0.25 + 15 * 0.75);
  // A fast failure counts as failurePenaltyMs (default 1000), never as fast.
  request(b, a, false, 1);
  assert.is(a.latencyEwmaMs, 1000);
});

test("p2c: an endpoint nobody picks decays with idle time and is tried again", () => {
  const clock = fakeClock();
  const b = p2cWithLatencies([10, 12, 400], clock);
  assert.is(countPicks(b, 1000)["h2:80"], 0);
  // A minute on (6 half-lives): the busy two keep reporting, h2 does not.
  clock.advance(60_000);
  request(b, byKey(b, "h0:80"), true, 10);
  request(b, byKey(b, "h1:80"), true, 12);
  // h2 now costs 400 / 64 = 6.25 < 10: it gets traffic, and with it a fresh sample.
  const c = countPicks(b, 1000);
  assert.ok(c["h2:80"]! > 600, `h2: ${c["h2:80"]}`);
  request(b, byKey(b, "h2:80"), true, 400);
  assert.is(countPicks(b, 1000)["h2:80"], 0);
});

test("p2c: a new endpoint starts at the mean measured latency, neither flooded nor starved", () => {
  const clock = fakeClock();
  const r = staticResolver(["a:1", "b:1"]);
  const b = p2cLatency({ resolver: r, now: clock.now, random: seeded(3) });
  request(b, byKey(b, "a:1"), true, 10);
  request(b, byKey(b, "b:1"), true, 30);
  r.update(["a:1", "b:1", "c:1"]);
  assert.is(byKey(b, "c:1").latencyEwmaMs, 20);
  const c = countPicks(b, 3000);
  assert.ok(c["c:1"]! > 800 && c["c:1"]! < 1200, `c: ${c["c:1"]}`); // wins against b only: 1/3
});

// ---------------------------------------------------------------- ejection

const EJ = { consecutiveFailures: 3, baseEjectMs: 1000, maxEjectMs: 4000, probeTimeoutMs: 60_000 };

test("ejection timeline: eject, probe once, back off 1s 2s 4s 4s, recover", () => {
  const clock = fakeClock(0);
  const b = roundRobin({ resolver: ABC, now: clock.now, ejection: EJ });
  const a = byKey(b, "a:1");
  fail(b, "a:1", 2);
  assert.is(a.state, "healthy");
  assert.is(a.consecutiveFailures, 2);
  fail(b, "a:1", 1);
  assert.is(a.state, "ejected");
  assert.is(a.ejections, 1);
  assert.is(a.ejectedUntil, 1000);
  assert.is(sequence(b, 6), "bcbcbc");
  clock.set(999);
  assert.is(sequence(b, 4), "bcbc");

  const durations: number[] = [];
  let t = 1000;
  for (let round = 0; round < 4; round++) {
    clock.set(t);
    // Due: the next pick is the probe, and only that one pick.
    const probe = b.pick();
    assert.is(probe.key, "a:1");
    assert.is(a.state, "probing");
    assert.ok(!sequence(b, 20).includes("a"), "a second request went to the probing endpoint");
    b.start(probe);
    b.end(probe, { ok: false, latencyMs: 5 });
    assert.is(a.state, "ejected");
    durations.push(a.ejectedUntil - t);
    t = a.ejectedUntil;
  }
  assert.equal(durations, [2000, 4000, 4000, 4000]);
  assert.is(a.ejections, 5);

  clock.set(t);
  const probe = b.pick();
  assert.is(probe.key, "a:1");
  request(b, probe, true);
  assert.is(a.state, "healthy");
  assert.is(a.consecutiveFailures, 0);
  assert.is(a.ejectedUntil, 0);
  assert.ok(sequence(b, 30).includes("a"));
});

test("ejection: a success resets the failure count; late outcomes while ejected change nothing", () => {
  const clock = fakeClock(0);
  const b = roundRobin({ resolver: ABC, now: clock.now, ejection: EJ });
  const a = byKey(b, "a:1");
  fail(b, "a:1", 2);
  request(b, a, true);
  fail(b, "a:1", 2);
  assert.is(a.state, "healthy");
  // Two requests were out when it got ejected.
  b.start(a);
  b.start(a);
  fail(b, "a:1", 1);
  assert.is(a.state, "ejected");
  b.end(a, { ok: true, latencyMs: 1 });
  assert.is(a.state, "ejected");
  b.end(a, { ok: false, latencyMs: 1 });
  assert.is(a.ejectedUntil, 1000);
  assert.is(a.inFlight, 0);
});

test("ejection: only the probe's outcome returns an endpoint; an older request ending meanwhile does not", () => {
  const clock = fakeClock(0);
  const b = roundRobin({ resolver: ABC, now: clock.now, ejection: { ...EJ, maxEjectedPercent: 100 } });
  const [a, bb] = b.endpoints() as [Endpoint, Endpoint];
  b.start(bb); // out since before the ejection
  fail(b, "a:1", 3);
  fail(b, "b:1", 3);
  clock.set(1000);
  assert.is(b.pick(), a); // a's probe; b is due too, its probe not yet sent
  assert.is(bb.state, "probing");
  b.end(bb, { ok: true, latencyMs: 1 });
  assert.is(bb.state, "probing");
  assert.is(b.pick(), bb); // b still gets its own probe
  assert.is(b.pick().key, "c:1");
});

test("ejection: relapses soon after recovery back off longer; staying healthy forgives", () => {
  const clock = fakeClock(0);
  const b = roundRobin({ resolver: ABC, now: clock.now, ejection: EJ });
  const a = byKey(b, "a:1");
  const ejectAndRecover = (): number => {
    const from = clock.t;
    fail(b, "a:1", 3);
    const ms = a.ejectedUntil - from;
    clock.set(a.ejectedUntil);
    request(b, b.pick(), true);
    assert.is(a.state, "healthy");
    return ms;
  };
  assert.is(ejectAndRecover(), 1000);
  assert.is(ejectAndRecover(), 2000); // relapsed at once
  assert.is(ejectAndRecover(), 4000);
  clock.advance(2500); // two baseEjectMs of health forgive two steps: 3 -> 1
  assert.is(ejectAndRecover(), 2000);
  clock.advance(60_000);
  assert.is(ejectAndRecover(), 1000);
});

test("ejection: a probe that never ends counts as failed after probeTimeoutMs; cancel() reopens it", () => {
  const clock = fakeClock(0);
  const b = roundRobin({ resolver: ABC, now: clock.now, ejection: { ...EJ, probeTimeoutMs: 500 } });
  const a = byKey(b, "a:1");
  fail(b, "a:1", 3);
  clock.set(1000);
  assert.is(b.pick().key, "a:1"); // claimed, never started
  clock.set(1499);
  assert.ok(!sequence(b, 10).includes("a"));
  assert.is(a.state, "probing");
  clock.set(1500);
  b.pick();
  assert.is(a.state, "ejected");
  assert.is(a.ejectedUntil, 1500 + 2000);

  clock.set(3500);
  const probe = b.pick();
  assert.is(probe.key, "a:1");
  b.start(probe);
  b.cancel(probe); // the caller gave up: no verdict, the next pick probes again
  assert.is(a.state, "probing");
  assert.is(a.inFlight, 0);
  assert.is(b.pick().key, "a:1");
});

test("ejection: never more than maxEjectedPercent; a capped endpoint is ejected once room frees", () => {
  const clock = fakeClock(0);
  const keys = ["a:1", "b:1", "c:1", "d:1"];
  const b = roundRobin({ resolver: keys, now: clock.now, ejection: EJ });
  for (const k of keys) fail(b, k, 3);
  assert.equal(b.endpoints().map((e) => e.state), ["ejected", "ejected", "healthy", "healthy"]);
  assert.is(byKey(b, "c:1").consecutiveFailures, 3);
  assert.is(sequence(b, 4), "cdcd");
  clock.set(1000);
  request(b, b.pick(), true); // a's probe passes
  request(b, b.pick(), true); // b's too
  fail(b, "c:1", 1);
  assert.is(byKey(b, "c:1").state, "ejected");

  // One endpoint alone is never ejected at the default 50%.
  const solo = roundRobin({ resolver: ["z:1"], now: clock.now });
  fail(solo, "z:1", 50);
  assert.is(solo.pick().state, "healthy");
});

test("ejection: when everything is ejected (maxEjectedPercent 100) the least-bad endpoint still serves", () => {
  const clock = fakeClock(0);
  const b = roundRobin({ resolver: ABC, now: clock.now, ejection: { ...EJ, maxEjectedPercent: 100 } });
  fail(b, "b:1", 3);
  clock.advance(10);
  fail(b, "a:1", 3);
  clock.advance(10);
  fail(b, "c:1", 3);
  assert.equal(b.endpoints().map((e) => e.state), ["ejected", "ejected", "ejected"]);
  // b's ejection ends first: it is the least bad.
  assert.equal(countPicks(b, 10), { "a:1": 0, "b:1": 10, "c:1": 0 });
  assert.is(byKey(b, "b:1").state, "ejected");
  clock.set(1000);
  assert.is(b.pick().key, "b:1"); // its probe
  assert.is(byKey(b, "b:1").state, "probing");
});

test("ejection: false turns it off", () => {
  const b = roundRobin({ resolver: ABC, ejection: false });
  fail(b, "a:1", 100);
  assert.is(byKey(b, "a:1").state, "healthy");
  assert.is(byKey(b, "a:1").consecutiveFailures, 100);
  assert.is(sequence(b, 3), "abc");
});

// ---------------------------------------------------------------- resolver updates

test("resolver update: kept keys keep their state, removed ones leave picks and end cleanly", () => {
  const clock = fakeClock(0);
  const r = staticResolver([{ host: "a", port: 1, weight: 1 }, "b:1", "c:1"]);
  const bal = leastInFlight({ resolver: r, now: clock.now, ejection: EJ });
  const [a, b, c] = bal.endpoints() as [Endpoint, Endpoint, Endpoint];
  bal.setWeight("a:1", 5);
  bal.start(a);
  request(bal, a, true, 42);
  bal.start(b);
  bal.start(b);
  fail(bal, "c:1", 3);
  assert.is(c.state, "ejected");

  r.update([{ host: "a", port: 1, weight: 2 }, "c:1", "d:1"]);
  const after = bal.endpoints();
  assert.equal(after.map((e) => e.key), ["a:1", "c:1", "d:1"]);
  assert.is(after[0], a);
  assert.is(after[1], c);
  // The control plane's weight outlives the resolver's change of it.
  assert.is(a.weight, 5);
  assert.is(a.inFlight, 1);
  assert.is(a.latencyEwmaMs, 42);
  assert.is(c.state, "ejected");
  assert.is(c.ejectedUntil, 1000);

  // b's requests end without throwing or touching anyone's counts.
  bal.end(b, { ok: false, latencyMs: 1 });
  bal.end(b, { ok: true, latencyMs: 1 });
  bal.end(b, { ok: true, latencyMs: 1 }); // one more than started: stays at 0
  assert.is(b.inFlight, 0);
  for (let i = 0; i < 5; i++) request(bal, b, false);
  assert.is(b.consecutiveFailures, 0, "outcomes on a removed endpoint are not judged");
  assert.is(b.latencyEwmaMs, 1);
  assert.equal(after.map((e) => e.inFlight), [1, 0, 0]);
  for (let i = 0; i < 100; i++) assert.is.not(bal.pick().key, "b:1");
  throwsCode(() => bal.setWeight("b:1", 1), BalanceErrorCodes.UNKNOWN_ENDPOINT);
  throwsCode(() => {
    b.weight = 2;
  }, BalanceErrorCodes.UNKNOWN_ENDPOINT);

  // resetWeight: back to what the resolver says now.
  bal.resetWeight("a:1");
  assert.is(a.weight, 2);
  r.update([{ host: "a", port: 1, weight: 3 }, "c:1", "d:1"]);
  assert.is(a.weight, 3);
});

test("resolver update: an empty list leaves nothing to pick, a later one restores", () => {
  const r = staticResolver(ABC);
  const b = roundRobin({ resolver: r });
  r.update([]);
  throwsCode(() => b.pick(), BalanceErrorCodes.NO_ENDPOINT, /empty list/);
  r.update(["e:1"]);
  assert.is(b.pick().key, "e:1");
  throwsCode(() => r.update(["e:1", "e:1"]), INVALID, /duplicate/);
  assert.is(b.pick().key, "e:1");
});

test("async resolver: pick before the first list throws NO_ENDPOINT; ready() waits for it", async () => {
  let deliver!: (list: Address[]) => void;
  const r: Resolver = {
    resolve: () => new Promise((res) => (deliver = res)),
    subscribe: () => () => {},
    close() {},
  };
  const b = roundRobin({ resolver: r });
  throwsCode(() => b.pick(), BalanceErrorCodes.NO_ENDPOINT, /not resolved yet|no endpoints resolved yet/);
  const ready = b.ready();
  deliver([{ host: "x", port: 9 }]);
  await ready;
  assert.is(b.pick().key, "x:9");

  const failing: Resolver = {
    resolve: () => Promise.reject(new Error("boom")),
    subscribe: () => () => {},
    close() {},
  };
  const f = roundRobin({ resolver: failing });
  const err = await f.ready().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof Error && err.message === "boom", String(err));
  let caught: unknown;
  try {
    f.pick();
  } catch (e) {
    caught = e;
  }
  assert.is((caught as { code: string }).code, BalanceErrorCodes.NO_ENDPOINT);
  assert.is(((caught as Error).cause as Error).message, "boom");
});

test("close() unsubscribes and closes the resolver; the last list stays usable", () => {
  const r = staticResolver(ABC);
  let closed = 0;
  const b = roundRobin({ resolver: { ...r, close: () => closed++ } });
  b.close();
  b.close();
  assert.is(closed, 1);
  r.update(["z:1"]);
  assert.equal(b.endpoints().map((e) => e.key), ABC);
  assert.is(b.pick().key, "a:1");
});

// ---------------------------------------------------------------- DNS

/** Timers that only run when the test says so, remembering each delay asked for. */
class FakeTimers implements Timers {
  pending = new Map<number, () => void>();
  delays: number[] = [];
  cleared: unknown[] = [];
  #next = 1;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.pending.set(id, fn);
    this.delays.push(ms);
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.cleared.push(h);
    this.pending.delete(h as number);
  };
  /** Runs the one pending timer and lets the lookup it starts settle. */
  async fire(): Promise<void> {
    assert.is(this.pending.size, 1, "expected exactly one pending timer");
    const [id, fn] = [...this.pending][0]!;
    this.pending.delete(id);
    fn();
    await settle();
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A lookup answering from a script: records, or an Error to throw. */
function scripted(...answers: (DnsRecord[] | Error)[]): { lookup: (h: string) => Promise<DnsRecord[]>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookup: async (h) => {
      calls.push(h);
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

function dns(extra: Partial<DnsResolverOptions> & Pick<DnsResolverOptions, "lookup">): { r: Resolver; timers: FakeTimers } {
  const timers = new FakeTimers();
  return { r: dnsResolver({ hostname: "svc.internal", port: 8080, timers, ...extra }), timers };
}

test("dns: refreshes at the record TTL, clamped to [minTtlMs, maxTtlMs]", async () => {
  const s = scripted(
    [{ address: "10.0.0.2", ttl: 60 }, { address: "10.0.0.1", ttl: 30 }],
    [{ address: "10.0.0.1", ttl: 0 }],
    [{ address: "10.0.0.1", ttl: 86_400 }],
    [{ address: "10.0.0.1", ttl: 2.5 }],
  );
  const { r, timers } = dns({ lookup: s.lookup, minTtlMs: 1000, maxTtlMs: 120_000 });
  assert.equal(await r.resolve(), [{ host: "10.0.0.1", port: 8080, weight: 1 }, { host: "10.0.0.2", port: 8080, weight: 1 }]);
  assert.equal(s.calls, ["svc.internal"]);
  assert.equal(timers.delays, [30_000]); // the smallest TTL of the answer
  await timers.fire();
  await timers.fire();
  await timers.fire();
  assert.equal(timers.delays, [30_000, 1000, 120_000, 2500]);
  assert.is(s.calls.length, 4);
  r.close();
  assert.equal(timers.cleared.length, 1);
  assert.is(timers.pending.size, 0);
});

test("dns: listeners hear of changes only; a reordered answer is no change", async () => {
  const s = scripted(
    [{ address: "10.0.0.1", ttl: 5 }, { address: "10.0.0.2", ttl: 5 }],
    [{ address: "10.0.0.2", ttl: 5 }, { address: "10.0.0.1", ttl: 5 }],
    [{ address: "10.0.0.3", ttl: 5 }, { address: "10.0.0.1", ttl: 5 }],
  );
  const { r, timers } = dns({ lookup: s.lookup });
  await r.resolve();
  const heard: string[][] = [];
  r.subscribe((list) => heard.push(list.map((a) => a.host)));
  await timers.fire();
  assert.equal(heard, []);
  await timers.fire();
  assert.equal(heard, [["10.0.0.1", "10.0.0.3"]]);
  r.close();
});

test("dns: a failed or empty lookup keeps the last list and retries with backoff", async () => {
  const errors: Error[] = [];
  const s = scripted(
    [{ address: "10.0.0.1", ttl: 10 }],
    new Error("SERVFAIL"),
    [],
    new Error("SERVFAIL"),
    new Error("SERVFAIL"),
    new Error("SERVFAIL"),
    [{ address: "10.0.0.9", ttl: 10 }],
    new Error("SERVFAIL"),
  );
  const { r, timers } = dns({ lookup: s.lookup, minTtlMs: 1000, retryMaxMs: 5000, onError: (e) => errors.push(e) });
  await r.resolve();
  for (let i = 0; i < 5; i++) {
    await timers.fire();
    assert.equal(r.current?.(), [{ host: "10.0.0.1", port: 8080, weight: 1 }]);
  }
  assert.equal(timers.delays, [10_000, 1000, 2000, 4000, 5000, 5000]);
  assert.is(errors.length, 5);
  assert.is((errors[0] as Error & { code: string }).code, ResolveErrorCodes.RESOLVE);
  assert.is(((errors[0] as Error).cause as Error).message, "SERVFAIL");
  assert.match(errors[1]!.message, /retry in 2000 ms/);
  await timers.fire();
  assert.equal(await r.resolve(), [{ host: "10.0.0.9", port: 8080, weight: 1 }]);
  assert.is(timers.delays.at(-1), 10_000); // back on the TTL
  await timers.fire();
  assert.is(timers.delays.at(-1), 1000, "backoff starts over after a success");
  r.close();
});

test("dns: resolve() waits for the first answer and rejects if it fails; close() rejects waiters", async () => {
  const s = scripted(new Error("NXDOMAIN"), [{ address: "10.1.1.1", ttl: 1 }]);
  const { r, timers } = dns({ lookup: s.lookup });
  const err = await r.resolve().then(() => undefined, (e: unknown) => e);
  assert.is((err as { code: string }).code, ResolveErrorCodes.RESOLVE);
  assert.is(r.current?.(), undefined);
  const waiting = r.resolve();
  await timers.fire();
  assert.equal(await waiting, [{ host: "10.1.1.1", port: 8080, weight: 1 }]);
  r.close();

  const never = dns({ lookup: () => new Promise(() => {}) });
  const pending = never.r.resolve().then(() => undefined, (e: unknown) => e);
  never.r.close();
  assert.is(((await pending) as { code: string }).code, ResolveErrorCodes.RESOLVER_CLOSED);
});

test("dns: family filters the answer; an IP literal needs no lookup", async () => {
  const s = scripted([{ address: "10.0.0.1", ttl: 5 }, { address: "fd00::1", ttl: 5 }, { address: "bogus", ttl: 5 }]);
  const v6 = dns({ lookup: s.lookup, family: 6 });
  assert.equal(await v6.r.resolve(), [{ host: "fd00::1", port: 8080, weight: 1 }]);
  v6.r.close();
  const lit = dnsResolver({ hostname: "[::1]", port: 80, lookup: () => Promise.reject(new Error("must not be called")) });
  assert.equal(lit.current?.(), [{ host: "::1", port: 80, weight: 1 }]);
  const b = p2cLatency({ resolver: lit });
  assert.is(b.pick().key, "[::1]:80");
  b.close();
});

test("dns: bad options throw", () => {
  const lookup = async (): Promise<DnsRecord[]> => [];
  throwsCode(() => dnsResolver({ hostname: "", port: 80, lookup }), INVALID, /hostname/);
  throwsCode(() => dnsResolver({ hostname: "a b", port: 80, lookup }), INVALID, /hostname/);
  throwsCode(() => dnsResolver({ hostname: "a", port: 0, lookup }), INVALID, /port/);
  throwsCode(() => dnsResolver({ hostname: "a", port: 80, family: 5 as 4, lookup }), INVALID, /family/);
  throwsCode(() => dnsResolver({ hostname: "a", port: 80, minTtlMs: 0, lookup }), INVALID, /minTtlMs/);
  throwsCode(() => dnsResolver({ hostname: "a", port: 80, minTtlMs: 5000, maxTtlMs: 1000, lookup }), INVALID, /maxTtlMs/);
  throwsCode(() => dnsResolver({ hostname: "a", port: 80, lookup: "x" as unknown as typeof lookup }), INVALID, /lookup/);
  throwsCode(() => dnsResolver({ hostname: "a", port: 80, ttl: 5 } as unknown as DnsResolverOptions), INVALID, /ttl: unknown option/);
});

test("dns + balancer: a record change adds and removes endpoints, kept ones keep state", async () => {
  const s = scripted(
    [{ address: "10.0.0.1", ttl: 5 }, { address: "10.0.0.2", ttl: 5 }],
    [{ address: "10.0.0.2", ttl: 5 }, { address: "10.0.0.3", ttl: 5 }],
  );
  const { r, timers } = dns({ lookup: s.lookup });
  const b = roundRobin({ resolver: r });
  throwsCode(() => b.pick(), BalanceErrorCodes.NO_ENDPOINT);
  await b.ready();
  const kept = byKey(b, "10.0.0.2:8080");
  b.setWeight(kept.key, 3);
  const gone = byKey(b, "10.0.0.1:8080");
  b.start(gone);
  await timers.fire();
  assert.equal(b.endpoints().map((e) => e.key), ["10.0.0.2:8080", "10.0.0.3:8080"]);
  assert.is(byKey(b, "10.0.0.2:8080"), kept);
  assert.is(kept.weight, 3);
  b.end(gone, { ok: true, latencyMs: 3 });
  assert.is(gone.inFlight, 0);
  assert.equal(countPicks(b, 400), { "10.0.0.2:8080": 300, "10.0.0.3:8080": 100 });
  b.close();
  assert.is(timers.pending.size, 0, "close() stops the refresh timer");
});

test("dns: real timers refresh on their own, are unref'd, and stop at close()", async () => {
  const handles: NodeJS.Timeout[] = [];
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      const h = setTimeout(fn, ms);
      handles.push(h);
      return h;
    },
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
  let calls = 0;
  const r = dnsResolver({
    hostname: "svc.internal",
    port: 80,
    minTtlMs: 5,
    timers,
    lookup: async () => {
      calls++;
      return [{ address: "10.0.0.1", ttl: 0 }];
    },
  });
  const deadline = Date.now() + 2000;
  while (calls < 4 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
  assert.ok(calls >= 4, `only ${calls} lookups`);
  assert.ok(handles.length >= 3 && handles.every((h) => !h.hasRef()), "refresh timers hold the process open");
  r.close();
  const at = calls;
  await new Promise((res) => setTimeout(res, 50));
  assert.is(calls, at, "lookups after close()");
});

test("dns: the default lookup falls back to getaddrinfo for names only it knows (localhost)", async () => {
  const r = dnsResolver({ hostname: "localhost", port: 80, family: 4 });
  const list = await r.resolve();
  r.close();
  assert.ok(list.length > 0);
  for (const a of list) assert.match(a.host, /^127\./);
});

test.run();
