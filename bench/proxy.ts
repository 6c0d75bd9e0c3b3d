// Reverse proxies under wrk: farad's proxy() against node:http + undici,
// both in front of the same farad upstream (bench/servers/farad.ts).
//
//   npm run bench:proxy -- [--rounds=3] [--duration=5] [--connections=64]
//
// The proxy under test is pinned to CPU 0; wrk (-t1) and the upstream share
// CPU 1. Reports requests/s and p99 latency (medians over rounds, rounds
// interleaved) and the ratios farad / undici.
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { describeMachine } from './lib/machine.js'
import { numberArg, saveSection } from './lib/report.js'
import { luaFor, scenarios } from './lib/scenarios.js'
import { ServerProcess } from './lib/server-process.js'
import { median } from './lib/stats.js'
import { errorCount, runWrk } from './lib/wrk.js'

const args = process.argv.slice(2)
const opt = (name: string, dflt: number): number => numberArg(args, name, dflt)
const rounds = opt('rounds', 3)
const duration = opt('duration', 5)
const connections = opt('connections', 64)
const here = fileURLToPath(new URL('.', import.meta.url))
const scenario = scenarios.find((s) => s.name === 'plaintext')!
const script = join(tmpdir(), `farad-proxy-bench-${process.pid}.lua`)
writeFileSync(script, luaFor(scenario, connections))

const machine = describeMachine(args)
machine.command = `npm run bench:proxy${args.length ? ` -- ${args.join(' ')}` : ''}`
const upstream = await ServerProcess.start(join(here, 'servers', 'farad.js'), 1)
process.env.UPSTREAM_PORT = String(upstream.port)
const proxies = [
  { name: 'farad proxy()', script: join(here, 'servers', 'proxy-farad.js') },
  { name: 'node:http + undici', script: join(here, 'servers', 'proxy-undici.js') },
]
const runs: Record<string, { rps: number; p99: number; errors: number }[]> = {}
try {
  for (let round = 0; round < rounds; round++) {
    for (const p of proxies) {
      const sp = await ServerProcess.start(p.script, 0)
      try {
        // Warm-up, then the measured run.
        await runWrk({ url: `http://127.0.0.1:${sp.port}/plaintext`, connections, seconds: 2, script, headers: {}, cpu: 1 })
        const { run } = await runWrk({ url: `http://127.0.0.1:${sp.port}/plaintext`, connections, seconds: duration, script, headers: {}, cpu: 1 })
        const r = { rps: run.requests / (run.durationUs / 1e6), p99: run.latencyUs.p99 / 1000, errors: errorCount(run) }
        ;(runs[p.name] ??= []).push(r)
        process.stderr.write(`${p.name} round ${round + 1}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}\n`)
      } finally {
        await sp.stop()
      }
    }
  }
} finally {
  await upstream.stop()
}
const summary = proxies.map((p) => {
  const rs = runs[p.name]!
  return { name: p.name, rps: median(rs.map((r) => r.rps)), p99: median(rs.map((r) => r.p99)), errors: rs.reduce((a, r) => a + r.errors, 0) }
})
const base = summary[1]!
const lines = [
  `## ${machine.date} — \`${machine.command}\``,
  '',
  `- machine: ${machine.nproc} CPUs (nproc), ${machine.cpuModel}, ${machine.kernel}; node ${machine.node}, farad at git ${machine.git}`,
  `- GET /plaintext through each proxy to a farad upstream; wrk -t1 -c${connections}; ${rounds} round(s) × ${duration} s after 2 s warm-up; proxy pinned to CPU 0, wrk and upstream to CPU 1`,
  '',
  '| proxy | req/s | p99 | errors |',
  '| --- | ---: | ---: | ---: |',
  ...summary.map((s) => `| ${s.name} | ${Math.round(s.rps).toLocaleString('en-US')} (${(s.rps / base.rps).toFixed(2)}×) | ${s.p99.toFixed(2)} ms (${(s.p99 / base.p99).toFixed(2)}×) | ${s.errors} |`),
  '',
]
const section = lines.join('\n')
console.log(section)
saveSection('proxy', machine.date, section, { machine, rounds, duration, connections, runs, summary })
