import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** A free TCP port on 127.0.0.1, found by letting the kernel pick one. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      s.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

/**
 * One server under test: a child `node <script>` pinned with taskset, listening on PORT,
 * that prints "ready" once listening and exits on SIGTERM. taskset execs node, so the
 * child's pid is node's pid and /proc/<pid> describes the server itself.
 */
export class ServerProcess {
  readonly port: number
  readonly pid: number
  #child: ChildProcess
  #exit: Promise<void>
  #exited = false
  #stderr = ''
  #paused = false

  private constructor(child: ChildProcess, port: number) {
    this.#child = child
    this.port = port
    this.pid = child.pid!
    this.#exit = new Promise((resolve) => child.once('exit', () => { this.#exited = true; resolve() }))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      // Keep the tail only: enough to say why a server died.
      this.#stderr = (this.#stderr + d).slice(-4000)
    })
  }

  static async start(script: string, cpu: number | undefined, timeoutMs = 20_000, env: Record<string, string> = {}, nodeArgs: readonly string[] = []): Promise<ServerProcess> {
    const port = await freePort()
    const argv = [process.execPath, ...nodeArgs, script]
    const full = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv]
    const child = spawn(full[0]!, full.slice(1), {
      env: { ...process.env, ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const sp = new ServerProcess(child, port)
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => fail(new Error(`no "ready" within ${timeoutMs} ms`)), timeoutMs)
      const fail = (err: Error): void => {
        clearTimeout(timer)
        child.kill('SIGKILL')
        reject(new Error(`${err.message}${sp.#stderr ? `\n${sp.#stderr.trim()}` : ''}`))
      }
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        fail(new Error(`exited with ${signal ?? code} before "ready"`))
      child.on('error', fail)
      child.once('exit', onExit)
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d
        if (/^ready\s*$/m.test(out)) {
          clearTimeout(timer)
          child.removeListener('exit', onExit)
          resolve()
        }
      })
    })
    // Later stdout is not read by anyone; let it drain so the server never blocks on a full pipe.
    child.stdout!.resume()
    return sp
  }

  get alive(): boolean {
    return !this.#exited && this.#child.exitCode === null && this.#child.signalCode === null
  }

  get stderrTail(): string {
    return this.#stderr.trim()
  }

  /** The process name the kernel reports; "node" once taskset has exec'd. */
  comm(): string {
    try { return readFileSync(`/proc/${this.pid}/comm`, 'utf8').trim() } catch { return '?' }
  }

  /**
   * SIGSTOP an idle server while another one is measured, so its leftover work (GC, the
   * memory reducer, closing sockets) cannot take the shared server CPU from the one
   * being measured. It holds no connections between rounds.
   */
  pause(): void {
    if (this.alive && !this.#paused) { this.#child.kill('SIGSTOP'); this.#paused = true }
  }

  resume(): void {
    if (this.alive && this.#paused) { this.#child.kill('SIGCONT'); this.#paused = false }
  }

  async stop(timeoutMs = 5000): Promise<void> {
    if (!this.alive) return
    this.resume() // a stopped process keeps SIGTERM pending until continued
    this.#child.kill('SIGTERM')
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs)
    await this.#exit
    clearTimeout(timer)
  }
}
