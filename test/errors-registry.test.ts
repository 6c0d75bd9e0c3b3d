/**
 * One registry of error codes, all documented: every FARAD_ERR_* in src/
 * and native/ is explained in docs/errors.md (and nothing stale is), the
 * server side's codes are all in ErrorCodes, and the per-module lists
 * (BindErrorCodes, MultipartErrorCodes, the router's) draw from it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BalanceErrorCodes, BindErrorCodes, ClientErrorCodes, ErrorCodes, MultipartErrorCodes, ResolveErrorCodes } from "../src/index.js";
import { ERR_ROUTE_CONFLICT, ERR_ROUTE_INVALID, ERR_ROUTE_METHOD_INVALID, ERR_ROUTE_OPTION_INVALID } from "../src/route/errors.js";

const CODE = /FARAD_ERR_[A-Z0-9_]+/g;

/** The repository root: the nearest directory up from this file with farad's package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "farad" && existsSync(join(dir, "docs", "errors.md"))) {
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no farad checkout above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

const root = repoRoot();

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (/\.(ts|cc|h|c|cpp|hpp)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Code -> the files (relative to the root) that mention it. */
function codesIn(...dirs: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const d of dirs) {
    for (const f of filesUnder(join(root, d))) {
      for (const code of new Set(readFileSync(f, "utf8").match(CODE) ?? [])) {
        const where = found.get(code) ?? [];
        where.push(relative(root, f));
        found.set(code, where);
      }
    }
  }
  return found;
}

const used = codesIn("src", "native");
const documented = new Set([...readFileSync(join(root, "docs", "errors.md"), "utf8").matchAll(/`(FARAD_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!));

test("the scan finds the codes it should (a sanity check of the scan itself)", () => {
  for (const code of ["FARAD_ERR_CONTEXT_RELEASED", "FARAD_ERR_BAD_METHOD", "FARAD_ERR_CONNECT", "FARAD_ERR_DESTROYED"]) assert.ok(used.has(code), code);
  assert.ok(used.size > 60, `${used.size} codes found`);
});

test("every FARAD_ERR_* code in src/ and native/ is documented in docs/errors.md", () => {
  const missing = [...used].filter(([code]) => !documented.has(code)).map(([code, where]) => `${code} (${where.join(", ")})`);
  assert.equal(missing, [], `not in docs/errors.md: ${missing.join("; ")}`);
});

test("docs/errors.md documents no code that src/ and native/ do not use", () => {
  const stale = [...documented].filter((code) => !used.has(code));
  assert.equal(stale, [], `documented but unused: ${stale.join(", ")}`);
});

test("every code the server side mentions is in ErrorCodes; the module lists draw from it", () => {
  const registry = new Set<string>(Object.values(ErrorCodes));
  const server = codesIn("src/app", "src/route", "src/common", "src/transport");
  const outside = [...server].filter(([code]) => !registry.has(code)).map(([code, where]) => `${code} (${where.join(", ")})`);
  assert.equal(outside, [], `not in ErrorCodes: ${outside.join("; ")}`);
  const modules = [...Object.values(BindErrorCodes), ...Object.values(MultipartErrorCodes), ERR_ROUTE_INVALID, ERR_ROUTE_CONFLICT, ERR_ROUTE_METHOD_INVALID, ERR_ROUTE_OPTION_INVALID];
  for (const code of modules) assert.ok(registry.has(code), `${code} is in ErrorCodes`);
  assert.is(registry.size, Object.values(ErrorCodes).length, "no code twice in ErrorCodes");
});

test("every code of every registry (server, client, balancer, resolver) is documented", () => {
  const all = [ErrorCodes, ClientErrorCodes, BalanceErrorCodes, ResolveErrorCodes].flatMap((r) => Object.values(r) as string[]);
  const missing = all.filter((code) => !documented.has(code));
  assert.equal(missing, [], `registry codes not in docs/errors.md: ${missing.join(", ")}`);
});

test.run();
