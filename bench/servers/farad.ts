// farad through its public API, serving the same endpoints as node-http.ts and fastify.ts.
//
// The API is imported dynamically and described by the small interface below, so this
// file compiles while src/index.ts does not export Server yet. Once it does, this can
// become `import { Server } from '../../src/index.js'` with the same body.
interface Context {
  string(status: number, body: string): unknown
  json(status: number, value: unknown): unknown
  data(status: number, contentType: string, body: Uint8Array): unknown
  param(name: string): string | undefined
  body(): Promise<Uint8Array>
}
type Handler = (ctx: Context) => unknown
interface App {
  get(path: string, handler: Handler): unknown
  post(path: string, handler: Handler): unknown
  listen(options: { host: string; port: number }): Promise<unknown>
  close(): Promise<unknown>
}

// Relative to the compiled file: dist/bench/servers/farad.js -> dist/src/index.js.
const entry = '../../src/index.js'
const { Server } = (await import(entry)) as { Server?: new () => App }
if (typeof Server !== 'function') {
  console.error('farad: dist/src/index.js does not export Server yet')
  process.exit(2)
}

const app = new Server()
app.get('/plaintext', (ctx) => ctx.string(200, 'Hello, World!'))
app.get('/json', (ctx) => ctx.json(200, { message: 'Hello, World!' }))
app.get('/user/:id', (ctx) => ctx.json(200, { id: ctx.param('id') }))
app.post('/echo', async (ctx) => ctx.data(200, 'application/octet-stream', await ctx.body()))

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
console.log('ready')

process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})
