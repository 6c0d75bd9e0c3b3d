/** Command-line options of `node dist/bench/run.js`. */
export interface Options {
  /** Seconds per measured round (wrk's -d accepts whole seconds only). */
  duration: number
  /** Measured rounds per (server, scenario); the report gives their median. */
  rounds: number
  /** Seconds of unrecorded load per (server, scenario) before its first round. */
  warmup: number
  connections: number
  /** Server names to run, in order; empty means every available server. */
  only: string[]
  /** Scenario names to run, in order; empty means all. */
  scenarios: string[]
  serverCpu: number
  clientCpu: number
  /** Write bench/RESULTS.md and bench/results/<timestamp>.json. */
  save: boolean
  verbose: boolean
  help: boolean
}

export const usage = `usage: node dist/bench/run.js [options]   (or: npm run bench -- [options])

  --duration=S      seconds per measured round            (default 5)
  --rounds=N        measured rounds per server, >= 1      (default 3)
  --warmup=S        unrecorded warm-up seconds, 0 = none  (default 2)
  --connections=N   wrk connections                       (default 64)
  --only=a,b        servers: farad,node,fastify           (default: all available)
  --scenarios=a,b   plaintext,json,param,echo,pipelined,churn (default: all)
  --quick           --duration=3 --rounds=2 --warmup=1 (explicit options still win)
  --server-cpu=N    CPU the servers are pinned to         (default 0)
  --client-cpu=N    CPU wrk is pinned to                  (default 1)
  --no-save         print only; do not write bench/RESULTS.md or bench/results/
  --verbose         print every wrk command and raw result
  --help`

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}

function integer(name: string, value: string, min: number): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} wants an integer >= ${min}, got "${value}"`)
  return n
}

export function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    duration: 5, rounds: 3, warmup: 2, connections: 64, only: [], scenarios: [],
    serverCpu: 0, clientCpu: 1, save: true, verbose: false, help: false,
  }
  const explicit = new Set<string>()
  let quick = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"\n${usage}`)
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    const takesValue = !['quick', 'no-save', 'verbose', 'help'].includes(name)
    let value = eq === -1 ? undefined : arg.slice(eq + 1)
    if (takesValue && value === undefined) {
      value = argv[++i]
      if (value === undefined) throw new Error(`--${name} needs a value`)
    }
    const v = value ?? ''
    explicit.add(name)
    switch (name) {
      case 'duration': o.duration = integer(name, v, 1); break
      case 'rounds': o.rounds = integer(name, v, 1); break
      case 'warmup': o.warmup = integer(name, v, 0); break
      case 'connections': o.connections = integer(name, v, 1); break
      case 'only': o.only = list(v); break
      case 'scenarios': o.scenarios = list(v); break
      case 'server-cpu': o.serverCpu = integer(name, v, 0); break
      case 'client-cpu': o.clientCpu = integer(name, v, 0); break
      case 'quick': quick = true; break
      case 'no-save': o.save = false; break
      case 'verbose': o.verbose = true; break
      case 'help': o.help = true; break
      default: throw new Error(`unknown option --${name}\n${usage}`)
    }
  }
  if (quick) {
    if (!explicit.has('duration')) o.duration = 3
    if (!explicit.has('rounds')) o.rounds = 2
    if (!explicit.has('warmup')) o.warmup = 1
  }
  if (o.serverCpu === o.clientCpu) throw new Error('--server-cpu and --client-cpu must differ')
  return o
}
