import type { CoreUsed, CpuUsed } from './cpu.js'
import { median, spread } from './stats.js'
import { errorCount, type WrkRun } from './wrk.js'

/** One measured round of one server on one scenario. */
export interface Round {
  round: number
  wrk: WrkRun
  cpu: CpuUsed
  /** Requests per second of wrk's own duration. */
  rps: number
  /** Server CPU-seconds over wrk's duration: 1.0 means the server's core was saturated. */
  cpuShare: number
  /** Requests per server CPU-second: the efficiency number this benchmark is about. */
  perCpuSecond: number
  errors: number
  /** Other tasks on the server's CPU during the round, if any. */
  core: CoreUsed | undefined
  /** Share of the round other tasks held the server's CPU, when above 5%; else 0. */
  contended: number
  /** wrk's CPU-seconds over the window (user + system, from its parent's cutime/cstime). */
  wrkCpuSeconds: number
  /** wrk CPU-seconds over wrk's duration: near 100% means wrk, not the server, was the limit. */
  wrkShare: number
  clientCore: CoreUsed | undefined
  /** Share of the round other tasks held wrk's CPU, when above 5%; else 0. */
  clientContended: number
}

/** Above this share of the window, other work on the server's CPU makes a round suspect. */
export const CONTENTION_LIMIT = 0.05

const contention = (c: CoreUsed | undefined): number => {
  const share = c ? (c.others + c.steal) / c.window : 0
  return share > CONTENTION_LIMIT ? share : 0
}

export function makeRound(
  round: number, wrk: WrkRun, cpu: CpuUsed, core: CoreUsed | undefined,
  wrkCpuSeconds: number, clientCore: CoreUsed | undefined,
): Round {
  const seconds = wrk.durationUs / 1e6
  return {
    round, wrk, cpu, core,
    contended: contention(core),
    wrkCpuSeconds,
    wrkShare: wrkCpuSeconds / seconds,
    clientCore,
    clientContended: contention(clientCore),
    rps: wrk.requests / seconds,
    cpuShare: cpu.seconds / seconds,
    perCpuSecond: cpu.seconds > 0 ? wrk.requests / cpu.seconds : NaN,
    errors: errorCount(wrk),
  }
}

export interface Summary {
  rps: number
  p50Ms: number
  p99Ms: number
  cpuShare: number
  perCpuSecond: number
  /** Half-range over median of perCpuSecond across rounds. */
  spread: number
  /** Errors summed over all rounds. */
  errors: number
  /** Rounds in which other tasks held the server's or wrk's CPU (see CONTENTION_LIMIT). */
  contendedRounds: number
  wrkShare: number
}

/** Ratios to the node:http baseline of the same run (latency: lower is better). */
export type Ratios = Pick<Summary, 'rps' | 'p50Ms' | 'p99Ms' | 'perCpuSecond'>

export type CellStatus = 'measured' | 'wrong answer' | 'failed' | 'not run'

export interface Cell {
  server: string
  label: string
  status: CellStatus
  /** Why it is not measured, or what went wrong along the way. */
  note?: string
  rounds: Round[]
  median?: Summary
  ratio?: Ratios
}

export interface ScenarioResult {
  name: string
  description: string
  cells: Cell[]
}

/** Median in ms over the rounds that have the percentile (wrk's hook gives -1 when it could not). */
function latency(rounds: readonly Round[], f: (r: Round) => number): number {
  return median(rounds.map(f).filter((us) => us >= 0).map((us) => us / 1000))
}

export function summarize(rounds: readonly Round[]): Summary {
  const m = (f: (r: Round) => number): number => median(rounds.map(f))
  return {
    rps: m((r) => r.rps),
    p50Ms: latency(rounds, (r) => r.wrk.latencyUs.p50),
    p99Ms: latency(rounds, (r) => r.wrk.latencyUs.p99),
    cpuShare: m((r) => r.cpuShare),
    perCpuSecond: m((r) => r.perCpuSecond),
    spread: spread(rounds.map((r) => r.perCpuSecond)),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    contendedRounds: rounds.filter((r) => r.contended > 0 || r.clientContended > 0).length,
    wrkShare: m((r) => r.wrkShare),
  }
}

export function ratios(s: Summary, base: Summary): Ratios {
  return {
    rps: s.rps / base.rps,
    p50Ms: s.p50Ms / base.p50Ms,
    p99Ms: s.p99Ms / base.p99Ms,
    perCpuSecond: s.perCpuSecond / base.perCpuSecond,
  }
}
