/**
 * serveStatic(): the files under one directory, answered with ctx.file()
 * (sendfile from the reactor, ranges, conditional requests, HEAD).
 *
 * The request path is decoded here, once and strictly, and refused unless it
 * names something below the root: no "." or ".." segment, no empty segment,
 * no backslash, no encoded "/" or "\", no NUL, no percent-escape left after
 * decoding (double encoding), valid UTF-8 only. By default a symlink is
 * followed only if its real path stays inside the root's real path. A
 * refused path is answered exactly like a missing file, so nothing tells a
 * client whether something exists outside the root. docs/streaming.md lists
 * the rules and every option.
 */
import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { ErrorCodes, FaradError, HttpError } from "../common/errors.js";
import { METHOD_GET, METHOD_HEAD } from "../route/index.js";
import type { Handler, RequestContext } from "./context.js";
import { contentTypeOf, type FileOptions } from "./file.js";

export interface StaticOptions {
  /**
   * The URL prefix the middleware is mounted at (`"/static"`): stripped from
   * the request path before it is looked up under root; a request outside
   * the prefix is not ours and goes to the next handler. Default: none; then
   * a route ending in a catch-all (`/static/*path`) serves its catch-all
   * value, and anywhere else (app.use) the whole request path is used.
   */
  prefix?: string;
  /** File names tried, in order, for a directory; false: none. Default ["index.html"]. */
  index?: string | readonly string[] | false;
  /** Paths with a segment starting with ".": "ignore" (as if missing), "deny" (403) or "allow". Default "ignore". */
  dotfiles?: "ignore" | "deny" | "allow";
  /** Follow symlinks wherever they lead. Default false: a symlink is served only if its real path is inside the root. */
  followSymlinks?: boolean;
  /** A miss (or a method other than GET and HEAD) runs the next handler; false: 404 (405 with Allow). Default true. */
  fallthrough?: boolean;
  /** A directory requested without its trailing slash redirects (301) to it when it has an index file. Default true. */
  redirect?: boolean;
  /** Cache-Control max-age in seconds. Default 0 (caches revalidate, which the ETag makes cheap). */
  maxAge?: number;
  /** Add `immutable` to Cache-Control. Default false. */
  immutable?: boolean;
  /** Send ETag and answer If-None-Match / If-Match / If-Range. Default true. */
  etag?: boolean;
  /** Send Last-Modified and answer If-Modified-Since / If-Unmodified-Since. Default true. */
  lastModified?: boolean;
  /** Honour single Range requests. Default true. */
  ranges?: boolean;
}

interface Resolved {
  root: string;
  prefix: string | null;
  index: readonly string[];
  dotfiles: "ignore" | "deny" | "allow";
  followSymlinks: boolean;
  fallthrough: boolean;
  redirect: boolean;
  file: FileOptions;
}

function invalid(message: string): never {
  throw new FaradError(ErrorCodes.INVALID_OPTION, `serveStatic: ${message}`);
}

function resolveOptions(root: string, o: StaticOptions): Resolved {
  if (typeof root !== "string" || root.length === 0 || root.includes("\0")) invalid("root must be a non-empty path");
  if (typeof o !== "object" || o === null) invalid("options must be an object");
  let prefix: string | null = null;
  if (o.prefix !== undefined) {
    if (typeof o.prefix !== "string" || (o.prefix !== "" && !o.prefix.startsWith("/"))) invalid("prefix must begin with /");
    prefix = o.prefix.replace(/\/+$/, "");
  }
  let index: readonly string[];
  if (o.index === undefined) index = ["index.html"];
  else if (o.index === false) index = [];
  else {
    index = typeof o.index === "string" ? [o.index] : o.index;
    if (!Array.isArray(index)) invalid("index must be a file name, a list of them, or false");
    for (const name of index) {
      if (typeof name !== "string" || name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) invalid(`invalid index file name ${JSON.stringify(name)}`);
    }
  }
  const dotfiles = o.dotfiles ?? "ignore";
  if (dotfiles !== "ignore" && dotfiles !== "deny" && dotfiles !== "allow") invalid('dotfiles must be "ignore", "deny" or "allow"');
  const maxAge = o.maxAge ?? 0;
  if (typeof maxAge !== "number" || !(maxAge >= 0)) invalid("maxAge must be a number of seconds >= 0");
  for (const k of ["followSymlinks", "fallthrough", "redirect", "immutable", "etag", "lastModified", "ranges"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "boolean") invalid(`${k} must be a boolean`);
  }
  return {
    root: resolve(root),
    prefix,
    index,
    dotfiles,
    followSymlinks: o.followSymlinks === true,
    fallthrough: o.fallthrough !== false,
    redirect: o.redirect !== false,
    file: {
      maxAge,
      immutable: o.immutable === true,
      etag: o.etag !== false,
      lastModified: o.lastModified !== false,
      ranges: o.ranges !== false,
    },
  };
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The segments of a raw (percent-encoded, latin1) path below the root, or
 * null if it is refused. The path is decoded exactly once.
 */
export function pathSegments(raw: string): string[] | null {
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    let c = raw.charCodeAt(i);
    if (c === 0x25) {
      const h = hex(raw.charCodeAt(i + 1));
      const l = hex(raw.charCodeAt(i + 2));
      if (h < 0 || l < 0) return null;
      c = (h << 4) | l;
      // An encoded separator would change which segments the path has.
      if (c === 0x2f) return null;
      i += 2;
    }
    // Backslash is a separator on Windows; NUL ends a path in C.
    if (c === 0x5c || c === 0x00 || c > 0xff) return null;
    bytes[n++] = c;
  }
  let path: string;
  try {
    path = utf8.decode(bytes.subarray(0, n));
  } catch {
    return null;
  }
  // Left-over escapes mean the path was encoded twice (%252e): whatever
  // decodes it again would see something else than we checked.
  if (/%[0-9a-fA-F]{2}/.test(path)) return null;
  if (path.startsWith("/")) path = path.slice(1);
  if (path === "") return [];
  if (path.endsWith("/")) path = path.slice(0, -1);
  const segments = path.split("/");
  for (const s of segments) if (s === "" || s === "." || s === "..") return null;
  return segments;
}

const CATCH_ALL = /\/\*[A-Za-z0-9_-]+$/;

/** The raw bytes (latin1) of the route's catch-all value, as sent. */
function rawCatchAll(ctx: RequestContext): string | null {
  const route = ctx._route;
  ctx._ownParams();
  const p = ctx._params;
  if (route === null || p === null || !CATCH_ALL.test(route.fullPath)) return null;
  const i = route.paramNames.length - 1;
  const base = ctx._paramBuf === null ? ctx._base : 0;
  const buf = ctx._paramBuf ?? ctx._buf;
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("latin1", p[2 * i]! - base, p[2 * i + 1]! - base);
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
}

/** Errors that mean "not there" for a path a client chose. */
function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG" || code === "ELOOP" || code === "EACCES" || code === "EPERM" || code === "EINVAL";
}

/**
 * Middleware serving the files under `root` (see StaticOptions and
 * docs/streaming.md). Use it globally (`app.use(serveStatic("public"))`),
 * on a catch-all route (`app.get("/assets/*path", serveStatic("public"))`)
 * or with a prefix (`app.use(serveStatic("public", { prefix: "/assets" }))`).
 */
export function serveStatic(root: string, options: StaticOptions = {}): Handler {
  const o = resolveOptions(root, options);
  let realRoot: Promise<string> | null = null;
  const rootReal = (): Promise<string> => {
    // Kept once it succeeds; a root that does not exist yet is looked up again next time.
    realRoot ??= realpath(o.root).catch((e: unknown) => {
      realRoot = null;
      throw e;
    });
    return realRoot;
  };

  /** The path to open if `path` may be served, else null. */
  const admit = async (path: string): Promise<string | null> => {
    if (!inside(path, o.root)) return null;
    if (o.followSymlinks) return path;
    try {
      const [real, top] = await Promise.all([realpath(path), rootReal()]);
      return inside(real, top) ? real : null;
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  };

  const middleware: Handler = async (ctx) => {
    const miss = (): Promise<void> | void => {
      // Last in its chain, there is nobody to fall through to.
      if (o.fallthrough && ctx._index + 1 < ctx._handlers.length) return ctx.next();
      ctx.abort();
      throw new HttpError(404, "Not Found");
    };
    const path = ctx.path;
    let raw: string;
    if (o.prefix !== null) {
      if (path === o.prefix) raw = "";
      else if (path.startsWith(o.prefix + "/")) raw = path.slice(o.prefix.length);
      else return ctx._index + 1 < ctx._handlers.length ? ctx.next() : miss();
    } else {
      const own = ctx._route !== null && ctx._route.handlers.includes(middleware);
      raw = (own ? rawCatchAll(ctx) : null) ?? path;
    }
    const method = ctx._methodCode;
    if (method !== METHOD_GET && method !== METHOD_HEAD) {
      if (o.fallthrough) return ctx._index + 1 < ctx._handlers.length ? ctx.next() : miss();
      ctx.abort();
      ctx.setHeader("Allow", "GET, HEAD");
      ctx.string(405, "Method Not Allowed");
      return;
    }
    const segments = pathSegments(raw);
    if (segments === null) return miss();
    if (o.dotfiles !== "allow" && segments.some((s) => s.startsWith("."))) {
      if (o.dotfiles === "ignore") return miss();
      ctx.abort();
      throw new HttpError(403, "Forbidden");
    }
    const slash = path.endsWith("/");
    const target = join(o.root, ...segments);
    const st = await statOrNull(target);
    if (st === null) return miss();
    let file: string | null = null;
    let name = target;
    if (st.isDirectory()) {
      for (const index of o.index) {
        const candidate = join(target, index);
        const ist = await statOrNull(candidate);
        if (ist === null || !ist.isFile()) continue;
        file = await admit(candidate);
        if (file !== null) {
          name = candidate;
          break;
        }
      }
      if (file === null) return miss();
      if (!slash) {
        // A protocol-relative Location ("//host/") would send the client elsewhere.
        if (!o.redirect || path.startsWith("//")) return miss();
        const url = ctx.url;
        const q = url.indexOf("?");
        ctx.abort();
        ctx.redirect(301, path + "/" + (q < 0 ? "" : url.slice(q)));
        return;
      }
    } else {
      // Not a regular file (a FIFO would block open()), or "file/" asked as a directory.
      if (!st.isFile() || slash) return miss();
      file = await admit(target);
      if (file === null) return miss();
    }
    ctx.abort();
    await ctx.file(file, { ...o.file, contentType: contentTypeOf(name) });
  };
  return middleware;
}
