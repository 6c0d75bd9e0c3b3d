// The memory shared between the reactor and JavaScript, and the meaning of
// every slot. JavaScript allocates all of it (so no external buffers are
// needed) and keeps it alive as long as the server handle lives; the native
// side only reads and writes inside it. src/transport/layout.ts mirrors this
// file: change both together.
#pragma once
#include <cstdint>

namespace farad::layout {

// control: Int32Array
enum Control : int {
  kEvents = 0,        // native: events in the current batch
  kOutRecords = 1,    // JS: output records waiting in `records`
  kOutUsed = 2,       // JS: bytes used in `out`
  kDetach = 3,        // JS: 1 = contexts still point into `in`; call onBatchEnd
  kNowSec = 4,        // native: wall-clock seconds at the start of the batch
  kInBatch = 5,       // native: 1 while a batch call (and its microtasks) runs; records are applied after it
  kSlabUsed = 6,      // native: bytes of the body slab written so far (see kSlabMinRoom)
  kConnections = 8,   // native: open connections
  kAccepted = 9,      // native: connections accepted (wraps)
  kRequests = 10,     // native: requests dispatched (wraps)
  kParseErrors = 11,  // native: requests refused by the parser
  kTimeouts = 12,     // native: connections closed by a timeout
  kReadPaused = 13,   // native: connections whose reading is paused
  kBufferedBytes = 14,// native: bytes held in input blocks
  kAcceptPaused = 15, // native: 1 while accepting is paused (EMFILE)
  kOverBudget = 16,   // native: 1 while reading is paused everywhere (memory budget)
  kControlSize = 32
};

// events: Int32Array, kEventStride slots each
enum EventType : int32_t { kRequest = 1, kBody = 2, kClose = 3, kDrain = 4 };
enum Event : int {
  kType = 0,
  kSlot = 1,
  kGen = 2,
  kSeq = 3,
  kHeadOff = 4,      // request: head offset in `in`
  kHeadLen = 5,
  kMethod = 6,       // method code | version_minor << 8 | method_len << 16
  kTargetOff = 7,    // absolute offset in `in`
  kTargetLen = 8,
  kPathLen = 9,
  kHeaderIndex = 10, // first row in `headers`
  kHeaderCount = 11,
  kBodyOff = 12,     // request: inline body offset in `in`; body event: offset in the body slab
  kBodyLen = 13,
  kFlags = 14,
  kLengthLo = 15,    // Content-Length, low and high 32 bits (unsigned)
  kLengthHi = 16,
  kReadUs = 17,      // request: microseconds from the head's first byte to its parse
  kEventStride = 20
};

// request and body event flags
enum Flags : int32_t {
  kKeepAlive = 1 << 0,
  kExpectContinue = 1 << 1,
  kUpgrade = 1 << 2,
  kChunked = 1 << 3,
  kBodyEnd = 1 << 4,    // the whole body is in this event (or: last body event)
  kHasBody = 1 << 5,    // the request has a body (Content-Length > 0 or chunked)
  kConnClose = 1 << 6,  // the client sent Connection: close
  kBodyError = 1 << 7,  // body event: the body was malformed or cut off
  kTargetFormShift = 8  // 2 bits: origin, absolute, authority, asterisk
};

// The body slab: a Buffer JavaScript gives the reactor (setBodySlab), into
// which request body bytes are read or copied, each body event naming a
// range of it. The reactor only appends after kSlabUsed and never writes a
// byte twice, so JavaScript hands those ranges to user code as views, without
// a copy. After every batch JavaScript gives a fresh slab when less than
// kSlabMinRoom bytes are left; the reactor ends a batch early when it needs
// room. Ranges of different events start 8-byte aligned.
constexpr uint32_t kSlabMinRoom = 65536;

// headers: Int32Array, 4 slots a field: name offset, name length, value
// offset, value length (offsets absolute in `in`).
constexpr int kHeaderStride = 4;

// records: Int32Array, kRecordStride slots each
enum Record : int {
  kRecSlot = 0,
  kRecGen = 1,
  kRecSeq = 2,
  kRecOff = 3,  // offset in `out`
  kRecLen = 4,
  kRecFlags = 5,
  kRecordStride = 8
};
enum RecordFlags : int32_t {
  kRecEnd = 1,    // the response to `seq` is complete
  kRecClose = 2,  // close the connection once this is written
};

}  // namespace farad::layout
