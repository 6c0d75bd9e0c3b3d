/**
 * The load scenarios. Each one is a request wrk sends over and over, the wrk Lua that
 * shapes it, and the answer every server must give before it is measured.
 */
export interface Scenario {
  name: string
  description: string
  method: 'GET' | 'POST'
  path: string
  /** Extra request headers, passed to wrk as -H so the command can be rerun by hand. */
  headers: Record<string, string>
  body?: Buffer
  /** Requests written back to back per connection before reading answers. */
  pipeline: number
  /** The server must answer with `Connection: close` and close the socket. */
  closes: boolean
  /** Lua run by wrk before the shared done() hook. */
  lua: string
  expect: Expected
}

export interface Expected {
  status: number
  /** Required prefix of the Content-Type, if any. */
  contentType?: string
  /** Exact body bytes, or a value the JSON body must deep-equal. */
  body: { bytes: Buffer } | { json: unknown }
}

export const ECHO_BODY = Buffer.from('0123456789abcdef'.repeat(64)) // 1 KiB
export const PIPELINE_DEPTH = 16
const HELLO = 'Hello, World!'

export const scenarios: readonly Scenario[] = [
  {
    name: 'plaintext',
    description: 'GET /plaintext -> 200 text/plain "Hello, World!", keep-alive',
    method: 'GET', path: '/plaintext', headers: {}, pipeline: 1, closes: false, lua: '',
    expect: { status: 200, contentType: 'text/plain', body: { bytes: Buffer.from(HELLO) } },
  },
  {
    name: 'json',
    description: 'GET /json -> 200 application/json {"message":"Hello, World!"}, keep-alive',
    method: 'GET', path: '/json', headers: {}, pipeline: 1, closes: false, lua: '',
    expect: { status: 200, contentType: 'application/json', body: { json: { message: HELLO } } },
  },
  {
    name: 'param',
    description: 'GET /user/12345 -> 200 application/json {"id":"12345"} from the route parameter',
    method: 'GET', path: '/user/12345', headers: {}, pipeline: 1, closes: false, lua: '',
    expect: { status: 200, contentType: 'application/json', body: { json: { id: '12345' } } },
  },
  {
    name: 'echo',
    description: 'POST /echo with a 1 KiB application/octet-stream body -> the same body back',
    method: 'POST', path: '/echo', headers: { 'Content-Type': 'application/octet-stream' },
    body: ECHO_BODY, pipeline: 1, closes: false,
    // wrk.format adds Content-Length for a body.
    lua: `wrk.method = "POST"\nwrk.body = string.rep("0123456789abcdef", 64)\n`,
    expect: { status: 200, body: { bytes: ECHO_BODY } },
  },
  {
    name: 'pipelined',
    description: `GET /plaintext, ${PIPELINE_DEPTH} requests pipelined per connection (wrk's pipeline.lua)`,
    method: 'GET', path: '/plaintext', headers: {}, pipeline: PIPELINE_DEPTH, closes: false,
    lua: [
      'init = function(args)',
      '  local r = {}',
      `  for i = 1, ${PIPELINE_DEPTH} do r[i] = wrk.format(nil, "/plaintext") end`,
      '  pipelined = table.concat(r)',
      'end',
      'request = function() return pipelined end',
      '',
    ].join('\n'),
    expect: { status: 200, contentType: 'text/plain', body: { bytes: Buffer.from(HELLO) } },
  },
  {
    name: 'churn',
    description: 'GET /plaintext with Connection: close: one new TCP connection per request',
    method: 'GET', path: '/plaintext', headers: { Connection: 'close' }, pipeline: 1, closes: true,
    lua: '',
    expect: { status: 200, contentType: 'text/plain', body: { bytes: Buffer.from(HELLO) } },
  },
]

/**
 * Printed by every script's done(): one line the harness parses.
 *
 * Latency percentiles are computed here, not with wrk's latency:percentile(). wrk 4
 * "corrects" its histogram for coordinated omission before done() runs (stats_correct
 * in wrk.c): for every recorded latency n >= 2e, where e = duration / (requests /
 * connections), it adds synthetic samples at n-e, n-2e, ... down to e. With pipelining
 * e is a sixteenth of a batch's latency, so nearly every sample is synthetic, and
 * percentile() then walks from the pre-correction minimum and returns 0 for high
 * percentiles. The hook reads the histogram, removes exactly what stats_correct added
 * (walking values downwards, per residue class mod e) and reports nearest-rank
 * percentiles of the samples wrk really measured. With pipelining wrk records one
 * sample per batch: from writing the first request to reading the last answer.
 *
 * latency(i) costs O(max - min) in wrk, so reading the histogram is quadratic; when
 * that would take more than several seconds the percentiles are reported as -1.
 */
export const DONE_MARKER = 'FARAD_WRK '

function doneHook(connections: number): string {
  return `
local CONNECTIONS = ${connections}

local function measured(summary, latency)
  local n, lo, hi = #latency, latency.min, latency.max
  if n == 0 or n * (hi - lo) > 3e10 then return nil end
  local vals, counts = {}, {}
  for i = 1, n do
    local v, c = latency(i)
    vals[i], counts[i] = v, c
  end
  local batches = math.floor(summary.requests / CONNECTIONS)
  if batches > 0 then
    local e = math.floor(summary.duration / batches)
    if e > 0 then
      local below = {} -- per residue mod e: measured samples at higher values
      for i = n, 1, -1 do
        local v = vals[i]
        if v > e then
          local r = v % e
          local c = counts[i] - (below[r] or 0)
          if c < 0 then c = 0 end
          counts[i] = c
          below[r] = (below[r] or 0) + c
        end
      end
    end
  end
  local total, sum = 0, 0
  for i = 1, n do total = total + counts[i]; sum = sum + counts[i] * vals[i] end
  local wanted = { 50, 90, 99, 99.9 }
  local out, k, seen = {}, 1, 0
  for i = 1, n do
    seen = seen + counts[i]
    while k <= #wanted and seen >= math.ceil(wanted[k] / 100 * total) do
      out[k] = vals[i]
      k = k + 1
    end
  end
  return { samples = total, p50 = out[1], p90 = out[2], p99 = out[3], p999 = out[4], mean = sum / total }
end

done = function(summary, latency, requests)
  local e = summary.errors
  local m = measured(summary, latency) or { samples = -1, p50 = -1, p90 = -1, p99 = -1, p999 = -1, mean = -1 }
  io.write(string.format(
    '\\n${DONE_MARKER}{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"samples":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    m.samples, m.p50, m.p90, m.p99, m.p999, latency.max, m.mean))
end
`
}

export function luaFor(s: Scenario, connections: number): string {
  return `-- farad bench scenario "${s.name}": ${s.description}\n${s.lua}${doneHook(connections)}`
}
