#!/usr/bin/env node
// pretest: build what is missing so `npm test` works right after a clone
// and an install: the addon (node-gyp) when build/Release has none and no
// prebuild matches, and the TypeScript (tsc, incremental enough to be quick).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

let haveAddon = true;
try {
  require("node-gyp-build")(root);
} catch {
  haveAddon = false;
}
if (!haveAddon || !existsSync(join(root, "build", "Release", "farad.node"))) {
  if (!haveAddon) console.log("farad: native addon missing, building it (node-gyp rebuild)");
  if (!haveAddon) run("npx", ["node-gyp", "rebuild"]);
}
run("npx", ["tsc", "-p", "tsconfig.json"]);
