/**
 * Resolvers: where the client's upstream addresses come from. A resolver
 * hands out a list of { host, port, weight? } and tells its subscribers when
 * the list changes; balancers (balance.ts) keep per-endpoint state across
 * such changes. Two come with farad: a static list (which a registry may
 * replace with update()) and DNS with TTL refresh.
 */
import { promises as dnsPromises } from "node:dns";
import { isIP } from "node:net";
import { ErrorCodes, FaradError } from "../common/errors.js";

/** Error codes of resolvers (err.code). */
export const ResolveErrorCodes = Object.freeze({
  /** A DNS lookup failed or returned no usable address; `cause` holds the lookup's error. */
  RESOLVE: "FARAD_ERR_RESOLVE",
  /** The resolver was closed while resolve() waited. */
  RESOLVER_CLOSED: "FARAD_ERR_RESOLVER_CLOSED",
});

/** One upstream address as a resolver reports it. */
export interface Address {
  host: string;
  port: number;
  /** >= 0; default 1. */
  weight?: number;
}

/** An address as a user may write it: "host:port", "[::1]:port", or an object. */
export type AddressInput = string | Address;

/** A validated address with its identity key. */
export interface NormalAddress {
  /** "host:port", or "[v6]:port" for IPv6. */
  readonly key: string;
  /** Without brackets, lower case. */
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export interface Resolver {
  /** The current list; waits for the first one if there is none yet. */
  resolve(): Promise<Address[]>;
  /** Calls `listener` with the whole new list whenever it changes; returns the unsubscribe function. */
  subscribe(listener: (list: readonly Address[]) => void): () => void;
  /** Stops refreshing and drops the listeners. */
  close(): void;
  /**
   * The current list without waiting, or undefined before the first one.
   * Optional; a balancer uses it to be usable at once instead of after a tick.
   */
  current?(): readonly Address[] | undefined;
}

/** A static list that a registry pushing changes may replace. */
export interface StaticResolver extends Resolver {
  /** Replaces the list (validated like the first; may be empty) and tells the subscribers. */
  update(list: readonly AddressInput[]): void;
}

/** A DNS answer: an address and its TTL in seconds (as node:dns's `{ ttl: true }` gives). */
export interface DnsRecord {
  address: string;
  ttl: number;
}

/** Timer functions, injectable so tests can drive refreshes by hand. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface DnsResolverOptions {
  hostname: string;
  port: number;
  /** 4: A records, 6: AAAA records, 0: both. Default 0. */
  family?: 0 | 4 | 6;
  /** Shortest refresh interval, in ms; a TTL below it (0 included) refreshes at it. Also the first retry delay after a failure. Default 1000. */
  minTtlMs?: number;
  /** Longest refresh interval, in ms; also the TTL given to answers that carry none (getaddrinfo). Default 300000. */
  maxTtlMs?: number;
  /** Longest delay between retries while lookups fail (they double from minTtlMs). Default 30000. */
  retryMaxMs?: number;
  /** Replaces the DNS query (tests, service registries). Default: resolve4/resolve6 with TTLs, falling back to getaddrinfo. */
  lookup?: (hostname: string) => Promise<DnsRecord[]>;
  /** Told about failed lookups (the last good list stays in use) and listeners that threw. Default: ignore. */
  onError?: (err: Error) => void;
  /** Default: the global setTimeout/clearTimeout; handles are unref'd when they can be. */
  timers?: Timers;
}

function invalid(name: string, why: string): never {
  throw new FaradError(ErrorCodes.INVALID_OPTION, `invalid option ${name}: ${why}`);
}

/** "host:port", with brackets around IPv6 so the key parses back unambiguously. */
export function endpointKey(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

// A DNS name or IPv4 literal: letters, digits, "-", "_" (SRV-style labels) and dots; a trailing dot (FQDN) is fine.
const HOSTNAME = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?\.?$/;

function validHost(host: string): string | undefined {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const lower = h.toLowerCase();
  if (lower.length === 0 || lower.length > 253) return undefined;
  if (lower.includes(":")) return isIP(lower) === 6 ? lower : undefined;
  return HOSTNAME.test(lower) ? lower : undefined;
}

function validPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** True for a weight a balancer accepts: a finite number >= 0. */
export function validWeight(weight: unknown): weight is number {
  return typeof weight === "number" && Number.isFinite(weight) && weight >= 0;
}

/** Validates one address; throws FARAD_ERR_INVALID_OPTION naming it and what is wrong. */
export function normalizeAddress(input: AddressInput, where = "endpoint"): NormalAddress {
  let host: string;
  let port: unknown;
  let weight: unknown = 1;
  if (typeof input === "string") {
    // The port is required: a balancer has no scheme to take a default from.
    const m = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(input);
    if (m === null) {
      const why = (input.match(/:/g)?.length ?? 0) > 1 && !input.startsWith("[")
        ? "IPv6 addresses need brackets, as in \"[::1]:8080\""
        : "expected \"host:port\"";
      invalid(where, `${JSON.stringify(input)}: ${why}`);
    }
    host = m[1]!;
    port = Number(m[2]);
  } else if (typeof input === "object" && input !== null) {
    if (typeof input.host !== "string") invalid(where, `host must be a string, got ${typeof input.host}`);
    host = input.host;
    port = input.port;
    if (input.weight !== undefined) weight = input.weight;
  } else {
    invalid(where, `expected "host:port" or { host, port, weight? }, got ${input === null ? "null" : typeof input}`);
  }
  const h = validHost(host);
  if (h === undefined) invalid(where, `bad host ${JSON.stringify(host)}`);
  if (!validPort(port)) invalid(where, `port must be an integer from 1 to 65535, got ${String(port)} (${JSON.stringify(input)})`);
  if (!validWeight(weight)) invalid(where, `weight must be a finite number >= 0, got ${String(weight)} (${JSON.stringify(input)})`);
  return { key: endpointKey(h, port), host: h, port, weight };
}

/** Validates a whole list: every entry, and no key twice. */
export function normalizeList(list: readonly AddressInput[], where: string, allowEmpty: boolean): NormalAddress[] {
  if (!Array.isArray(list)) invalid(where, "expected an array of addresses");
  if (list.length === 0 && !allowEmpty) invalid(where, "the endpoint list is empty");
  const out: NormalAddress[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const a = normalizeAddress(list[i]!, `${where}[${i}]`);
    if (seen.has(a.key)) invalid(`${where}[${i}]`, `duplicate endpoint ${a.key}`);
    seen.add(a.key);
    out.push(a);
  }
  return out;
}

function toAddresses(list: readonly NormalAddress[]): Address[] {
  return list.map((a) => ({ host: a.host, port: a.port, weight: a.weight }));
}

/** Identity of a list for change detection: keys and weights, in order. */
function signature(list: readonly NormalAddress[]): string {
  let s = "";
  for (const a of list) s += `${a.key}*${a.weight} `;
  return s;
}

/** A fixed list of addresses. Throws on an empty list, a bad entry or a duplicate. */
export function staticResolver(list: readonly AddressInput[]): StaticResolver {
  const first = normalizeList(list, "resolver", false);
  let current = toAddresses(first);
  let sig = signature(first);
  const listeners = new Set<(list: readonly Address[]) => void>();
  return {
    resolve: () => Promise.resolve(current.slice()),
    current: () => current,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    update(next) {
      const norm = normalizeList(next, "resolver", true);
      const s = signature(norm);
      if (s === sig) return;
      sig = s;
      current = toAddresses(norm);
      // Listener errors reach the caller of update(): it is the one who can act on them.
      for (const l of [...listeners]) l(current);
    },
    close() {
      listeners.clear();
    },
  };
}

const DNS_DEFAULTS = { family: 0, minTtlMs: 1000, maxTtlMs: 300_000, retryMaxMs: 30_000 } as const;
const MAX_TIMER_MS = 2 ** 31 - 1;

function msOption(o: Record<string, unknown>, name: string, dflt: number, min: number): number {
  const v = o[name];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > MAX_TIMER_MS) {
    invalid(name, `expected an integer from ${min} to ${MAX_TIMER_MS}, got ${String(v)}`);
  }
  return v;
}

const DNS_KEYS = new Set(["hostname", "port", "family", "minTtlMs", "maxTtlMs", "retryMaxMs", "lookup", "onError", "timers"]);

/**
 * Resolves `hostname` and refreshes the list when its TTL runs out, clamped
 * to [minTtlMs, maxTtlMs]. A failed or empty lookup keeps the last good list
 * and retries after minTtlMs, doubling up to retryMaxMs. Timers are unref'd,
 * so a resolver never holds the process open; close() stops them. An IP
 * literal hostname is used as it is, without lookups.
 */
export function dnsResolver(opts: DnsResolverOptions): Resolver {
  if (typeof opts !== "object" || opts === null) invalid("options", "expected an object");
  const o = opts as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!DNS_KEYS.has(k) && o[k] !== undefined) invalid(k, "unknown option");
  if (typeof opts.hostname !== "string" || validHost(opts.hostname) === undefined) {
    invalid("hostname", `expected a host name or IP address, got ${JSON.stringify(opts.hostname)}`);
  }
  if (!validPort(opts.port)) invalid("port", `expected an integer from 1 to 65535, got ${String(opts.port)}`);
  const family = opts.family ?? DNS_DEFAULTS.family;
  if (family !== 0 && family !== 4 && family !== 6) invalid("family", `expected 0, 4 or 6, got ${String(family)}`);
  const minTtlMs = msOption(o, "minTtlMs", DNS_DEFAULTS.minTtlMs, 1);
  const maxTtlMs = msOption(o, "maxTtlMs", Math.max(DNS_DEFAULTS.maxTtlMs, minTtlMs), minTtlMs);
  const retryMaxMs = msOption(o, "retryMaxMs", Math.max(DNS_DEFAULTS.retryMaxMs, minTtlMs), minTtlMs);
  for (const name of ["lookup", "onError"] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== "function") invalid(name, "expected a function");
  }
  const timers = opts.timers;
  if (timers !== undefined && (typeof timers?.setTimeout !== "function" || typeof timers.clearTimeout !== "function")) {
    invalid("timers", "expected { setTimeout, clearTimeout }");
  }
  return new DnsResolver(validHost(opts.hostname)!, opts.port, family, minTtlMs, maxTtlMs, retryMaxMs, opts.lookup, opts.onError, timers);
}

/** The default query: TTL-carrying A/AAAA lookups, and getaddrinfo for names only it knows (/etc/hosts: "localhost"). */
function systemLookup(family: 0 | 4 | 6, maxTtlMs: number): { lookup: (h: string) => Promise<DnsRecord[]>; cancel(): void } {
  // Its own channel, with a bounded timeout: a silent DNS server must not stall refreshes for c-ares' default ~20 s.
  const channel = new dnsPromises.Resolver({ timeout: 2000, tries: 2 });
  return {
    async lookup(hostname) {
      const queries: Promise<DnsRecord[]>[] = [];
      if (family !== 6) queries.push(channel.resolve4(hostname, { ttl: true }));
      if (family !== 4) queries.push(channel.resolve6(hostname, { ttl: true }));
      const settled = await Promise.allSettled(queries);
      const records: DnsRecord[] = [];
      for (const s of settled) if (s.status === "fulfilled") records.push(...s.value);
      if (records.length > 0) return records;
      const all = await dnsPromises.lookup(hostname, { all: true, family });
      return all.map((a) => ({ address: a.address, ttl: maxTtlMs / 1000 }));
    },
    cancel: () => channel.cancel(),
  };
}

class DnsResolver implements Resolver {
  readonly #hostname: string;
  readonly #port: number;
  readonly #family: 0 | 4 | 6;
  readonly #minTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #retryMaxMs: number;
  readonly #lookup: (hostname: string) => Promise<DnsRecord[]>;
  readonly #cancel: () => void;
  readonly #onError: ((err: Error) => void) | undefined;
  readonly #timers: Timers;
  readonly #listeners = new Set<(list: readonly Address[]) => void>();
  #list: Address[] | undefined;
  #sig = "";
  #timer: unknown;
  #failures = 0;
  #closed = false;
  #waiters: { resolve(list: Address[]): void; reject(err: Error): void }[] = [];

  constructor(
    hostname: string, port: number, family: 0 | 4 | 6, minTtlMs: number, maxTtlMs: number, retryMaxMs: number,
    lookup: DnsResolverOptions["lookup"], onError: DnsResolverOptions["onError"], timers: Timers | undefined,
  ) {
    this.#hostname = hostname;
    this.#port = port;
    this.#family = family;
    this.#minTtlMs = minTtlMs;
    this.#maxTtlMs = maxTtlMs;
    this.#retryMaxMs = retryMaxMs;
    this.#onError = onError;
    this.#timers = timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    if (lookup !== undefined) {
      this.#lookup = lookup;
      this.#cancel = () => {};
    } else {
      const sys = systemLookup(family, maxTtlMs);
      this.#lookup = sys.lookup;
      this.#cancel = sys.cancel;
    }
    const literal = isIP(hostname);
    if (literal !== 0) {
      // Nothing to look up or refresh.
      const only = [normalizeAddress({ host: hostname, port })];
      this.#sig = signature(only);
      this.#list = toAddresses(only);
      return;
    }
    void this.#refresh();
  }

  current(): readonly Address[] | undefined {
    return this.#list;
  }

  resolve(): Promise<Address[]> {
    if (this.#list !== undefined) return Promise.resolve(this.#list.slice());
    if (this.#closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  subscribe(listener: (list: readonly Address[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cancel();
    this.#listeners.clear();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(closedError());
  }

  async #refresh(): Promise<void> {
    this.#timer = undefined;
    let records: unknown;
    try {
      records = await this.#lookup(this.#hostname);
    } catch (err) {
      if (!this.#closed) this.#failed(err);
      return;
    }
    if (this.#closed) return;
    const found = this.#parse(records);
    if (found === undefined) {
      this.#failed(new Error(`no ${this.#family === 0 ? "" : `IPv${this.#family} `}addresses for ${this.#hostname}`));
      return;
    }
    this.#failures = 0;
    this.#schedule(Math.min(Math.max(found.ttlMs, this.#minTtlMs), this.#maxTtlMs));
    const sig = signature(found.list);
    const changed = sig !== this.#sig || this.#list === undefined;
    this.#sig = sig;
    if (changed) this.#list = toAddresses(found.list);
    const list = this.#list!;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(list.slice());
    if (changed) {
      for (const l of [...this.#listeners]) {
        try {
          l(list);
        } catch (err) {
          this.#report(err);
        }
      }
    }
  }

  /** Usable addresses of an answer, sorted (servers rotate record order; that is no change), and the smallest TTL in ms. */
  #parse(records: unknown): { list: NormalAddress[]; ttlMs: number } | undefined {
    if (!Array.isArray(records)) return undefined;
    const byKey = new Map<string, NormalAddress>();
    let ttl = Infinity;
    for (const r of records as DnsRecord[]) {
      const address = typeof r?.address === "string" ? r.address : "";
      const fam = isIP(address);
      if (fam === 0 || (this.#family !== 0 && fam !== this.#family)) continue;
      const a = normalizeAddress({ host: address, port: this.#port });
      byKey.set(a.key, a);
      // A missing or nonsensical TTL counts as 0: refresh as soon as allowed.
      const t = typeof r.ttl === "number" && r.ttl > 0 ? r.ttl : 0;
      if (t < ttl) ttl = t;
    }
    if (byKey.size === 0) return undefined;
    const list = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { list, ttlMs: ttl * 1000 };
  }

  #failed(cause: unknown): void {
    this.#failures++;
    const delay = Math.min(this.#minTtlMs * 2 ** (this.#failures - 1), this.#retryMaxMs);
    this.#schedule(delay);
    const err = new FaradError(ResolveErrorCodes.RESOLVE, `resolving ${this.#hostname} failed (retry in ${delay} ms)`, { cause });
    if (this.#list === undefined) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.reject(err);
    }
    this.#report(err);
  }

  #report(err: unknown): void {
    if (this.#onError === undefined) return;
    try {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A throwing error hook must not stop the refresh loop.
    }
  }

  #schedule(ms: number): void {
    const t = this.#timers.setTimeout(() => void this.#refresh(), ms);
    (t as { unref?: () => void } | null)?.unref?.();
    this.#timer = t;
  }
}

function closedError(): FaradError {
  return new FaradError(ResolveErrorCodes.RESOLVER_CLOSED, "the resolver was closed");
}
