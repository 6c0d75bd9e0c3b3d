/**
 * Table helpers shared by the route*.test.ts files. Every table is registered
 * in forward and in reverse order, and every case must give the same outcome
 * in both: a lookup's result must not depend on registration order.
 */
import * as assert from "uvu/assert";
import { MatchKind, Router, type RouterOptions } from "../src/route/index.js";

export type RouteRow = [method: string, path: string];

export type Expect =
  | { route: string; params?: Record<string, string> }
  | { redirect: string; status: number }
  | { allow: string }
  | null;

export type Case = [method: string, url: string, expect: Expect];

export function build(routes: readonly RouteRow[], options?: RouterOptions, reverse = false): Router<string> {
  const router = new Router<string>(options);
  const rows = reverse ? routes.slice().reverse() : routes;
  for (const [m, p] of rows) router.addRoute(m, p, [`${m} ${p}`]);
  return router;
}

/** A printable summary of one lookup, for comparing runs. */
export function outcome(router: Router<string>, method: string, url: string): string {
  const m = router.findString(method, url);
  switch (m.kind) {
    case MatchKind.FOUND: return `FOUND ${m.route!.fullPath} ${JSON.stringify(router.params(m))}`;
    case MatchKind.REDIRECT: return `REDIRECT ${m.status} ${m.location}`;
    case MatchKind.METHOD_NOT_ALLOWED: return `405 ${m.allow}`;
    default: return "NOT_FOUND";
  }
}

function expected(e: Expect): string {
  if (e === null) return "NOT_FOUND";
  if ("route" in e) return `FOUND ${e.route} ${JSON.stringify(e.params ?? {})}`;
  if ("redirect" in e) return `REDIRECT ${e.status} ${e.redirect}`;
  return `405 ${e.allow}`;
}

/** Checks every case against the table registered forward and reversed. */
export function checkTable(routes: readonly RouteRow[], cases: readonly Case[], options?: RouterOptions): void {
  for (const reverse of [false, true]) {
    const router = build(routes, options, reverse);
    for (const [method, url, e] of cases) {
      assert.is(outcome(router, method, url), expected(e), `${method} ${url} (${reverse ? "reverse" : "forward"} order)`);
    }
  }
}

/** Runs fn and returns the error it throws (fails if it does not throw). */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.unreachable("expected an error");
  throw new Error("unreachable");
}
