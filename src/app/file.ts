/**
 * ctx.file(): a file as the response body, sent by the reactor with
 * sendfile(2) (no file bytes pass through JavaScript), with single byte
 * ranges (RFC 9110 §14), conditional requests (§13: ETag, Last-Modified,
 * 304, 412, If-Range), HEAD, a Content-Type from the extension, and
 * Content-Disposition for downloads.
 */
import { open } from "node:fs/promises";
import { basename, extname } from "node:path";
import { ErrorCodes, FaradError, HttpError } from "../common/errors.js";
import type { RequestContext } from "./context.js";
import { ifMatchPasses, modifiedSinceFresh, noneMatchFresh } from "./etag.js";
import { endWithFile, flushHeaders } from "./streaming.js";

export interface FileOptions {
  /** Content-Type; default: from the file name's extension (application/octet-stream if unknown). */
  contentType?: string;
  /** Send Content-Disposition: attachment, with this file name (true: the file's own name). Default false. */
  download?: boolean | string;
  /** Send an ETag (from size and modification time) and answer If-None-Match / If-Match / If-Range. Default true. */
  etag?: boolean;
  /** Send Last-Modified and answer If-Modified-Since / If-Unmodified-Since. Default true. */
  lastModified?: boolean;
  /** Honour a single Range (206 / 416) and say Accept-Ranges: bytes. Default true. */
  ranges?: boolean;
  /** Cache-Control: max-age in seconds (omitted when undefined). */
  maxAge?: number;
  /** Add `immutable` to Cache-Control (with maxAge). Default false. */
  immutable?: boolean;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".xml": "application/xml; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".wasm": "application/wasm",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".wav": "audio/wav",
};

/** The Content-Type farad uses for a file name. */
export function contentTypeOf(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/** One "bytes=a-b" range resolved against `size`: [start, end] inclusive, "unsatisfiable", or null (ignore the header). */
export function parseRange(header: string, size: number): [number, number] | "unsatisfiable" | null {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  // Several ranges, or other units: served whole (a server may ignore Range, RFC 9110 §14.2).
  if (m === null) return null;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === "" && b === "") return null;
  if (a === "") {
    // The last b bytes.
    const n = Number(b);
    if (n === 0) return "unsatisfiable";
    // An empty file has no last bytes to select, and "bytes 0--1/0" is no
    // Content-Range: serve it whole (RFC 9110 §14.2 lets a server ignore Range).
    if (size === 0) return null;
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(a);
  if (start >= size) return "unsatisfiable";
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return null;
  return [start, end];
}

function disposition(name: string): string {
  // RFC 6266: a plain ASCII fallback and the UTF-8 form.
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return fallback === name ? `attachment; filename="${name}"` : `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export async function sendFile(ctx: RequestContext, path: string, options: FileOptions = {}): Promise<void> {
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw new FaradError(ErrorCodes.INVALID_OPTION, "file(path): expected a non-empty path without NUL");
  }
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new HttpError(404, "Not Found", { cause: e });
    if (code === "EACCES" || code === "EPERM") throw new HttpError(403, "Forbidden", { cause: e });
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new HttpError(404, "Not Found");
    const size = st.size;
    // Strong validator from size and mtime (what nginx sends), so If-Range works.
    const etag = options.etag === false ? undefined : `"${Math.floor(st.mtimeMs).toString(16)}-${size.toString(16)}"`;
    const lastModified = options.lastModified === false ? undefined : st.mtime.toUTCString();
    const ranges = options.ranges !== false;
    const get = ctx._methodCode === 1 || ctx._methodCode === 2;

    if (etag !== undefined) ctx.setHeader("ETag", etag);
    if (lastModified !== undefined) ctx.setHeader("Last-Modified", lastModified);
    if (ranges) ctx.setHeader("Accept-Ranges", "bytes");
    if (options.maxAge !== undefined) {
      ctx.setHeader("Cache-Control", `max-age=${Math.max(0, Math.floor(options.maxAge))}${options.immutable ? ", immutable" : ""}`);
    }
    ctx.setHeader("Content-Type", options.contentType ?? contentTypeOf(path));
    if (options.download) ctx.setHeader("Content-Disposition", disposition(typeof options.download === "string" ? options.download : basename(path)));

    // Preconditions, in the order of RFC 9110 §13.2.2.
    const ifMatch = ctx.header("if-match");
    if (ifMatch !== undefined && !ifMatchPasses(ifMatch, etag)) {
      return answerNoBody(ctx, 412);
    }
    const ifUnmodified = ctx.header("if-unmodified-since");
    if (ifMatch === undefined && ifUnmodified !== undefined && lastModified !== undefined) {
      const t = Date.parse(ifUnmodified);
      if (!Number.isNaN(t) && Math.floor(st.mtimeMs / 1000) * 1000 > t) return answerNoBody(ctx, 412);
    }
    const ifNoneMatch = ctx.header("if-none-match");
    // If-None-Match on a method other than GET/HEAD fails with 412 (RFC 9110 §13.1.2).
    if (!get && ifNoneMatch !== undefined && noneMatchFresh(ifNoneMatch, etag)) return answerNoBody(ctx, 412);
    if (get && ifNoneMatch !== undefined ? noneMatchFresh(ifNoneMatch, etag) : get && lastModified !== undefined && modifiedSinceFresh(ctx.header("if-modified-since") ?? "", lastModified)) {
      return answerNoBody(ctx, 304);
    }

    let start = 0;
    let length = size;
    let status = 200;
    const range = ranges && ctx._methodCode === 1 ? ctx.header("range") : undefined;
    if (range !== undefined && ifRangeHolds(ctx.header("if-range"), etag, lastModified)) {
      const r = parseRange(range, size);
      if (r === "unsatisfiable") {
        ctx.setHeader("Content-Range", `bytes */${size}`);
        return answerNoBody(ctx, 416);
      }
      if (r !== null) {
        start = r[0];
        length = r[1] - r[0] + 1;
        status = 206;
        ctx.setHeader("Content-Range", `bytes ${r[0]}-${r[1]}/${size}`);
      }
    }
    ctx.status(status);
    ctx.setHeader("Content-Length", String(length));
    flushHeaders(ctx);
    endWithFile(ctx, fh.fd, start, ctx._methodCode === 2 ? 0 : length);
  } finally {
    // The reactor holds its own duplicate of the descriptor.
    await fh.close();
  }
}

/** If-Range (RFC 9110 §13.1.5): the range applies only if the validator still matches (strong comparison). */
function ifRangeHolds(ifRange: string | undefined, etag: string | undefined, lastModified: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith("W/")) return etag !== undefined && v === etag;
  return lastModified !== undefined && v === lastModified;
}

function answerNoBody(ctx: RequestContext, status: number): void {
  ctx.status(status);
  ctx._body = null;
}
