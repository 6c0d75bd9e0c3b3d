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
/** Slabs kept for reuse (see BodySlab); more are left to the GC. */
const FREE_SLABS = 4;

/**
 * A body slab and who still uses its bytes. Chunks lent to a handler
 * (ctx.bodyChunks()) are leases that come back when the handler moves on;
 * a chunk given for good (bodyStream(), body(), a chunk that arrived before
 * the handler chose) marks the slab kept. A slab the reactor has finished
 * with (retired) is reused once its leases are back, unless it is kept: no
 * fresh memory, no garbage and so no GC for a body read with bodyChunks().
 */
export class BodySlab {
  /** Chunks of it lent and not given back yet. */
  leases = 0;
  /** A chunk of it was handed over for good: never reused, left to the GC. */
  kept = false;
  /** The reactor writes into another slab now. */
  retired = false;
  constructor(readonly bytes: Buffer) {}
}

export class NativeTransport implements NativeRegions {
  readonly control: Int32Array;
  readonly events: Int32Array;
  readonly headers: Int32Array;
  readonly input: Buffer;
  readonly records: Int32Array;
  readonly output: Buffer;
  /** The body slab the reactor appends to; body events name ranges of it. Replaced when nearly full. */
  slab: BodySlab;
  readonly handle: NativeServerHandle;
  #free: BodySlab[] = [];

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
    this.slab = new BodySlab(Buffer.allocUnsafeSlow(BODY_SLAB_BYTES));
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

  /** The current slab's bytes (the binding reads the region by this name). */
  get bodySlab(): Buffer {
    return this.slab.bytes;
  }

  /** A lent chunk of `slab` is back; the slab is reused once all are. */
  giveBack(slab: BodySlab): void {
    if (--slab.leases === 0 && slab.retired) this.#recycle(slab);
  }

  /**
   * After a batch (its body events are taken): another slab when the room
   * left is short. The old one is never written again while a view of it
   * may be in use: it is reused only when it was never kept and every lent
   * chunk of it is back, else it lives as long as its views do.
   */
  #refillSlab(): void {
    const old = this.slab;
    if (old.bytes.length - this.control[C_SLAB_USED]! >= SLAB_MIN_ROOM) return;
    old.retired = true;
    if (old.leases === 0) this.#recycle(old);
    const next = this.#free.pop() ?? new BodySlab(Buffer.allocUnsafeSlow(BODY_SLAB_BYTES));
    next.retired = false;
    this.slab = next;
    this.handle.setBodySlab(next.bytes);
  }

  #recycle(slab: BodySlab): void {
    if (!slab.kept && this.#free.length < FREE_SLABS) this.#free.push(slab);
  }

  get recordCapacity(): number {
    return MAX_RECORDS;
  }
}
