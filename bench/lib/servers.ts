import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { faradEntry, repoRoot, serversDir } from './paths.js'

export interface ServerSpec {
  /** Name used by --only. */
  name: string
  /** Name printed in tables. */
  label: string
  /** Compiled program: listens on $PORT, prints "ready", exits on SIGTERM. */
  script: string
  /** Resolves to undefined if the server can run here, else the reason it cannot. */
  unavailable(): Promise<string | undefined>
  /** Run only when named in --only (experiments, not peers). */
  onRequest?: boolean
}

/** Runs `code` as an ES module in a fresh node; resolves to its exit code. */
function probeModule(code: string): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, timeout: 20_000 }, (err) => {
      resolve(err === null ? 0 : typeof err.code === 'number' ? err.code : 1)
    })
  })
}

function resolvable(pkg: string): Promise<string | undefined> {
  return probeModule(`await import(${JSON.stringify(pkg)})`).then((code) =>
    code === 0 ? undefined : `package "${pkg}" is not installed`)
}

/** node:http is the baseline every ratio is taken against. */
export const BASELINE = 'node'

export const servers: readonly ServerSpec[] = [
  {
    name: 'farad',
    label: 'farad',
    script: join(serversDir, 'farad.js'),
    async unavailable() {
      if (!existsSync(faradEntry)) return `${faradEntry} is not built (npm run build)`
      // In a child: loading the addon must not be able to take the harness down.
      const url = JSON.stringify(pathToFileURL(faradEntry).href)
      const code = await probeModule(`const m = await import(${url}); process.exit(typeof m.Server === 'function' ? 0 : 3)`)
      if (code === 3) return 'src/index.ts does not export Server yet'
      return code === 0 ? undefined : `importing dist/src/index.js failed (exit ${code})`
    },
  },
  {
    // farad with one request per call into JS: the boundary experiment
    // of docs/boundary.md.
    name: 'farad-batch1',
    label: 'farad b=1',
    script: join(serversDir, 'farad-batch1.js'),
    onRequest: true,
    async unavailable() { return existsSync(faradEntry) ? undefined : `${faradEntry} is not built (npm run build)` },
  },
  {
    name: 'node',
    label: 'node:http',
    script: join(serversDir, 'node-http.js'),
    async unavailable() { return undefined },
  },
  {
    name: 'fastify',
    label: 'fastify',
    script: join(serversDir, 'fastify.js'),
    unavailable: () => resolvable('fastify'),
  },
]
