// The HTTP client benchmark: farad's Client against undici (Pool.request, the
// same number of connections) and node:http with a keep-alive Agent, calling
// the same farad server (bench/servers/client-target.ts) pinned to the other
// core. Each client runs in its own process pinned to CPU 0 with a closed
// loop of N requests in flight (bench/clients/load.ts).
//
//   npm run bench:client -- [--rounds=3] [--duration=5] [--concurrency=50]
//
// Reports requests/s and client CPU microseconds per request (all of the
// client process's threads), medians over rounds, as ratios to undici.
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { cpuUsed, sampleCpu } from './lib/cpu.js'
import { describeMachine } from './lib/machine.js'
import { repoRoot } from './lib/paths.js'
import { numberArg, saveSection } from './lib/report.js'
import { ServerProcess } from './lib/server-process.js'
import { median } from './lib/stats.js'

const args = process.argv.slice(2)
const opt = (name: string, dflt: number): number => numberArg(args, name, dflt)
const rounds = opt('rounds', 3)
const duration = opt('duration', 5)
const concurrency = opt('concurrency', 50)
const clients = ['farad', 'undici', 'node-http'] as const
const scenarios = ['get-small', 'post-1k', 'stream-64k'] as const

const here = fileURLToPath(new URL('.', import.meta.url))
const loadScript = join(here, 'clients', 'load.js')
const serverScript = join(here, 'servers', 'client-target.js')

let taskset = true
try {
  execFileSync('taskset', ['-c', '0', 'true'])
} catch {
  taskset = false
}

interface Run {
  requests: number
  errors: number
  wrong: number
  wall: number
  cpu: number
  serverCpu: number
}

function runClient(kind: string, scenario: string, port: number, serverPid: number): Promise<Run> {
  const argv = [process.execPath, loadScript, kind, scenario, String(port), String(duration), String(concurrency)]
  const full = taskset ? ['taskset', '-c', '0', ...argv] : argv
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    // The server's CPU over the client's measured window (after its 1 s warm-up).
    let s0 = sampleCpu(serverPid)
    const warm = setTimeout(() => (s0 = sampleCpu(serverPid)), 1000)
    let s1 = s0
    const end = setTimeout(() => (s1 = sampleCpu(serverPid)), 1000 + duration * 1000)
    child.on('exit', (code) => {
      clearTimeout(warm)
      clearTimeout(end)
      if (code !== 0) return reject(new Error(`${kind} ${scenario} exited with ${code}`))
      const r = JSON.parse(out.trim().split('\n').pop()!) as Omit<Run, 'serverCpu'>
      resolve({ ...r, serverCpu: cpuUsed(s0, s1).seconds / r.wall })
    })
  })
}

interface Cell {
  rps: number
  usPerReq: number
  serverCpu: number
  errors: number
  wrong: number
  rounds: { rps: number; usPerReq: number }[]
}

const machine = describeMachine(args)
machine.command = `npm run bench:client${args.length ? ` -- ${args.join(' ')}` : ''}`
const server = await ServerProcess.start(serverScript, taskset ? 1 : undefined)
const results: Record<string, Record<string, Cell>> = {}
try {
  for (const scenario of scenarios) {
    results[scenario] = {}
    const perClient: Record<string, Run[]> = {}
    for (let round = 0; round < rounds; round++) {
      // Interleaved, so drift on the shared machine hits every client alike.
      for (const kind of clients) {
        const r = await runClient(kind, scenario, server.port, server.pid)
        ;(perClient[kind] ??= []).push(r)
        process.stderr.write(`${scenario} ${kind} round ${round + 1}: ${Math.round(r.requests / r.wall)} req/s, ${((r.cpu / r.requests) * 1e6).toFixed(1)} µs CPU/req, server ${(r.serverCpu * 100).toFixed(0)}%\n`)
      }
    }
    for (const kind of clients) {
      const runs = perClient[kind]!
      const rs = runs.map((r) => ({ rps: r.requests / r.wall, usPerReq: (r.cpu / r.requests) * 1e6 }))
      results[scenario][kind] = {
        rps: median(rs.map((x) => x.rps)),
        usPerReq: median(rs.map((x) => x.usPerReq)),
        serverCpu: median(runs.map((r) => r.serverCpu)),
        errors: runs.reduce((a, r) => a + r.errors, 0),
        wrong: runs.reduce((a, r) => a + r.wrong, 0),
        rounds: rs,
      }
    }
  }
} finally {
  await server.stop()
}

const lines: string[] = []
lines.push(`## ${machine.date} — \`${machine.command}\``, '')
lines.push(`- machine: ${machine.nproc} CPUs (nproc), ${machine.cpuModel}, ${machine.kernel}`)
lines.push(`- node ${machine.node}, undici ${JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'undici', 'package.json'), 'utf8')).version}, farad at git ${machine.git}`)
lines.push(`- ${concurrency} requests in flight, ${concurrency} connections; ${rounds} round(s) × ${duration} s after 1 s warm-up; ${taskset ? 'client pinned to CPU 0, farad server to CPU 1' : 'not pinned (taskset missing)'}`)
lines.push('')
lines.push('Medians over rounds; (×) is the ratio to undici in this run (for CPU per request lower is better). "server CPU" is the server core\'s use during the window: well under 100% means the client was the limit.')
lines.push('')
lines.push('| scenario | client | req/s | client CPU per request | server CPU | errors |')
lines.push('| --- | --- | ---: | ---: | ---: | ---: |')
for (const scenario of scenarios) {
  const base = results[scenario]!.undici!
  for (const kind of clients) {
    const c = results[scenario]![kind]!
    const rpsRatio = (c.rps / base.rps).toFixed(2)
    const cpuRatio = (c.usPerReq / base.usPerReq).toFixed(2)
    lines.push(`| ${kind === 'farad' ? scenario : ''} | ${kind} | ${Math.round(c.rps).toLocaleString('en-US')} (${rpsRatio}×) | ${c.usPerReq.toFixed(1)} µs (${cpuRatio}×) | ${(c.serverCpu * 100).toFixed(0)}% | ${c.errors + c.wrong} |`)
  }
}
lines.push('')
const section = lines.join('\n')
console.log(section)

saveSection('client', machine.date, section, { machine, rounds, duration, concurrency, results })
