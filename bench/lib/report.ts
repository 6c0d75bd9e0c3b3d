import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Machine } from './machine.js'
import type { Options } from './options.js'
import { repoRoot, resultsDir, resultsMarkdown } from './paths.js'
import { CONTENTION_LIMIT, type Cell, type ScenarioResult } from './results.js'

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const fmtRatio = (r: number | undefined): string => (r === undefined || !Number.isFinite(r) ? '' : ` (${r.toFixed(2)}×)`)
const fmtMs = (ms: number): string => !Number.isFinite(ms) ? 'n/a' : (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)) + ' ms'

const HEADER = ['scenario', 'server', 'req/s', 'p50', 'p99', 'server CPU', 'wrk CPU', 'req per CPU-s', '±', 'errors']

/** Table rows as plain strings; the same rows feed the console and the Markdown table. */
function rows(results: readonly ScenarioResult[]): { cells: string[][]; notes: string[] } {
  const out: string[][] = []
  const notes: string[] = []
  let contended = 0
  let measured = 0
  for (const s of results) {
    s.cells.forEach((c, i) => {
      const name = i === 0 ? s.name : ''
      if (!c.median) {
        out.push([name, c.label, c.status, '', '', '', '', '', '', ''])
        if (c.note) notes.push(`${s.name} / ${c.label}: ${c.status}: ${c.note}`)
        return
      }
      const m = c.median
      const r = c.ratio
      out.push([
        name,
        c.label,
        int.format(m.rps) + fmtRatio(r?.rps),
        fmtMs(m.p50Ms) + fmtRatio(r?.p50Ms),
        fmtMs(m.p99Ms) + fmtRatio(r?.p99Ms),
        `${(m.cpuShare * 100).toFixed(0)}%${m.contendedRounds > 0 ? ` *${m.contendedRounds}/${c.rounds.length}` : ''}`,
        Number.isFinite(m.wrkShare) ? `${(m.wrkShare * 100).toFixed(0)}%` : 'n/a',
        int.format(m.perCpuSecond) + fmtRatio(r?.perCpuSecond),
        `${(m.spread * 100).toFixed(1)}%`,
        m.errors > 0 ? `${int.format(m.errors)} ⚠` : '0',
      ])
      contended += m.contendedRounds
      measured += c.rounds.length
      if (m.errors > 0) notes.push(`${s.name} / ${c.label}: ${int.format(m.errors)} wrk errors (connect/read/write/status>399/timeout); numbers are suspect`)
      if (c.note) notes.push(`${s.name} / ${c.label}: ${c.note}`)
    })
  }
  if (contended > 0) {
    notes.unshift(`*k/n: in k of n rounds other processes (or steal) held over ${CONTENTION_LIMIT * 100}% of the server's or wrk's CPU ` +
      `(${contended} of ${measured} rounds in this run). req/s and latency of those rounds are suspect; req per CPU-s much less so.`)
  }
  return { cells: out, notes }
}

const rightAligned = (col: number): boolean => col >= 2

export function consoleTable(results: readonly ScenarioResult[]): string {
  const { cells, notes } = rows(results)
  const all = [HEADER, ...cells]
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)))
  const line = (r: string[]): string =>
    r.map((v, i) => (rightAligned(i) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd()
  const text = [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)]
  return [...text, ...(notes.length ? ['', ...notes.map((n) => `note: ${n}`)] : [])].join('\n')
}

function markdownTable(results: readonly ScenarioResult[]): string {
  const { cells, notes } = rows(results)
  const md = (r: string[]): string => `| ${r.map((v) => v.replace(/\|/g, '\\|')).join(' | ')} |`
  const align = `| ${HEADER.map((_, i) => (rightAligned(i) ? '---:' : '---')).join(' | ')} |`
  return [md(HEADER), align, ...cells.map(md), ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : [])].join('\n')
}

/** Bars of requests per server CPU-second, each scenario scaled to its best server. */
export function chart(results: readonly ScenarioResult[], width = 40): string {
  const measured = results.filter((s) => s.cells.some((c) => c.median))
  if (measured.length === 0) return ''
  const nameW = Math.max(...measured.map((s) => s.name.length))
  const labelW = Math.max(...measured.flatMap((s) => s.cells.map((c) => c.label.length)))
  const lines = ['requests per server CPU-second (bar: relative to the best server in the scenario; number: ratio to node:http)']
  for (const s of measured) {
    const best = Math.max(...s.cells.map((c) => c.median?.perCpuSecond ?? 0))
    s.cells.forEach((c: Cell, i) => {
      const head = `${(i === 0 ? s.name : '').padEnd(nameW)}  ${c.label.padEnd(labelW)}  `
      if (!c.median) { lines.push(`${head}(${c.status})`); return }
      const bar = '█'.repeat(Math.max(1, Math.round((c.median.perCpuSecond / best) * width)))
      const ratio = c.ratio ? c.ratio.perCpuSecond.toFixed(2) : ''
      lines.push(`${head}${bar.padEnd(width)} ${ratio}`.trimEnd())
    })
  }
  return lines.join('\n')
}

export interface RunRecord {
  machine: Machine
  options: Options
  serverCpu: number | undefined
  clientCpu: number | undefined
  skipped: { server: string; reason: string }[]
  results: ScenarioResult[]
}

function settings(r: RunRecord): string {
  const o = r.options
  const pin = r.serverCpu === undefined ? 'not pinned (taskset missing)' : `servers pinned to CPU ${r.serverCpu}, wrk (-t1) to CPU ${r.clientCpu}`
  return `${o.connections} connections, ${o.rounds} round(s) × ${o.duration} s after ${o.warmup} s warm-up per server and scenario; ${pin}`
}

function markdownSection(r: RunRecord, jsonPath: string): string {
  const m = r.machine
  return [
    `## ${m.date} — \`${m.command}\``,
    '',
    `- machine: ${m.nproc} CPUs (nproc), ${m.cpuModel}, ${m.kernel}`,
    `- ${m.node === process.version ? `node ${m.node}` : m.node}, ${m.wrk}, farad at git ${m.git}`,
    `- ${settings(r)}`,
    ...r.skipped.map((s) => `- not run: ${s.server}: ${s.reason}`),
    `- raw numbers: \`${relative(repoRoot, jsonPath)}\``,
    '',
    'Each cell is the median over rounds; (×) is the ratio to node:http in this run (for p50/p99 lower is better). ' +
      '"server CPU" and "wrk CPU" are CPU-seconds per wall second (100% = that core saturated: the limit was there); ± is half the range of req per CPU-s over rounds.',
    '',
    markdownTable(r.results),
    '',
    '```',
    chart(r.results),
    '```',
    '',
  ].join('\n')
}

const MARKER = '<!-- runs, newest first; npm run bench inserts below this line -->'
const PREAMBLE = `# Server benchmark results

Written by \`npm run bench\` (bench/run.ts): farad, node:http and fastify serving the same
endpoints under wrk. Each run is added at the top with its machine, command and settings;
older runs stay below for history. How to run and how to read the numbers: bench/README.md.

${MARKER}
`

/** Adds this run at the top of bench/RESULTS.md and writes bench/results/<timestamp>.json. */
export function saveRun(r: RunRecord): { markdown: string; json: string } {
  mkdirSync(resultsDir, { recursive: true })
  const json = join(resultsDir, `${r.machine.date.replace(/:/g, '-')}.json`)
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n')

  insertSection(markdownSection(r, json))
  return { markdown: resultsMarkdown, json }
}

/** Puts a run's section at the top of bench/RESULTS.md's list of runs (newest first). */
export function insertSection(section: string): void {
  const old = existsSync(resultsMarkdown) ? readFileSync(resultsMarkdown, 'utf8') : ''
  const at = old.indexOf(MARKER)
  const next = at === -1
    ? `${PREAMBLE}\n${section}${old ? `\n${old}` : ''}`
    : `${old.slice(0, at + MARKER.length)}\n\n${section}${old.slice(at + MARKER.length).replace(/^\n+/, '\n')}`
  writeFileSync(resultsMarkdown, next)
}

/**
 * Records a run that is not `npm run bench` (client, proxy): its raw numbers
 * in bench/results/<prefix>-<date>.json and its section, pointing at them,
 * in bench/RESULTS.md.
 */
export function saveSection(prefix: string, date: string, section: string, raw: unknown): void {
  mkdirSync(resultsDir, { recursive: true })
  const json = join(resultsDir, `${prefix}-${date.replace(/:/g, '-')}.json`)
  writeFileSync(json, JSON.stringify(raw, null, 2) + '\n')
  insertSection(`${section}- raw numbers: \`${relative(repoRoot, json)}\`\n`)
}

/** `--name=N` from argv, or dflt. */
export function numberArg(args: readonly string[], name: string, dflt: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`))
  if (a === undefined) return dflt
  const n = Number(a.slice(name.length + 3))
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${a}`)
  return n
}
