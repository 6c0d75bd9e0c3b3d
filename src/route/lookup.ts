import type { Node } from "./node.js";

/** Where a lookup writes how many param slots the matched route filled. */
export interface ParamSink {
  params: Int32Array;
  count: number;
  /**
   * Set (never cleared) by a walk that ran out of path bytes at some node
   * without finding a route there: only then can the path with a '/' appended
   * match, so the trailing-slash probe is skipped when it stays false.
   */
  reachedEnd: boolean;
}

const SLASH = 0x2f;

/**
 * Finds the route for the path bytes buf[pos, end) below `node`, whose own
 * prefix has already been matched up to `pos`. `n` is the number of params
 * already captured on the way down.
 *
 * Priority at every node: static child, then `:param`, then `*catchAll`.
 * When a branch fails deeper down, the walk comes back and tries the next
 * alternative at this node, so a route is found whenever any route matches,
 * and which one is found depends only on the set of routes, never on the
 * order they were added. A node with no alternative to return to is left by
 * `continue` instead of a recursive call, so static chains cost no frames.
 *
 * Param values go to sink.params as [start, end) byte offsets; a branch that
 * fails may leave stale slots past the winner's count, which callers ignore.
 * No allocation.
 */
export function lookup<R>(node: Node<R>, buf: Uint8Array, pos: number, end: number, sink: ParamSink, n: number): R | null {
  const params = sink.params;
  for (;;) {
    if (pos === end) {
      if (node.route !== null) { sink.count = n; return node.route; }
      const all = node.catchAll;
      if (all !== null) {
        params[2 * n] = pos;
        params[2 * n + 1] = pos;
        sink.count = n + 1;
        return all.route;
      }
      sink.reachedEnd = true;
      return null;
    }
    const param = node.param;
    const all = node.catchAll;
    const c = buf[pos]!;
    const idx = node.indices;
    let k = 0;
    while (k < idx.length && idx[k] !== c) k++;
    if (k < idx.length) {
      const child = node.children[k]!;
      const p = child.prefix;
      const len = p.length;
      if (pos + len <= end) {
        let i = 1;
        while (i < len && buf[pos + i] === p[i]) i++;
        if (i === len) {
          if (param === null && all === null) { node = child; pos += len; continue; }
          const r = lookup(child, buf, pos + len, end, sink, n);
          if (r !== null) return r;
        }
      } else {
        sink.reachedEnd = true;
      }
    }
    if (param !== null) {
      let i = pos;
      while (i < end && buf[i] !== SLASH) i++;
      if (i > pos) {
        params[2 * n] = pos;
        params[2 * n + 1] = i;
        if (all === null) { node = param; pos = i; n++; continue; }
        const r = lookup(param, buf, i, end, sink, n + 1);
        if (r !== null) return r;
      }
    }
    if (all !== null) {
      params[2 * n] = pos;
      params[2 * n + 1] = end;
      sink.count = n + 1;
      return all.route;
    }
    return null;
  }
}
