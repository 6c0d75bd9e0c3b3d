/**
 * Access logging. It is a Tracer rather than a middleware so it logs what
 * was actually sent (a thrown error's final status included) and the
 * engine's timings; install it with `app.tracer(accessLog())`. Lines are
 * buffered and written once per event-loop turn, not once per request.
 */
import type { RequestContext } from "./context.js";
import type { Tracer } from "./server.js";

export interface AccessLogEntry {
  /** When the request's head was first read (epoch ms). */
  time: number;
  method: string;
  /** The request target as sent. */
  url: string;
  /** The matched route template ("" for none). */
  route: string;
  status: number;
  /** From the first byte read to the response handed to the reactor, in ms. */
  durationMs: number;
  remoteAddress: string;
  userAgent: string;
  referer: string;
}

export interface AccessLogOptions {
  /** "json" (one object per line, the default), "combined" (Apache/nginx), or a function. */
  format?: "json" | "combined" | ((e: AccessLogEntry) => string);
  /** Receives the text of one or more lines (each ends in "\n"). Default: process.stdout.write. */
  write?: (text: string) => void;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function clfTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function combined(e: AccessLogEntry): string {
  const q = (s: string): string => (s ? JSON.stringify(s) : '"-"');
  return `${e.remoteAddress || "-"} - - [${clfTime(e.time)}] ${JSON.stringify(`${e.method} ${e.url} HTTP/1.1`)} ${e.status} - ${q(e.referer)} ${q(e.userAgent)} ${e.durationMs.toFixed(3)}`;
}

export function accessLog(options: AccessLogOptions = {}): Tracer {
  const fmt = options.format ?? "json";
  const format = typeof fmt === "function" ? fmt : fmt === "combined" ? combined : fmt === "json" ? (e: AccessLogEntry) => JSON.stringify(e) : null;
  if (format === null) throw new TypeError('accessLog format must be "json", "combined" or a function');
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  // performance.now() + this = epoch ms
  const origin = performance.timeOrigin;
  let buffered = "";
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const text = buffered;
    buffered = "";
    if (text) write(text);
  };
  return {
    start() {},
    finish(ctx: RequestContext) {
      const t = ctx.timings;
      const start = t ? t.readStart : performance.now();
      const end = t && !Number.isNaN(t.writeDone) ? t.writeDone : performance.now();
      const entry: AccessLogEntry = {
        time: Math.round(origin + start),
        method: ctx.method,
        url: ctx.url,
        route: ctx.fullPath,
        status: ctx.statusCode,
        durationMs: Math.max(0, end - start),
        remoteAddress: ctx.remoteAddress,
        userAgent: ctx.header("user-agent") ?? "",
        referer: ctx.header("referer") ?? "",
      };
      buffered += format(entry) + "\n";
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}
