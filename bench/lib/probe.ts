import { connect } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import type { Scenario } from './scenarios.js'

/**
 * A deliberately small HTTP/1.1 client over a raw socket, so the check sees exactly what
 * wrk will see: pipelined answers in order, and whether the server closes after
 * `Connection: close` (if it does not, wrk keeps the connection and "churn" would not churn).
 */
export interface RawResponse {
  status: number
  headers: Map<string, string>
  body: Buffer
}

function parseOne(buf: Buffer, eof: boolean): { res: RawResponse; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n')
  if (end === -1) return undefined
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`)
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':')
    const k = line.slice(0, c).trim().toLowerCase()
    const v = line.slice(c + 1).trim()
    headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v)
  }
  const status = Number(m[1])
  let at = end + 4
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const parts: Buffer[] = []
    for (;;) {
      const eol = buf.indexOf('\r\n', at)
      if (eol === -1) return undefined
      const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16)
      if (Number.isNaN(size)) throw new Error('bad chunk size')
      if (size === 0) {
        // The last chunk is followed by optional trailer fields and an empty line.
        if (buf.length < eol + 4) return undefined
        let done = eol + 4
        if (buf[eol + 2] !== 13 || buf[eol + 3] !== 10) {
          const t = buf.indexOf('\r\n\r\n', eol + 2)
          if (t === -1) return undefined
          done = t + 4
        }
        return { res: { status, headers, body: Buffer.concat(parts) }, used: done }
      }
      if (eol + 2 + size + 2 > buf.length) return undefined
      parts.push(buf.subarray(eol + 2, eol + 2 + size))
      at = eol + 2 + size + 2
    }
  }
  const cl = headers.get('content-length')
  if (cl !== undefined) {
    const n = Number(cl)
    if (buf.length < at + n) return undefined
    return { res: { status, headers, body: Buffer.from(buf.subarray(at, at + n)) }, used: at + n }
  }
  if (status === 204 || status === 304) return { res: { status, headers, body: Buffer.alloc(0) }, used: at }
  if (!eof) return undefined // body delimited by close
  return { res: { status, headers, body: Buffer.from(buf.subarray(at)) }, used: buf.length }
}

export interface Exchange {
  responses: RawResponse[]
  /** The server closed its side after the last answer (within the wait). */
  closedByServer: boolean
}

/** Writes `request` once and reads `count` answers; then waits a moment to see if the server closes. */
export function exchange(port: number, request: Buffer, count: number, timeoutMs = 3000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    const responses: RawResponse[] = []
    let eof = false
    let settled = false
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(closeWait)
      sock.destroy()
      if (err) reject(err)
      else resolve({ responses, closedByServer: eof })
    }
    const timer = setTimeout(() => finish(new Error(`timed out after ${responses.length}/${count} answers`)), timeoutMs)
    let closeWait: NodeJS.Timeout | undefined
    const drain = (): void => {
      try {
        for (;;) {
          const r = parseOne(buf, eof)
          if (!r) break
          responses.push(r.res)
          buf = buf.subarray(r.used)
          if (eof && buf.length === 0) break
        }
      } catch (err) {
        finish(err as Error)
        return
      }
      if (responses.length >= count && closeWait === undefined) {
        // Give a server that should close a short while to do it.
        closeWait = setTimeout(() => finish(), eof ? 0 : 300)
      }
      if (eof) {
        if (responses.length >= count) finish()
        else finish(new Error(`server closed after ${responses.length}/${count} answers`))
      }
    }
    sock.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); drain() })
    sock.on('end', () => { eof = true; drain() })
    sock.on('error', (err) => finish(err))
    sock.write(request)
  })
}

export function requestBytes(s: Scenario, port: number): Buffer {
  const head = [`${s.method} ${s.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`]
  for (const [k, v] of Object.entries(s.headers)) head.push(`${k}: ${v}`)
  if (s.body) head.push(`Content-Length: ${s.body.length}`)
  const one = Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), s.body ?? Buffer.alloc(0)])
  return Buffer.concat(Array.from({ length: s.pipeline }, () => one))
}

/** Sends the scenario's request(s) once; returns why the answer is wrong, or undefined if right. */
export async function checkScenario(s: Scenario, port: number): Promise<string | undefined> {
  let ex: Exchange
  try {
    ex = await exchange(port, requestBytes(s, port), s.pipeline)
  } catch (err) {
    return (err as Error).message
  }
  if (ex.responses.length !== s.pipeline) return `expected ${s.pipeline} answers, got ${ex.responses.length}`
  for (const [i, r] of ex.responses.entries()) {
    const which = s.pipeline > 1 ? `answer ${i + 1}: ` : ''
    if (r.status !== s.expect.status) return `${which}status ${r.status}, expected ${s.expect.status}`
    const ct = r.headers.get('content-type') ?? ''
    if (s.expect.contentType && !ct.startsWith(s.expect.contentType)) {
      return `${which}content-type "${ct}", expected ${s.expect.contentType}`
    }
    const want = s.expect.body
    if ('bytes' in want) {
      if (!r.body.equals(want.bytes)) return `${which}body ${JSON.stringify(r.body.toString().slice(0, 80))} differs (${r.body.length} bytes, expected ${want.bytes.length})`
    } else {
      let got: unknown
      try { got = JSON.parse(r.body.toString()) } catch { return `${which}body is not JSON: ${JSON.stringify(r.body.toString().slice(0, 80))}` }
      if (!isDeepStrictEqual(got, want.json)) return `${which}body ${r.body.toString().slice(0, 80)}, expected ${JSON.stringify(want.json)}`
    }
  }
  if (s.closes) {
    const last = ex.responses[ex.responses.length - 1]!
    if (!/\bclose\b/i.test(last.headers.get('connection') ?? '')) return 'answer to "Connection: close" lacks "Connection: close"'
    if (!ex.closedByServer) return 'server kept the connection open after "Connection: close"'
  }
  return undefined
}
