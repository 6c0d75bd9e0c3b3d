// fastify 5 at its best: logger off, response schemas so replies go through
// fast-json-stringify, and a raw-buffer parser for the echo body.
import Fastify from 'fastify'

const HELLO = 'Hello, World!'
const app = Fastify({ logger: false })

app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

app.get('/plaintext', (_req, reply) => {
  reply.type('text/plain').send(HELLO)
})

app.get('/json', {
  schema: { response: { 200: { type: 'object', properties: { message: { type: 'string' } } } } },
}, (_req, reply) => {
  reply.send({ message: HELLO })
})

app.get<{ Params: { id: string } }>('/user/:id', {
  schema: { response: { 200: { type: 'object', properties: { id: { type: 'string' } } } } },
}, (req, reply) => {
  reply.send({ id: req.params.id })
})

app.post('/echo', (req, reply) => {
  reply.type('application/octet-stream').send(req.body as Buffer)
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
console.log('ready')

process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})
