// Request-head parsing, farad's native parser against Node's llhttp, with benchmark.js.
// Each case runs in its own child process (as find-my-way does), pinned to one CPU, so
// one case's JIT and heap state cannot colour the next.
//
//   node dist/bench/parser.js [--quick] [--max-time=S] [--cases=small,browser,post] [--cpu=N]
import { execFileSync, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

interface Case { name: string; description: string; head: string }

const cases: readonly Case[] = [
  {
    name: 'small',
    description: 'small GET, 2 headers',
    head: 'GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nAccept: */*\r\n\r\n',
  },
  {
    name: 'browser',
    description: 'browser GET, 12 headers',
    head: [
      'GET /docs/getting-started?ref=nav HTTP/1.1',
      'Host: www.example.com',
      'Connection: keep-alive',
      'Cache-Control: max-age=0',
      'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
      'sec-ch-ua-mobile: ?0',
      'sec-ch-ua-platform: "Linux"',
      'Upgrade-Insecure-Requests: 1',
      'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
      'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
      'Accept-Encoding: gzip, deflate, br, zstd',
      'Accept-Language: en-US,en;q=0.9,de;q=0.8',
      'Cookie: session=8f2c1e7a9b3d4f60a1c2e3f4a5b6c7d8; theme=dark; _ga=GA1.1.123456789.1700000000',
      '', '',
    ].join('\r\n'),
  },
  {
    name: 'post',
    description: 'POST with Content-Length (head only)',
    head: [
      'POST /api/v1/orders HTTP/1.1',
      'Host: api.example.com',
      'Content-Type: application/json',
      'Content-Length: 1024',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'Accept: application/json',
      '', '',
    ].join('\r\n'),
  },
]

interface Target { name: string; hz: number; stats: { rme: number; sample: number[] }; error?: unknown }
interface Suite {
  add(name: string, fn: () => void): Suite
  on(event: 'cycle' | 'error', fn: (e: { target: Target }) => void): Suite
  run(options?: { async: boolean }): Suite
}
interface BenchmarkStatic { Suite: new () => Suite; options: { maxTime: number; minSamples: number } }

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void
  execute(buf: Buffer): number | Error
  [callback: number]: unknown
}
interface HTTPParserStatic {
  new (): LlhttpParser
  REQUEST: number
  kOnHeadersComplete: number
}

interface CaseResult { case: string; llhttp?: Measured; farad?: Measured; faradNote?: string }
interface Measured { hz: number; rme: number; samples: number }

const require = createRequire(import.meta.url)

/** Node's own parser through its internal binding, the way lib/_http_server.js drives it. */
function llhttp(): { parse: (buf: Buffer) => number | Error; completed: () => number } {
  const binding = (process as unknown as { binding(name: string): { HTTPParser: HTTPParserStatic } }).binding('http_parser')
  const { HTTPParser } = binding
  const parser = new HTTPParser()
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0)
  let completed = 0
  // Node builds the headers array and URL string before this call, as it does for every
  // request node:http serves. Returning 1 tells llhttp to expect no body (the way a
  // HEAD answer is handled), so the next execute() starts a new head: head-only, like
  // farad's parseHead.
  parser[HTTPParser.kOnHeadersComplete] = () => { completed++; return 1 }
  return { parse: (buf) => parser.execute(buf), completed: () => completed }
}

/** farad's parser, when the binding exposes it yet. */
async function farad(): Promise<{ parseHead: (buf: Buffer) => number } | string> {
  const spec = '../src/transport/binding.js' // from dist/bench/ to dist/src/
  try {
    const mod = (await import(spec)) as { native?: { parseHead?: unknown } }
    const fn = mod.native?.parseHead
    if (typeof fn !== 'function') return 'farad parser binding not available yet (native.parseHead missing)'
    return { parseHead: fn.bind(mod.native) as (buf: Buffer) => number }
  } catch (err) {
    return `farad parser binding not available yet (${(err as Error).message.split('\n')[0]})`
  }
}

async function runCase(c: Case, maxTime: number): Promise<CaseResult> {
  const Benchmark = require('benchmark') as BenchmarkStatic
  Benchmark.options.maxTime = maxTime
  Benchmark.options.minSamples = 20
  const buf = Buffer.from(c.head, 'latin1')
  const result: CaseResult = { case: c.name }
  const suite = new Benchmark.Suite()

  const node = llhttp()
  const first = node.parse(buf)
  if (first !== buf.length || node.completed() !== 1) throw new Error(`llhttp did not parse case ${c.name}: ${String(first)}`)
  suite.add('llhttp', () => { node.parse(buf) })

  const f = await farad()
  if (typeof f === 'string') {
    result.faradNote = f
  } else {
    const n = f.parseHead(buf)
    if (n !== buf.length) result.faradNote = `native.parseHead returned ${n}, expected the head length ${buf.length}; not measured`
    else suite.add('farad', () => { f.parseHead(buf) })
  }

  await new Promise<void>((resolve, reject) => {
    suite
      .on('cycle', (e) => {
        const t = e.target
        const m = { hz: t.hz, rme: t.stats.rme, samples: t.stats.sample.length }
        if (t.name === 'llhttp') result.llhttp = m
        else result.farad = m
      })
      .on('error', (e) => reject(e.target.error instanceof Error ? e.target.error : new Error(String(e.target.error))))
    suite.on('complete' as 'cycle', () => resolve())
    suite.run({ async: false })
  })
  return result
}

function arg(name: string): string | undefined {
  const a = process.argv.slice(2).find((x) => x === `--${name}` || x.startsWith(`--${name}=`))
  return a === undefined ? undefined : a.includes('=') ? a.slice(a.indexOf('=') + 1) : ''
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

async function main(): Promise<void> {
  const maxTime = Number(arg('max-time') ?? (arg('quick') !== undefined ? 1 : 3))
  const only = arg('case')
  if (only !== undefined) {
    // Child mode: one case, one JSON line.
    const c = cases.find((x) => x.name === only)
    if (!c) throw new Error(`unknown case ${only}`)
    process.stdout.write(JSON.stringify(await runCase(c, maxTime)) + '\n')
    return
  }

  const wanted = (arg('cases') ?? '').split(',').filter(Boolean)
  const selected = wanted.length ? wanted.map((w) => cases.find((c) => c.name === w) ?? (() => { throw new Error(`unknown case ${w}`) })()) : cases
  const cpu = arg('cpu') ?? '0'
  let pin: string[] = []
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); pin = ['taskset', '-c', cpu] } catch { /* unpinned */ }
  const self = fileURLToPath(import.meta.url)

  const results: CaseResult[] = []
  const notes = new Set<string>()
  for (const c of selected) {
    const argv = [...pin, process.execPath, '--no-deprecation', self, `--case=${c.name}`, `--max-time=${maxTime}`]
    process.stderr.write(`${c.name}: ${c.description} (${Buffer.byteLength(c.head)} bytes)...\n`)
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' })
    const line = r.stdout.trim().split('\n').pop() ?? ''
    if (r.status !== 0 || !line.startsWith('{')) throw new Error(`case ${c.name} failed:\n${r.stderr}`)
    const res = JSON.parse(line) as CaseResult
    if (res.faradNote) notes.add(res.faradNote)
    results.push(res)
  }

  const fmt = (m: Measured | undefined): string => (m ? `${int.format(m.hz)} ops/s ±${m.rme.toFixed(1)}%` : 'n/a')
  const rows = [['case', 'bytes', 'node llhttp', 'farad', 'farad / llhttp']]
  for (const r of results) {
    const c = cases.find((x) => x.name === r.case)!
    const ratio = r.llhttp && r.farad ? `${(r.farad.hz / r.llhttp.hz).toFixed(2)}×` : ''
    rows.push([`${c.name} (${c.description})`, String(Buffer.byteLength(c.head)), fmt(r.llhttp), fmt(r.farad), ratio])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  console.log('')
  for (const [i, r] of rows.entries()) {
    console.log(r.map((v, j) => (j === 0 ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join('  '))
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  }
  for (const n of notes) console.log(`\nnote: ${n}; measured node's llhttp only`)
  console.log('\nllhttp here includes what node:http pays per head: the binding builds the URL and a headers array of JS strings.')
}

main().catch((err: unknown) => {
  console.error(`parser bench: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
