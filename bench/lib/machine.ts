import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { repoRoot } from './paths.js'

export interface Machine {
  date: string
  nproc: number
  cpuModel: string
  kernel: string
  node: string
  wrk: string
  git: string
  command: string
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (err) {
    // wrk --version prints its banner and exits 1.
    const out = (err as { stdout?: string }).stdout
    return typeof out === 'string' ? out.trim() : ''
  }
}

/** The command as the user typed it, near enough to paste back. */
function commandLine(args: readonly string[]): string {
  const quoted = args.map((a) => (/^[\w,=./:-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${quoted ? ` -- ${quoted}` : ''}`
  return `node dist/bench/run.js${quoted ? ` ${quoted}` : ''}`
}

export function describeMachine(args: readonly string[]): Machine {
  let cpuModel = os.cpus()[0]?.model ?? '?'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpuModel = m[1]!.trim()
  } catch { /* not Linux; os.cpus() it is */ }
  const head = run('git', ['rev-parse', '--short', 'HEAD'])
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no']) !== ''
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: Number(run('nproc', [])) || os.availableParallelism(),
    cpuModel,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    wrk: run('wrk', ['--version']).split('\n')[0]?.replace(/\s+Copyright.*$/, '') ?? '?',
    git: head ? `${head}${dirty ? ' (with uncommitted changes)' : ''}` : '?',
    command: commandLine(args),
  }
}
