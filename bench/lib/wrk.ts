import { spawn } from 'node:child_process'
import { clockTicksPerSecond } from './cpu.js'
import { DONE_MARKER } from './scenarios.js'

export interface WrkRun {
  requests: number
  durationUs: number
  bytes: number
  errors: { connect: number; read: number; write: number; status: number; timeout: number }
  /** Percentiles of the samples wrk measured (see scenarios.ts); -1 when not computed. */
  latencyUs: { samples: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number }
}

export interface WrkCommand {
  url: string
  connections: number
  seconds: number
  script: string
  headers: Record<string, string>
  /** CPU to pin wrk to with taskset, or undefined for no pinning. */
  cpu: number | undefined
}

export function wrkArgv(c: WrkCommand): string[] {
  const wrk = ['wrk', '-t1', `-c${c.connections}`, `-d${c.seconds}s`, '--timeout', '5s', '-s', c.script]
  for (const [k, v] of Object.entries(c.headers)) wrk.push('-H', `${k}: ${v}`)
  wrk.push(c.url)
  return c.cpu === undefined ? wrk : ['taskset', '-c', String(c.cpu), ...wrk]
}

const CPU_MARKER = 'FARAD_WRK_CPU '

/**
 * wrk runs under a shell that, once wrk has exited and been reaped, prints its own
 * cutime and cstime (fields 16 and 17 of /proc/self/stat, proc(5)): the CPU time of
 * the children it waited for, i.e. wrk's. That tells whether wrk's core was the limit.
 */
function wrappedArgv(c: WrkCommand): string[] {
  const [first, ...rest] = wrkArgv(c)
  const pin = first === 'taskset' ? ['taskset', rest[0]!, rest[1]!] : []
  const wrk = first === 'taskset' ? rest.slice(2) : [first!, ...rest]
  const script = `"$@"; rc=$?; echo "${CPU_MARKER}$(cut -d' ' -f16,17 /proc/$$/stat)"; exit $rc`
  return [...pin, 'sh', '-c', script, 'sh', ...wrk]
}

/** Runs wrk to completion; rejects if it fails or its done() line is missing. */
export function runWrk(c: WrkCommand): Promise<{ run: WrkRun; stdout: string; wrkCpuSeconds: number }> {
  const argv = wrappedArgv(c)
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    // wrk stops itself after -d; the guard only catches a wedged wrk.
    const guard = setTimeout(() => child.kill('SIGKILL'), (c.seconds + 20) * 1000)
    child.on('error', (err) => { clearTimeout(guard); reject(err) })
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      const line = stdout.split('\n').find((l) => l.startsWith(DONE_MARKER))
      if (code !== 0 || line === undefined) {
        reject(new Error(`wrk exited with ${signal ?? code}: ${(stderr || stdout).trim().slice(0, 500)}`))
        return
      }
      const cpuLine = stdout.split('\n').find((l) => l.startsWith(CPU_MARKER))
      const ticks = cpuLine ? cpuLine.slice(CPU_MARKER.length).trim().split(' ').map(Number) : []
      const wrkCpuSeconds = ticks.length === 2 ? (ticks[0]! + ticks[1]!) / clockTicksPerSecond() : NaN
      const r = JSON.parse(line.slice(DONE_MARKER.length)) as Record<string, number>
      const n = (k: string): number => r[k] ?? NaN
      resolve({
        stdout,
        wrkCpuSeconds,
        run: {
          requests: n('requests'),
          durationUs: n('duration_us'),
          bytes: n('bytes'),
          errors: { connect: n('connect'), read: n('read'), write: n('write'), status: n('status'), timeout: n('timeout') },
          latencyUs: { samples: n('samples'), p50: n('p50_us'), p90: n('p90_us'), p99: n('p99_us'), p999: n('p999_us'), max: n('max_us'), mean: n('mean_us') },
        },
      })
    })
  })
}

export function errorCount(r: WrkRun): number {
  const e = r.errors
  return e.connect + e.read + e.write + e.status + e.timeout
}
