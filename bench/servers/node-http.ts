// node:http with a hand-written router: the baseline every ratio is taken against.
// Idiomatic and lean: no framework, one switch, explicit Content-Length.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'

const HELLO = 'Hello, World!'

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

function echo(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => send(res, 200, 'application/octet-stream', chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)))
}

const server = createServer((req, res) => {
  const url = req.url ?? '/'
  if (req.method === 'GET') {
    switch (url) {
      case '/plaintext': return send(res, 200, 'text/plain', HELLO)
      case '/json': return send(res, 200, 'application/json', JSON.stringify({ message: HELLO }))
    }
    if (url.startsWith('/user/')) {
      const q = url.indexOf('?')
      const raw = q === -1 ? url.slice(6) : url.slice(6, q)
      if (raw.length > 0 && !raw.includes('/')) {
        // Routers decode parameters; do the same, but only when there is something to decode.
        let id = raw
        if (raw.includes('%')) {
          try { id = decodeURIComponent(raw) } catch { return send(res, 400, 'text/plain', 'Bad Request') }
        }
        return send(res, 200, 'application/json', JSON.stringify({ id }))
      }
    }
  } else if (req.method === 'POST' && url === '/echo') {
    return echo(req, res)
  }
  send(res, 404, 'text/plain', 'Not Found')
})

server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'))

process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
