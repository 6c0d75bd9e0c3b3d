import { readFileSync, readdirSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

/**
 * CPU time a process has used so far, read two ways from /proc:
 *  - schedNs: the sum over its live threads of /proc/<pid>/task/<tid>/schedstat's first
 *    field, nanoseconds on CPU (the scheduler's own accounting, no tick sampling);
 *  - ticks: utime + stime from /proc/<pid>/stat, whole-process including threads that
 *    already exited, in clock ticks (getconf CLK_TCK, usually 100 per second).
 * Both count every thread (JS, libuv pool, V8 GC helpers, any native poller threads).
 */
export interface CpuSample {
  schedNs: number
  ticks: number
}

let clkTck: number | undefined
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

export function sampleCpu(pid: number): CpuSample {
  // comm, the second field of stat, is in parentheses and may hold spaces; fields are
  // counted from after the last ')'. utime and stime are fields 14 and 15 (proc(5)).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(rest[11]) + Number(rest[12])
  let schedNs = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      schedNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // The thread exited between readdir and read; the tick count still covers it.
    }
  }
  return { schedNs, ticks }
}

export interface CpuUsed {
  /** CPU-seconds from schedstat (precise), the number the report uses. */
  seconds: number
  /** CPU-seconds from utime+stime, tick-granular; a cross-check. */
  tickSeconds: number
}

export function cpuUsed(before: CpuSample, after: CpuSample): CpuUsed {
  const sched = (after.schedNs - before.schedNs) / 1e9
  const tick = (after.ticks - before.ticks) / clockTicksPerSecond()
  // A thread that exited inside the window takes its schedstat with it; the tick count
  // keeps it. If ticks exceed schedstat by more than tick granularity, trust ticks.
  const slack = 2 / clockTicksPerSecond() + 0.05 * sched
  return { seconds: tick > sched + slack ? tick : sched, tickSeconds: tick }
}

/** Per-CPU counters from /proc/stat, in clock ticks. */
export interface CoreSample {
  /** user + nice + system: time spent running tasks. */
  tasks: number
  /** irq + softirq, when the kernel accounts them apart from tasks. */
  irq: number
  /** Time the hypervisor ran something else while this virtual CPU wanted to run. */
  steal: number
}

export function sampleCore(cpu: number): CoreSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `))
  if (!line) return { tasks: NaN, irq: NaN, steal: NaN }
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  // proc(5): user nice system idle iowait irq softirq steal guest guest_nice
  return { tasks: f[0]! + f[1]! + f[2]!, irq: f[5]! + f[6]!, steal: f[7]! }
}

export interface CoreUsed {
  /**
   * Seconds the CPU ran anything but the measured process. The tick counters split
   * softirq time (here: loopback TCP work done inside the server's own send calls) out
   * of the task that ran it, while schedstat leaves it in; so the CPU's task and irq
   * ticks together, minus the process's own time, are what others took.
   */
  others: number
  irq: number
  steal: number
  /** Wall-clock seconds between the two samples. */
  window: number
}

/** What else happened on a CPU during a window in which `ownSeconds` were ours. */
export function coreUsed(before: CoreSample, after: CoreSample, ownSeconds: number, window: number): CoreUsed {
  const hz = clockTicksPerSecond()
  return {
    window,
    others: Math.max(0, (after.tasks - before.tasks + after.irq - before.irq) / hz - ownSeconds),
    irq: (after.irq - before.irq) / hz,
    steal: (after.steal - before.steal) / hz,
  }
}
