// npm run bench: farad, node:http and fastify serve the same endpoints in turn, each in
// its own process pinned to one CPU, loaded by wrk pinned to the other. Reports medians
// over rounds as ratios to node:http, and requests per server CPU-second beside req/s.
// See bench/README.md.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { coreUsed, cpuUsed, sampleCore, sampleCpu } from './lib/cpu.js'
import { describeMachine } from './lib/machine.js'
import { parseOptions, usage, type Options } from './lib/options.js'
import { checkScenario } from './lib/probe.js'
import { chart, consoleTable, saveRun, type RunRecord } from './lib/report.js'
import { makeRound, ratios, summarize, type Cell, type ScenarioResult } from './lib/results.js'
import { luaFor, scenarios as allScenarios, type Scenario } from './lib/scenarios.js'
import { ServerProcess } from './lib/server-process.js'
import { BASELINE, servers as allServers, type ServerSpec } from './lib/servers.js'
import { runWrk, wrkArgv, type WrkCommand } from './lib/wrk.js'

const log = (msg: string): void => { process.stderr.write(msg + '\n') }
const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const fmtUs = (us: number): string => (us < 0 ? 'n/a' : `${(us / 1000).toFixed(2)} ms`)

function has(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' })
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' // wrk --version exits 1
  }
}

function pick<T extends { name: string }>(kind: string, all: readonly T[], wanted: string[]): T[] {
  if (wanted.length === 0) return all.filter((x) => !(x as { onRequest?: boolean }).onRequest)
  return wanted.map((w) => {
    const found = all.find((x) => x.name === w)
    if (!found) throw new Error(`unknown ${kind} "${w}"; known: ${all.map((x) => x.name).join(', ')}`)
    return found
  })
}

/** Rounds start with a different server each time, so no server always goes first. */
function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = xs.length === 0 ? 0 : by % xs.length
  return [...xs.slice(k), ...xs.slice(0, k)]
}

interface Running {
  spec: ServerSpec
  proc: ServerProcess
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const o: Options = parseOptions(args)
  if (o.help) { console.log(usage); return }

  if (!has('wrk', ['--version'])) throw new Error('wrk not found on PATH (apt-get install wrk)')
  const nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim())
  const pinned = has('taskset', ['-V']) && Math.max(o.serverCpu, o.clientCpu) < nproc
  const serverCpu = pinned ? o.serverCpu : undefined
  const clientCpu = pinned ? o.clientCpu : undefined
  if (!pinned) log(`warning: not pinning CPUs (taskset missing or fewer than ${Math.max(o.serverCpu, o.clientCpu) + 1} CPUs); numbers will be noisy`)

  const machine = describeMachine(args) // at the start: the run's date is when it began
  const scenarios = pick('scenario', allScenarios, o.scenarios)
  const wanted = pick('server', allServers, o.only)
  const skipped: RunRecord['skipped'] = []
  const specs: ServerSpec[] = []
  for (const spec of wanted) {
    const why = await spec.unavailable()
    if (why) { skipped.push({ server: spec.label, reason: why }); log(`note: skipping ${spec.label}: ${why}`) } else specs.push(spec)
  }
  if (specs.length === 0) throw new Error('no server to measure')
  if (!specs.some((s) => s.name === BASELINE)) log('note: node:http is not in this run, so there are no ratios')

  const perCell = o.warmup + o.rounds * o.duration
  const estimate = scenarios.length * specs.length * (perCell + 1 + o.rounds * 0.5)
  log(`${specs.map((s) => s.label).join(', ')} × ${scenarios.map((s) => s.name).join(', ')}: ` +
    `${o.rounds} × ${o.duration} s rounds after ${o.warmup} s warm-up, ~${Math.ceil(estimate / 60)} min`)

  const scriptDir = mkdtempSync(join(tmpdir(), 'farad-bench-'))
  const scripts = new Map(scenarios.map((s) => {
    const file = join(scriptDir, `${s.name}.lua`)
    writeFileSync(file, luaFor(s, o.connections))
    return [s.name, file] as const
  }))

  const running: Running[] = []
  const cleanup = async (): Promise<void> => {
    await Promise.all(running.map((r) => r.proc.stop()))
    rmSync(scriptDir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => { log('\ninterrupted; stopping servers'); void cleanup().then(() => process.exit(130)) })

  try {
    for (const spec of specs) {
      try {
        const proc = await ServerProcess.start(spec.script, serverCpu)
        if (proc.comm() !== 'node') log(`warning: ${spec.label}: pid ${proc.pid} is "${proc.comm()}", not node; CPU numbers may be wrong`)
        running.push({ spec, proc })
      } catch (err) {
        skipped.push({ server: spec.label, reason: `did not start: ${(err as Error).message}` })
        log(`note: skipping ${spec.label}: did not start: ${(err as Error).message}`)
      }
    }

    // Correctness first: a server that answers wrong is reported, not measured.
    const wrong = new Map<string, string>() // `${server}/${scenario}` -> reason
    for (const r of running) {
      for (const s of scenarios) {
        const why = await checkScenario(s, r.proc.port)
        if (why) { wrong.set(`${r.spec.name}/${s.name}`, why); log(`check: ${r.spec.label} ${s.name}: WRONG: ${why}`) }
      }
    }
    log(`check: ${running.length * scenarios.length - wrong.size}/${running.length * scenarios.length} (server, scenario) answers correct`)
    for (const r of running) r.proc.pause()

    const results: ScenarioResult[] = []
    for (const s of scenarios) results.push(await measureScenario(o, s, running, wrong, scripts.get(s.name)!, serverCpu, clientCpu))

    for (const s of results) {
      const base = s.cells.find((c) => c.server === BASELINE)?.median
      for (const c of s.cells) if (c.median && base) c.ratio = ratios(c.median, base)
    }

    const record: RunRecord = { machine, options: o, serverCpu, clientCpu, skipped, results }
    console.log('')
    console.log(consoleTable(results))
    console.log('')
    console.log(chart(results))
    if (o.save) {
      const saved = saveRun(record)
      log(`\nwrote ${saved.markdown} and ${saved.json}`)
    }
  } finally {
    await cleanup()
  }
}

async function measureScenario(
  o: Options, s: Scenario, running: readonly Running[], wrong: ReadonlyMap<string, string>,
  script: string, serverCpu: number | undefined, clientCpu: number | undefined,
): Promise<ScenarioResult> {
  const cells = new Map<string, Cell>()
  const active: Running[] = []
  for (const r of running) {
    const cell: Cell = { server: r.spec.name, label: r.spec.label, status: 'measured', rounds: [] }
    const why = wrong.get(`${r.spec.name}/${s.name}`)
    if (why) { cell.status = 'wrong answer'; cell.note = why } else active.push(r)
    cells.set(r.spec.name, cell)
  }
  const command = (r: Running, seconds: number): WrkCommand => ({
    url: `http://127.0.0.1:${r.proc.port}${s.path}`,
    connections: o.connections, seconds, script, headers: s.headers, cpu: clientCpu,
  })
  const fail = (r: Running, err: unknown): void => {
    const cell = cells.get(r.spec.name)!
    cell.status = 'failed'
    const tail = r.proc.alive ? '' : ` (server exited${r.proc.stderrTail ? `: ${r.proc.stderrTail.split('\n').slice(-3).join(' / ')}` : ''})`
    cell.note = `${(err as Error).message}${tail}`
    active.splice(active.indexOf(r), 1)
    log(`  ${r.spec.label}: FAILED: ${cell.note}`)
  }
  // A load resumes the server, runs wrk, and (after `measured` has sampled whatever it
  // needs) gives the server 300 ms to close its connections before pausing it again, so
  // that work does not land in the next server's window.
  const load = async <T>(r: Running, seconds: number, measured: (run: () => ReturnType<typeof runWrk>) => Promise<T>): Promise<T> => {
    r.proc.resume()
    try {
      if (o.verbose) log(`  $ ${wrkArgv(command(r, seconds)).join(' ')}`)
      return await measured(() => runWrk(command(r, seconds)))
    } finally {
      await sleep(300)
      r.proc.pause()
    }
  }

  log(`\n${s.name}: ${s.description}`)
  if (o.warmup > 0) {
    for (const r of [...active]) {
      try { await load(r, o.warmup, (run) => run()) } catch (err) { fail(r, err) }
    }
  }
  for (let round = 0; round < o.rounds; round++) {
    for (const r of rotate(active, round)) {
      if (!r.proc.alive) { fail(r, new Error('server is not running')); continue }
      try {
        // The CPU window is wrk's lifetime. It ends when wrk exits, not later: requests
        // still queued in the server's sockets (up to 16 per connection when pipelined)
        // are served after wrk stopped counting, and must not be charged to the count.
        const { run, stdout, cpu, core, clientCore, wrkCpuSeconds } = await load(r, o.duration, async (wrk) => {
          const server0 = serverCpu === undefined ? undefined : sampleCore(serverCpu)
          const client0 = clientCpu === undefined ? undefined : sampleCore(clientCpu)
          const t0 = performance.now()
          const before = sampleCpu(r.proc.pid)
          const out = await wrk()
          const cpu = cpuUsed(before, sampleCpu(r.proc.pid))
          const window = (performance.now() - t0) / 1000
          const core = server0 && coreUsed(server0, sampleCore(serverCpu!), cpu.seconds, window)
          const clientCore = client0 && coreUsed(client0, sampleCore(clientCpu!), out.wrkCpuSeconds || 0, window)
          return { ...out, cpu, core, clientCore }
        })
        if (!r.proc.alive) throw new Error('server exited during the round')
        const m = makeRound(round + 1, run, cpu, core, wrkCpuSeconds, clientCore)
        cells.get(r.spec.name)!.rounds.push(m)
        if (o.verbose) {
          const other = (c: typeof core, cpuN: number | undefined): string =>
            c ? `; on CPU ${cpuN}: others ${c.others.toFixed(2)} s, irq ${c.irq.toFixed(2)} s, steal ${c.steal.toFixed(2)} s` : ''
          log(`${stdout.trimEnd()}\n  server CPU ${cpu.seconds.toFixed(3)} s (schedstat), ${cpu.tickSeconds.toFixed(2)} s (utime+stime)` +
            `${other(core, serverCpu)}\n  wrk CPU ${wrkCpuSeconds.toFixed(2)} s${other(clientCore, clientCpu)}`)
        }
        log(`  round ${round + 1}/${o.rounds}  ${r.spec.label.padEnd(9)}  ${int.format(m.rps).padStart(8)} req/s  ` +
          `p50 ${fmtUs(run.latencyUs.p50)}  p99 ${fmtUs(run.latencyUs.p99)}  ` +
          `server CPU ${(m.cpuShare * 100).toFixed(0)}%  wrk CPU ${(m.wrkShare * 100).toFixed(0)}%  ${int.format(m.perCpuSecond)} req/CPU-s` +
          (m.errors > 0 ? `  ${m.errors} ERRORS` : '') +
          (m.contended ? `  CONTENDED (others took ${(m.contended * 100).toFixed(0)}% of CPU ${serverCpu})` : '') +
          (m.clientContended ? `  WRK CONTENDED (others took ${(m.clientContended * 100).toFixed(0)}% of CPU ${clientCpu})` : ''))
      } catch (err) {
        fail(r, err)
      }
    }
  }
  for (const c of cells.values()) {
    if (c.rounds.length > 0) c.median = summarize(c.rounds)
    else if (c.status === 'measured') c.status = 'not run'
  }
  return { name: s.name, description: s.description, cells: [...cells.values()] }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
