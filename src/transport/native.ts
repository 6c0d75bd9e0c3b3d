/**
 * The native epoll transport: owns the addon's server handle and the shared
 * memory regions it reads and writes. The protocol layer reads requests out
 * of `events`/`headers`/`input` inside `onBatch` and leaves responses in
 * `records`/`output`.
 */
import { C_SLAB_USED, CONTROL_SIZE, EVENT_STRIDE, HEADER_STRIDE, RECORD_STRIDE, SLAB_MIN_ROOM } from "./layout.js";
import { loadNative, type NativeRegions, type NativeServerHandle } from "./binding.js";

export interface NativeTransportOptions {
  maxRequestLine: number;
  maxHeaderBytes: number;
  maxHeaders: number;
  maxTrailerBytes: number;
  maxPipelined: number;
  maxConnections: number;
  maxBufferedBytes: number;
  inlineBodyMax: number;
  headersTimeout: number;
  bodyTimeout: number;
  keepAliveTimeout: number;
  writeTimeout: number;
  lingerTimeout: number;
  outHighWater: number;
  inHighWater: number;
  /** Events per call into JS; 0 = the region's capacity. */
  maxBatch: number;
  /** Bytes of the shared input region (request heads and body chunks of one batch). */
  inputBytes: number;
  /** Bytes of the shared output region (serialized responses between flushes). */
  outputBytes: number;
}

export interface TransportSink {
  onBatch(): void;
  onBatchEnd(): void;
}

const MAX_EVENTS = 1024;
const MAX_RECORDS = 2048;
/**
 * Size of a body slab (server/layout.h): the reactor reads request bodies
 * into it and body chunks are views of it. A chunk kept by user code keeps
 * its slab alive, so this bounds what one retained chunk can pin. Measured
 * (bench/bodies.ts, 64 MiB/s consumer): 4 MiB slabs let RSS grow 15-17 MiB,
 * 1 MiB slabs 5-7 MiB, at no cost in upload CPU.
 */
export const BODY_SLAB_BYTES = 1024 * 1024;

export class NativeTransport implements NativeRegions {
  readonly control: Int32Array;
  readonly events: Int32Array;
  readonly headers: Int32Array;
  readonly input: Buffer;
  readonly records: Int32Array;
  readonly output: Buffer;
  /** The body slab the reactor appends to; body events name ranges of it. Replaced when nearly full. */
  bodySlab: Buffer;
  readonly handle: NativeServerHandle;

  constructor(options: NativeTransportOptions, sink: TransportSink) {
    const addon = loadNative();
    this.control = new Int32Array(CONTROL_SIZE);
    this.events = new Int32Array(MAX_EVENTS * EVENT_STRIDE);
    // Room for every header of a full batch of maximal requests is wasteful;
    // the reactor ends a batch early when rows run out.
    this.headers = new Int32Array(Math.max(8192, options.maxHeaders * 4) * HEADER_STRIDE);
    this.input = Buffer.alloc(Math.max(options.inputBytes, options.maxHeaderBytes + options.inlineBodyMax + 1024));
    this.records = new Int32Array(MAX_RECORDS * RECORD_STRIDE);
    this.output = Buffer.alloc(options.outputBytes);
    // Uninitialized, like Buffer.allocUnsafe: views only ever cover bytes
    // the reactor wrote.
    this.bodySlab = Buffer.allocUnsafeSlow(BODY_SLAB_BYTES);
    const numeric: Record<string, number> = { ...options };
    this.handle = new addon.ServerHandle(
      numeric,
      this,
      () => {
        try {
          sink.onBatch();
        } finally {
          this.#refillSlab();
        }
      },
      () => sink.onBatchEnd(),
    );
  }

  /**
   * After a batch (its body events are taken): a fresh slab when the room
   * left is short. The old one is never written again; it lives as long as
   * views of it do.
   */
  #refillSlab(): void {
    if (this.bodySlab.length - this.control[C_SLAB_USED]! >= SLAB_MIN_ROOM) return;
    this.bodySlab = Buffer.allocUnsafeSlow(BODY_SLAB_BYTES);
    this.handle.setBodySlab(this.bodySlab);
  }

  get recordCapacity(): number {
    return MAX_RECORDS;
  }
}
