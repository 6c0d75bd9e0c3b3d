/**
 * Loads the native addon: a prebuilt binary from prebuilds/ when one matches
 * this platform, else the local build in build/Release (node-gyp-build).
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ErrorCodes } from '../common/errors.js'

export interface NativeServerHandle {
  listen(ip: string, port: number, backlog: number, reusePort: boolean, ipv6Only: boolean): number
  flush(): void
  writeExternal(slot: number, gen: number, seq: number, bytes: Uint8Array, flags: number): boolean
  peerAddress(slot: number, gen: number): [string, number] | null
  writeChunk(slot: number, gen: number, seq: number, bytes: Uint8Array, flags: number, chunked: boolean): number
  sendFile(slot: number, gen: number, seq: number, fd: number, offset: number, length: number, flags: number): boolean
  pauseBody(slot: number, gen: number, seq: number, pause: boolean): boolean
  sendContinue(slot: number, gen: number, seq: number): boolean
  setBodySlab(bytes: Uint8Array): void
  stopAccepting(): void
  closeIdle(): void
  closeAll(): void
  destroy(): void
}

export interface NativeClientHandle {
  connect(ip: string, port: number, out: Uint32Array): number
  write(slot: number, gen: number, bytes: Uint8Array, method: number): number
  pause(slot: number, gen: number, paused: boolean): boolean
  close(slot: number, gen: number): boolean
  localPort(slot: number, gen: number): number
  ref(on: boolean): void
  openConnections(): number
  destroy(): void
}

export interface NativeRegions {
  control: Int32Array
  events: Int32Array
  headers: Int32Array
  input: Buffer
  records: Int32Array
  output: Buffer
  bodySlab: Buffer
}

export interface NativeAddon {
  ServerHandle: new (
    options: Record<string, number>,
    regions: NativeRegions,
    onBatch: () => void,
    onBatchEnd: () => void,
  ) => NativeServerHandle
  ClientHandle: new (
    options: Record<string, number>,
    onBatch: (events: Int32Array, count: number, slab: Buffer | null, codes: string[] | null) => void,
  ) => NativeClientHandle
  parseHead(bytes: Uint8Array): number
  layoutVersion: number
}

const require = createRequire(import.meta.url)
// dist/src/transport/binding.js -> the package root, three levels up.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

let loaded: NativeAddon | undefined
let loadError: Error | undefined

/** The addon, or throws a FARAD_ERR_NATIVE_UNAVAILABLE error saying why. */
export function loadNative(): NativeAddon {
  if (loaded) return loaded
  if (!loadError) {
    try {
      // FARAD_ADDON names a specific build (the sanitizer build, say).
      const override = process.env.FARAD_ADDON
      if (override) {
        loaded = require(override) as NativeAddon
      } else {
        const load = require('node-gyp-build') as (dir: string) => NativeAddon
        loaded = load(root)
      }
      return loaded
    } catch (e) {
      loadError = e as Error
    }
  }
  const err = new Error(
    `farad's native addon could not be loaded (${loadError.message}); run \`npm run build:native\` or install on a platform with a prebuild`,
  ) as Error & { code: string; cause: unknown }
  err.code = ErrorCodes.NATIVE_UNAVAILABLE
  err.cause = loadError
  throw err
}

/** The addon if it loads, else undefined (for benchmarks and feature checks). */
export const native: NativeAddon | undefined = (() => {
  try {
    return loadNative()
  } catch {
    return undefined
  }
})()
