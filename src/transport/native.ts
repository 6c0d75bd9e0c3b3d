/**
 * The native epoll transport: owns the addon's server handle and the shared
 * memory regions it reads and writes. The protocol layer reads requests out
 * of `events`/`headers`/`input` inside `onBatch` and leaves responses in
 * `records`/`output`.
 */
import { CONTROL_SIZE, EVENT_STRIDE, HEADER_STRIDE, RECORD_STRIDE } from "./layout.js";
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

export class NativeTransport implements NativeRegions {
  readonly control: Int32Array;
  readonly events: Int32Array;
  readonly headers: Int32Array;
  readonly input: Buffer;
  readonly records: Int32Array;
  readonly output: Buffer;
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
    const numeric: Record<string, number> = { ...options };
    this.handle = new addon.ServerHandle(
      numeric,
      this,
      () => sink.onBatch(),
      () => sink.onBatchEnd(),
    );
  }

  get recordCapacity(): number {
    return MAX_RECORDS;
  }
}
