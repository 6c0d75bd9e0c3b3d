/**
 * Load balancing for the HTTP client: which upstream endpoint takes the next
 * request. One core keeps the endpoint set in step with a resolver, counts
 * in-flight requests and latency, and ejects endpoints that keep failing;
 * four strategies choose among the healthy ones: smooth weighted
 * round-robin, weighted random (alias table), least in flight, and power of
 * two choices over a peak latency EWMA. docs/client-balancing.md is the
 * user's guide.
 *
 * pick() runs once per request, so it allocates nothing: the usable set and
 * each strategy's tables are rebuilt when something changes (a resolver
 * update, a weight, an ejection), never per pick.
 */
import { ErrorCodes, FaradError } from "../common/errors.js";
import {
  normalizeList,
  staticResolver,
  validWeight,
  type Address,
  type AddressInput,
  type NormalAddress,
  type Resolver,
} from "./resolve.js";

/** Error codes of balancers (err.code). */
export const BalanceErrorCodes = Object.freeze({
  /** pick() found no endpoint it may use: none resolved (yet), or every one has weight 0. */
  NO_ENDPOINT: "FARAD_ERR_NO_ENDPOINT",
  /** setWeight() or resetWeight() named a key that is not in the list, or start()/end() got another balancer's endpoint. */
  UNKNOWN_ENDPOINT: "FARAD_ERR_UNKNOWN_ENDPOINT",
});

export type EndpointState = "healthy" | "ejected" | "probing";

/** One upstream address and what the balancer knows about it. */
export interface Endpoint {
  /** "host:port" ("[::1]:port" for IPv6): the identity kept across resolver updates. */
  readonly key: string;
  /** Without brackets. */
  readonly host: string;
  readonly port: number;
  /** >= 0; 0 drains (listed, never picked). Assigning it is balancer.setWeight(key, weight). */
  weight: number;
  /** Requests between start() and end() (or cancel()). */
  readonly inFlight: number;
  /** Peak EWMA of latency, in ms, as of the last sample (failures count as at least failurePenaltyMs). */
  readonly latencyEwmaMs: number;
  readonly state: EndpointState;
  /** Failures since the last success. */
  readonly consecutiveFailures: number;
  /** The ejection multiplier: 1 on a first ejection, +1 for each one soon after. */
  readonly ejections: number;
  /** When the current ejection ends (the clock of `now`), or 0. */
  readonly ejectedUntil: number;
}

/** How a request on an endpoint went. */
export interface Outcome {
  /** false for connect and transport errors, and for responses the caller counts as the endpoint failing (5xx). */
  ok: boolean;
  /** Time to the response (or the failure), in ms. Not finite or < 0: no latency sample. */
  latencyMs: number;
}

export interface EjectionOptions {
  /** Failures in a row that eject an endpoint. Default 5. */
  consecutiveFailures?: number;
  /** First ejection, in ms; each ejection soon after another doubles it. Default 10000. */
  baseEjectMs?: number;
  /** Longest ejection, in ms. Default 300000. */
  maxEjectMs?: number;
  /** Most endpoints (with weight > 0), in percent, ejected at one time; rounds down. Default 50. */
  maxEjectedPercent?: number;
  /** A probe request not ended within this many ms counts as a failed probe. Default 30000. */
  probeTimeoutMs?: number;
}

export interface BalancerOptions {
  /** Where the endpoints come from; a plain list is staticResolver(list). The balancer owns it: close() closes it. */
  resolver: Resolver | readonly AddressInput[];
  /** Uniform in [0, 1). Default Math.random. */
  random?: () => number;
  /** A monotonic clock in ms. Default performance.now. */
  now?: () => number;
  /** Ejection of failing endpoints; false turns it off. */
  ejection?: EjectionOptions | false;
  /** Half-life of a latency sample's weight in the EWMA, in ms. Default 10000. */
  ewmaDecayMs?: number;
  /** The least latency a failure counts as in the EWMA, in ms, so fast failures never look attractive. Default 1000. */
  failurePenaltyMs?: number;
}

export interface Balancer {
  /** The endpoint for the next request. Throws FARAD_ERR_NO_ENDPOINT when none may be used. */
  pick(): Endpoint;
  /** A request begins on `ep`. */
  start(ep: Endpoint): void;
  /** A request that start() began has ended. Never throws for an endpoint the resolver has since removed. */
  end(ep: Endpoint, outcome: Outcome): void;
  /** A request that start() began was given up by the caller: no health or latency signal; a probe it held reopens. */
  cancel(ep: Endpoint): void;
  /** Overrides the resolver's weight for `key` until resetWeight(key) or the key leaves the list. */
  setWeight(key: string, weight: number): void;
  /** Back to the resolver's weight for `key`. */
  resetWeight(key: string): void;
  /** The current list, in the resolver's order (frozen; a new array after each change). */
  endpoints(): readonly Endpoint[];
  /** Resolves once the first list is in; rejects if the resolver's first resolve() failed and no list came since. */
  ready(): Promise<void>;
  /** Stops following the resolver and closes it. The last list stays usable. */
  close(): void;
}

const HEALTHY = 0;
const EJECTED = 1;
const PROBING = 2;
const STATE_NAMES: readonly EndpointState[] = ["healthy", "ejected", "probing"];

interface Ejection {
  consecutiveFailures: number;
  baseEjectMs: number;
  maxEjectMs: number;
  maxEjectedPercent: number;
  probeTimeoutMs: number;
}

const EJECTION_DEFAULTS: Readonly<Ejection> = Object.freeze({
  consecutiveFailures: 5,
  baseEjectMs: 10_000,
  maxEjectMs: 300_000,
  maxEjectedPercent: 50,
  probeTimeoutMs: 30_000,
});

const OPTION_KEYS = new Set(["resolver", "random", "now", "ejection", "ewmaDecayMs", "failurePenaltyMs"]);

function invalid(name: string, why: string): never {
  throw new FaradError(ErrorCodes.INVALID_OPTION, `invalid option ${name}: ${why}`);
}

function positive(name: string, v: unknown, dflt: number, integer: boolean, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v > 0) || v > max || (integer && !Number.isInteger(v))) {
    invalid(name, `expected ${integer ? "an integer" : "a number"} from ${integer ? 1 : "above 0"} to ${max}, got ${String(v)}`);
  }
  return v;
}

function nonNegative(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) invalid(name, `expected a finite number >= 0, got ${String(v)}`);
  return v;
}

function ejectionOptions(e: unknown): Ejection | null {
  if (e === false) return null;
  if (e === undefined) return { ...EJECTION_DEFAULTS };
  if (typeof e !== "object" || e === null) invalid("ejection", "expected an object or false");
  const o = e as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in EJECTION_DEFAULTS) && o[k] !== undefined) invalid(`ejection.${k}`, "unknown option");
  const d = EJECTION_DEFAULTS;
  const out: Ejection = {
    consecutiveFailures: positive("ejection.consecutiveFailures", o.consecutiveFailures, d.consecutiveFailures, true),
    baseEjectMs: positive("ejection.baseEjectMs", o.baseEjectMs, d.baseEjectMs, true),
    maxEjectMs: 0,
    maxEjectedPercent: d.maxEjectedPercent,
    probeTimeoutMs: positive("ejection.probeTimeoutMs", o.probeTimeoutMs, d.probeTimeoutMs, true),
  };
  out.maxEjectMs = positive("ejection.maxEjectMs", o.maxEjectMs, Math.max(d.maxEjectMs, out.baseEjectMs), true);
  if (out.maxEjectMs < out.baseEjectMs) invalid("ejection.maxEjectMs", `must be >= baseEjectMs (${out.baseEjectMs}), got ${out.maxEjectMs}`);
  const pct = o.maxEjectedPercent;
  if (pct !== undefined) {
    if (typeof pct !== "number" || !(pct >= 0 && pct <= 100)) invalid("ejection.maxEjectedPercent", `expected a number from 0 to 100, got ${String(pct)}`);
    out.maxEjectedPercent = pct;
  }
  return out;
}

function noEndpoint(why: string, cause?: unknown): FaradError {
  return new FaradError(BalanceErrorCodes.NO_ENDPOINT, `no usable endpoint: ${why}`, cause === undefined ? undefined : { cause });
}

function unknownEndpoint(what: string): FaradError {
  return new FaradError(BalanceErrorCodes.UNKNOWN_ENDPOINT, what);
}

/**
 * An endpoint and the balancer's state for it. Not exported: users see the
 * read-only Endpoint view, while the balancer in this file reads and writes
 * the plain fields directly in its hot paths.
 */
class Peer implements Endpoint {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly owner: BalancerImpl;
  /** The resolver's weight; `override` (NaN: none) is setWeight's. `w` is the one in force. */
  base: number;
  override = NaN;
  w: number;
  active = 0;
  ewma: number;
  /** When `ewma` was last updated. */
  stamp: number;
  samples = 0;
  failures = 0;
  multiplier = 0;
  healthySince: number;
  until = 0;
  st = HEALTHY;
  probeClaimed = false;
  probeDeadline = 0;
  /** Smooth WRR's current weight. */
  cw = 0;
  inUsable = false;
  removed = false;

  constructor(owner: BalancerImpl, a: NormalAddress, now: number, seedMs: number) {
    this.owner = owner;
    this.key = a.key;
    this.host = a.host;
    this.port = a.port;
    this.base = a.weight;
    this.w = a.weight;
    this.ewma = seedMs;
    this.stamp = now;
    this.healthySince = now;
  }

  get weight(): number {
    return this.w;
  }
  set weight(v: number) {
    if (this.removed) throw unknownEndpoint(`endpoint ${this.key} is no longer in the list`);
    this.owner.setWeight(this.key, v);
  }
  get inFlight(): number {
    return this.active;
  }
  get latencyEwmaMs(): number {
    return this.ewma;
  }
  get state(): EndpointState {
    return STATE_NAMES[this.st]!;
  }
  get consecutiveFailures(): number {
    return this.failures;
  }
  get ejections(): number {
    return this.multiplier;
  }
  get ejectedUntil(): number {
    return this.st === HEALTHY ? 0 : this.until;
  }

  /**
   * Peak EWMA (Finagle's, as in linkerd): a sample above the average is taken
   * at once, so a slowing endpoint loses traffic immediately; one below pulls
   * the average down by how much time passed since the last sample
   * (w = 2^(-dt / halfLife)), so recovery is gradual and a burst of samples
   * within one millisecond does not swamp the history.
   */
  sample(ms: number, now: number, halfLifeMs: number): void {
    if (this.samples === 0 || ms >= this.ewma) {
      this.ewma = ms;
    } else {
      const keep = 2 ** (-(now - this.stamp) / halfLifeMs);
      this.ewma = this.ewma * keep + ms * (1 - keep);
    }
    this.stamp = now;
    this.samples++;
  }

  toJSON(): object {
    return { key: this.key, weight: this.w, inFlight: this.active, latencyEwmaMs: this.ewma, state: this.state };
  }
}

/**
 * How a balancer chooses among its usable endpoints. The base below owns
 * everything else (membership, health, counters), so a strategy is only its
 * choice and the tables it precomputes for it.
 */
interface Strategy {
  /** Chooses among `usable`: at least two endpoints, all healthy with weight > 0. */
  choose(usable: readonly Peer[]): Peer;
  /** `usable` changed (members, order or weights). */
  rebuilt(usable: readonly Peer[]): void;
}

interface StrategyContext {
  random: () => number;
  now: () => number;
  halfLifeMs: number;
}

class BalancerImpl implements Balancer {
  readonly #now: () => number;
  readonly #halfLifeMs: number;
  readonly #penaltyMs: number;
  readonly #strategy: Strategy;
  readonly #ej: Ejection | null;
  readonly #resolver: Resolver;
  readonly #unsubscribe: () => void;
  #peers = new Map<string, Peer>();
  #list: readonly Peer[] = Object.freeze([]);
  /** Healthy endpoints with weight > 0, in list order: what the strategy chooses from. */
  readonly #usable: Peer[] = [];
  readonly #probing: Peer[] = [];
  #openProbes = 0;
  /** Endpoints with weight > 0, and those of them not healthy: the ejection cap's terms. */
  #serving = 0;
  #unhealthy = 0;
  /** The earliest time an ejection ends or a claimed probe times out; pick() checks only this. */
  #wakeAt = Infinity;
  #hasList = false;
  #initError: unknown = undefined;
  #waiters: { resolve(): void; reject(err: unknown): void }[] = [];
  #closed = false;

  constructor(opts: BalancerOptions, strategy: (ctx: StrategyContext) => Strategy) {
    if (typeof opts !== "object" || opts === null) invalid("options", "expected an object");
    const o = opts as unknown as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!OPTION_KEYS.has(k) && o[k] !== undefined) invalid(k, "unknown option");
    for (const k of ["random", "now"] as const) if (o[k] !== undefined && typeof o[k] !== "function") invalid(k, "expected a function");
    this.#now = opts.now ?? (() => performance.now());
    this.#halfLifeMs = positive("ewmaDecayMs", opts.ewmaDecayMs, 10_000, false);
    this.#penaltyMs = nonNegative("failurePenaltyMs", opts.failurePenaltyMs, 1000);
    this.#ej = ejectionOptions(opts.ejection);
    this.#strategy = strategy({ random: opts.random ?? Math.random, now: this.#now, halfLifeMs: this.#halfLifeMs });
    const r = opts.resolver;
    if (Array.isArray(r)) {
      this.#resolver = staticResolver(r);
    } else if (typeof r === "object" && r !== null && typeof (r as Resolver).resolve === "function" && typeof (r as Resolver).subscribe === "function" && typeof (r as Resolver).close === "function") {
      this.#resolver = r as Resolver;
    } else {
      invalid("resolver", "expected a list of addresses or a Resolver");
    }
    const resolver = this.#resolver;
    const current = resolver.current?.();
    if (current !== undefined) this.#apply(current);
    this.#unsubscribe = resolver.subscribe((list) => this.#apply(list));
    if (current === undefined) {
      resolver.resolve().then(
        (list) => {
          // A subscription update may have come first; it is at least as new.
          if (this.#hasList || this.#closed) return;
          try {
            this.#apply(list);
          } catch (err) {
            this.#initFailed(err);
          }
        },
        (err: unknown) => this.#initFailed(err),
      );
    }
  }

  pick(): Endpoint {
    // The clock is read only while something is ejected or probing: reading
    // it costs as much as the rest of a pick.
    if (this.#wakeAt !== Infinity) {
      const now = this.#now();
      if (now >= this.#wakeAt) this.#wake(now);
    }
    if (this.#openProbes > 0) {
      const p = this.#claimProbe();
      if (p !== undefined) return p;
    }
    const u = this.#usable;
    if (u.length > 1) return this.#strategy.choose(u);
    if (u.length === 1) return u[0]!;
    return this.#panic();
  }

  start(ep: Endpoint): void {
    this.#own(ep).active++;
  }

  end(ep: Endpoint, outcome: Outcome): void {
    const p = this.#own(ep);
    if (p.active > 0) p.active--;
    if (p.removed) return;
    const now = this.#now();
    const ms = outcome.latencyMs;
    const ok = outcome.ok === true;
    if (ok) {
      if (ms >= 0 && ms < Infinity) p.sample(ms, now, this.#halfLifeMs);
    } else {
      p.sample(ms >= 0 && ms < Infinity && ms > this.#penaltyMs ? ms : this.#penaltyMs, now, this.#halfLifeMs);
    }
    if (p.st === HEALTHY) {
      if (ok) p.failures = 0;
      else if (++p.failures >= (this.#ej?.consecutiveFailures ?? Infinity)) this.#tryEject(p, now);
    } else if (p.st === PROBING && p.probeClaimed) {
      // The first outcome after the probe went out decides. Requests older
      // than the ejection have almost always ended by then (it lasts seconds).
      if (ok) {
        p.st = HEALTHY;
        p.failures = 0;
        p.healthySince = now;
        p.probeClaimed = false;
        this.#rebuild();
      } else {
        p.failures++;
        this.#eject(p, now);
      }
    }
    // Outcomes while ejected come from requests sent before the ejection (or
    // in panic mode, see #panic); they neither extend nor end it.
  }

  cancel(ep: Endpoint): void {
    const p = this.#own(ep);
    if (p.active > 0) p.active--;
    if (!p.removed && p.st === PROBING && p.probeClaimed) {
      p.probeClaimed = false;
      this.#rebuild();
    }
  }

  setWeight(key: string, weight: number): void {
    if (!validWeight(weight)) {
      throw new FaradError(ErrorCodes.INVALID_OPTION, `invalid weight for ${String(key)}: expected a finite number >= 0, got ${String(weight)}`);
    }
    const p = this.#peers.get(key);
    if (p === undefined) throw unknownEndpoint(`setWeight: no endpoint ${JSON.stringify(key)} in the list`);
    p.override = weight;
    if (p.w !== weight) {
      p.w = weight;
      this.#rebuild();
    }
  }

  resetWeight(key: string): void {
    const p = this.#peers.get(key);
    if (p === undefined) throw unknownEndpoint(`resetWeight: no endpoint ${JSON.stringify(key)} in the list`);
    p.override = NaN;
    if (p.w !== p.base) {
      p.w = p.base;
      this.#rebuild();
    }
  }

  endpoints(): readonly Endpoint[] {
    return this.#list;
  }

  ready(): Promise<void> {
    if (this.#hasList) return Promise.resolve();
    if (this.#initError !== undefined) return Promise.reject(this.#initError);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#resolver.close();
    if (!this.#hasList) this.#initFailed(noEndpoint("the balancer was closed before any endpoint was resolved"));
  }

  #own(ep: Endpoint): Peer {
    if (!(ep instanceof Peer) || ep.owner !== this) throw unknownEndpoint("the endpoint does not belong to this balancer");
    return ep;
  }

  #initFailed(err: unknown): void {
    if (this.#hasList) return;
    this.#initError = err ?? new Error("resolve failed");
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(this.#initError);
  }

  /**
   * Takes a new list from the resolver. Endpoints whose key stays keep all
   * their state (in-flight count, EWMA, failures, ejection, a setWeight
   * override); removed ones leave the picks, and their in-flight requests
   * still end cleanly on the old objects.
   */
  #apply(list: readonly Address[]): void {
    if (this.#closed) return;
    const addrs = normalizeList(list, "resolver update", true);
    const now = this.#now();
    const seed = this.#seedLatency();
    const next = new Map<string, Peer>();
    const arr: Peer[] = [];
    for (const a of addrs) {
      let p = this.#peers.get(a.key);
      if (p === undefined) {
        p = new Peer(this, a, now, seed);
      } else {
        p.base = a.weight;
        if (Number.isNaN(p.override)) p.w = a.weight;
      }
      next.set(a.key, p);
      arr.push(p);
    }
    for (const [key, p] of this.#peers) {
      if (!next.has(key)) {
        p.removed = true;
        p.inUsable = false;
      }
    }
    this.#peers = next;
    this.#list = Object.freeze(arr);
    this.#rebuild();
    if (!this.#hasList) {
      this.#hasList = true;
      this.#initError = undefined;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  /**
   * The latency a new endpoint starts with: the mean of those already
   * measured, so it neither floods (an estimate of 0 would win every
   * comparison until its first response) nor starves; 1 ms when nothing is
   * measured yet, which leaves in-flight counts to decide.
   */
  #seedLatency(): number {
    let sum = 0;
    let n = 0;
    for (const p of this.#list) {
      if (p.samples > 0) {
        sum += p.ewma;
        n++;
      }
    }
    return n > 0 ? sum / n : 1;
  }

  #rebuild(): void {
    const u = this.#usable;
    u.length = 0;
    this.#probing.length = 0;
    let open = 0;
    let serving = 0;
    let unhealthy = 0;
    for (const p of this.#list) {
      const usable = p.st === HEALTHY && p.w > 0;
      if (usable) {
        // Entering the rotation with a clean smooth-WRR slate, not a stale debt or credit.
        if (!p.inUsable) p.cw = 0;
        u.push(p);
      }
      p.inUsable = usable;
      if (p.w > 0) {
        serving++;
        if (p.st !== HEALTHY) unhealthy++;
      }
      if (p.st === PROBING) {
        this.#probing.push(p);
        if (!p.probeClaimed && p.w > 0) open++;
      }
    }
    this.#openProbes = open;
    this.#serving = serving;
    this.#unhealthy = unhealthy;
    this.#strategy.rebuilt(u);
  }

  /** Ejections that ended become probes; claimed probes that never ended count as failed. */
  #wake(now: number): void {
    let changed = false;
    let next = Infinity;
    for (const p of this.#list) {
      if (p.st === EJECTED && now >= p.until) {
        p.st = PROBING;
        p.probeClaimed = false;
        changed = true;
      } else if (p.st === PROBING && p.probeClaimed && now >= p.probeDeadline) {
        p.failures++;
        this.#eject(p, now);
      }
      if (p.st === EJECTED) next = Math.min(next, p.until);
      else if (p.st === PROBING && p.probeClaimed) next = Math.min(next, p.probeDeadline);
    }
    this.#wakeAt = next;
    if (changed) this.#rebuild();
  }

  #claimProbe(): Peer | undefined {
    for (const p of this.#probing) {
      if (!p.probeClaimed && p.w > 0) {
        p.probeClaimed = true;
        p.probeDeadline = this.#now() + this.#ej!.probeTimeoutMs;
        if (p.probeDeadline < this.#wakeAt) this.#wakeAt = p.probeDeadline;
        this.#openProbes--;
        return p;
      }
    }
    return undefined;
  }

  #tryEject(p: Peer, now: number): void {
    // Draining endpoints (weight 0) carry no traffic, so ejecting them costs no capacity.
    if (p.w > 0 && this.#unhealthy + 1 > Math.floor((this.#serving * this.#ej!.maxEjectedPercent) / 100)) return;
    this.#eject(p, now);
  }

  #eject(p: Peer, now: number): void {
    const base = this.#ej!.baseEjectMs;
    // Each baseEjectMs of health since the last ejection forgives one step
    // of the doubling, so only an endpoint that keeps relapsing stays out longer.
    const forgiven = p.st === HEALTHY ? Math.floor((now - p.healthySince) / base) : 0;
    p.multiplier = Math.max(0, p.multiplier - forgiven) + 1;
    p.until = now + Math.min(base * 2 ** (p.multiplier - 1), this.#ej!.maxEjectMs);
    p.st = EJECTED;
    p.probeClaimed = false;
    if (p.until < this.#wakeAt) this.#wakeAt = p.until;
    this.#rebuild();
  }

  /**
   * Nothing healthy with weight > 0 (every such endpoint ejected or being
   * probed, which only maxEjectedPercent 100 or a shrinking list allows):
   * failing every request would turn a partial outage into a full one, so
   * the least-bad endpoint serves, the one whose ejection ends first. Its
   * state does not change; it returns through its probe as usual.
   */
  #panic(): Peer {
    let best: Peer | undefined;
    for (const p of this.#list) {
      if (p.w > 0 && (best === undefined || p.until < best.until)) best = p;
    }
    if (best !== undefined) return best;
    if (this.#list.length > 0) throw noEndpoint(`every endpoint has weight 0 (${this.#list.length} listed)`);
    if (this.#initError !== undefined) throw noEndpoint("the resolver failed", this.#initError);
    throw noEndpoint(this.#hasList ? "the resolver returned an empty list" : "no endpoints resolved yet");
  }
}

/**
 * Smooth weighted round-robin (nginx's): every pick, each endpoint gains its
 * weight in credit, the richest is picked and pays the total. Weights 5,1,1
 * give a a b a c a a: heavy endpoints are spread out, not picked in a burst.
 * O(n) a pick; equal weights take an O(1) cursor instead.
 */
class SmoothRoundRobin implements Strategy {
  #uniform = true;
  #cursor = 0;

  rebuilt(u: readonly Peer[]): void {
    let uniform = true;
    for (let i = 1; i < u.length; i++) if (u[i]!.w !== u[0]!.w) uniform = false;
    if (!uniform && this.#uniform) for (const p of u) p.cw = 0;
    this.#uniform = uniform;
  }

  choose(u: readonly Peer[]): Peer {
    const n = u.length;
    if (this.#uniform) {
      const i = this.#cursor < n ? this.#cursor : 0;
      this.#cursor = i + 1;
      return u[i]!;
    }
    let total = 0;
    let best = u[0]!;
    for (let i = 0; i < n; i++) {
      const p = u[i]!;
      p.cw += p.w;
      total += p.w;
      if (p.cw > best.cw) best = p;
    }
    best.cw -= total;
    return best;
  }
}

/** Weighted random with Vose's alias table: O(1) a pick with one random number, O(n) to rebuild. */
class AliasTable implements Strategy {
  readonly #random: () => number;
  #prob = new Float64Array(0);
  #alias = new Int32Array(0);

  constructor(random: () => number) {
    this.#random = random;
  }

  rebuilt(u: readonly Peer[]): void {
    const n = u.length;
    if (this.#prob.length < n) {
      this.#prob = new Float64Array(n * 2);
      this.#alias = new Int32Array(n * 2);
    }
    const prob = this.#prob;
    const alias = this.#alias;
    let total = 0;
    for (const p of u) total += p.w;
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (u[i]!.w * n) / total;
      (scaled[i]! < 1 ? small : large).push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      prob[s] = scaled[s]!;
      alias[s] = l;
      scaled[l] = scaled[l]! + scaled[s]! - 1;
      (scaled[l]! < 1 ? small : large).push(l);
    }
    // What is left is 1 up to rounding.
    for (const i of large) prob[i] = 1;
    for (const i of small) prob[i] = 1;
  }

  choose(u: readonly Peer[]): Peer {
    const n = u.length;
    const r = this.#random() * n;
    let i = Math.floor(r);
    if (i >= n) i = n - 1;
    return r - i < this.#prob[i]! ? u[i]! : u[this.#alias[i]!]!;
  }
}

/**
 * Least in flight, weighted: the lowest (inFlight + 1) / weight, by a full
 * scan (O(n); for very large lists p2cLatency approximates it in O(1)).
 * The scan starts one further each pick, so ties (an idle pool) rotate
 * instead of all landing on the first endpoint.
 */
class LeastLoaded implements Strategy {
  #cursor = 0;

  rebuilt(): void {}

  choose(u: readonly Peer[]): Peer {
    const n = u.length;
    let i = this.#cursor < n ? this.#cursor : 0;
    this.#cursor = i + 1;
    let best = u[i]!;
    for (let k = 1; k < n; k++) {
      if (++i === n) i = 0;
      const p = u[i]!;
      // a/wa < b/wb without dividing.
      if ((p.active + 1) * best.w < (best.active + 1) * p.w) best = p;
    }
    return best;
  }
}

/**
 * Power of two choices: two distinct endpoints at random, the cheaper wins.
 * cost = latency EWMA, halved for each ewmaDecayMs since its last sample,
 * × (inFlight + 1) ÷ weight. The in-flight factor reacts before any latency
 * is measured (a stalled endpoint piles up requests); the idle decay lets an
 * endpoint that lost every comparison (and so got no new samples) be tried
 * again once the others' fresh samples cost more.
 */
class PowerOfTwo implements Strategy {
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #halfLifeMs: number;

  constructor(ctx: StrategyContext) {
    this.#random = ctx.random;
    this.#now = ctx.now;
    this.#halfLifeMs = ctx.halfLifeMs;
  }

  rebuilt(): void {}

  choose(u: readonly Peer[]): Peer {
    const n = u.length;
    let i = Math.floor(this.#random() * n);
    if (i >= n) i = n - 1;
    let j = Math.floor(this.#random() * (n - 1));
    if (j >= n - 1) j = n - 2;
    if (j >= i) j++;
    const a = u[i]!;
    const b = u[j]!;
    const now = this.#now();
    return this.#cost(b, now) < this.#cost(a, now) ? b : a;
  }

  #cost(p: Peer, now: number): number {
    const idle = now - p.stamp;
    const latency = idle > 0 ? p.ewma * 2 ** (-idle / this.#halfLifeMs) : p.ewma;
    return (latency * (p.active + 1)) / p.w;
  }
}

/** Smooth weighted round-robin; equal weights make it plain round-robin. */
export function roundRobin(opts: BalancerOptions): Balancer {
  return new BalancerImpl(opts, () => new SmoothRoundRobin());
}

/** Each pick independent, with probability weight / total weight. */
export function weightedRandom(opts: BalancerOptions): Balancer {
  return new BalancerImpl(opts, (ctx) => new AliasTable(ctx.random));
}

/** The endpoint with the fewest requests in flight per unit of weight. */
export function leastInFlight(opts: BalancerOptions): Balancer {
  return new BalancerImpl(opts, () => new LeastLoaded());
}

/** Power of two choices over latency EWMA × (inFlight + 1) ÷ weight. */
export function p2cLatency(opts: BalancerOptions): Balancer {
  return new BalancerImpl(opts, (ctx) => new PowerOfTwo(ctx));
}
