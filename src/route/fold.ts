import type { Node } from "./node.js";

/**
 * The slow path behind redirectFixedPath: clean the path, then look it up
 * ignoring ASCII case, and build the path of the route that matched. Runs
 * only after a miss, so it may allocate.
 */

/**
 * Canonical form of a URL path, as Go's path.Clean and httprouter's CleanPath:
 * runs of '/' become one, '.' segments go, '..' removes the segment before it
 * (never climbing above the root). A trailing slash is kept, and a final '.'
 * or '..' leaves one. The result begins with '/'.
 */
export function cleanPath(p: string): string {
  if (p.length === 0) return "/";
  const out: string[] = [];
  const segs = p.split("/");
  for (const s of segs) {
    if (s === "" || s === ".") continue;
    if (s === "..") { out.pop(); continue; }
    out.push(s);
  }
  let r = "/" + out.join("/");
  const last = segs[segs.length - 1];
  if (r.length > 1 && (last === "" || last === "." || last === "..")) r += "/";
  return r;
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

function latin1(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("latin1");
}

function walk<R>(node: Node<R>, b: Uint8Array, pos: number, end: number, acc: string[]): boolean {
  if (pos === end) return node.route !== null || node.catchAll !== null;
  const c = lower(b[pos]!);
  for (let k = 0; k < node.children.length; k++) {
    if (lower(node.indices[k]!) !== c) continue;
    const child = node.children[k]!;
    const p = child.prefix;
    if (pos + p.length > end) continue;
    let i = 1;
    while (i < p.length && lower(b[pos + i]!) === lower(p[i]!)) i++;
    if (i < p.length) continue;
    acc.push(latin1(p, 0, p.length));
    if (walk(child, b, pos + p.length, end, acc)) return true;
    acc.pop();
  }
  if (node.param !== null) {
    let i = pos;
    while (i < end && b[i] !== 0x2f) i++;
    if (i > pos) {
      acc.push(latin1(b, pos, i));
      if (walk(node.param, b, i, end, acc)) return true;
      acc.pop();
    }
  }
  if (node.catchAll !== null) {
    acc.push(latin1(b, pos, end));
    return true;
  }
  return false;
}

/**
 * The path, with the letters of its static parts in the case they were
 * registered in, of a route matching `path` case-insensitively; null if none.
 * Param and catch-all values keep the request's bytes.
 */
export function findCaseInsensitive<R>(root: Node<R>, path: Uint8Array): string | null {
  const acc: string[] = [];
  return walk(root, path, 0, path.length, acc) ? acc.join("") : null;
}
