// The HTTP/1.1 client core: outbound connections on their own level-triggered
// epoll reactor, requests written with one send where the socket takes them,
// responses parsed incrementally (ResponseScanner, parse_response_head,
// ChunkedDecoder) and handed to JS in one batch per reactor turn.
//
// JS owns the policy (pool, timeouts, retries, what to send next); the core
// owns the bytes. It knows, per connection, how many responses it still
// expects (one per request head written, with the request's method, since a
// response to HEAD has no body) and how the current one is framed.
//
// A batch is `events`, int32 records of variable length (type, slot, gen,
// n, then n extra words), whose offsets point into the current slab: a
// Buffer JavaScript owns, which reads fill in place (the kernel's copy is
// the only one) and heads split across reads are gathered into. When a
// slab has no room left, the sink gives a new one at the start of a turn.
// Record types and their extra words:
//
//   kEvConnect  err                     the connect finished (0) or failed (-errno)
//   kEvHead     status flags keepAliveTimeout clLow clHigh headOff headLen
//               fieldCount then 4 words per field (name off, len, value off, len)
//   kEvData     off len                 body bytes
//   kEvEnd                              the response is complete
//   kEvError    errno started code      the connection failed and is closed;
//                                       started = a byte of the current response
//                                       had arrived; code indexes the batch's
//                                       codes (a FARAD_ERR_*), -1 with an errno
//   kEvEof                              the peer closed a connection with no
//                                       response outstanding; it is closed
//   kEvDrain                            unsent request bytes went to zero
//
// No globals; one core per JS Client; every syscall's result is checked.
#pragma once
#include <sys/epoll.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "http1/chunked.h"
#include "http1/response_parser.h"
#include "reactor/reactor.h"

namespace farad {

struct ClientOptions {
  http1::ResponseLimits limits;        // head bytes and header count
  uint32_t max_trailer_bytes = 16384;  // chunked trailer section
  uint32_t read_size = 65536;          // bytes asked of one read(2)
  uint32_t reads_per_turn = 2;         // per connection, then the next one
};

enum ClientEvent : int32_t {
  kEvConnect = 1,
  kEvHead = 2,
  kEvData = 3,
  kEvEnd = 4,
  kEvError = 5,
  kEvEof = 6,
  kEvDrain = 7,
};

// Head flags (kEvHead's second word).
enum ClientHeadFlag : int32_t {
  kHeadBodyMask = 3,  // http1::ResponseBody: 0 none, 1 length, 2 chunked, 3 close
  kHeadKeepAlive = 1 << 2,
  kHeadInformational = 1 << 3,
  kHeadTunnel = 1 << 4,
  kHeadHasLength = 1 << 5,
  kHeadHttp11 = 1 << 6,
  kHeadOtherCoding = 1 << 7,
};

class ClientSink {
 public:
  virtual ~ClientSink() = default;
  // One turn's events; offsets point into the current slab; kEvError's code
  // index points into `codes` (static strings). Valid for the call only.
  virtual void on_batch(const int32_t* events, size_t n_events, const char* const* codes,
                        size_t n_codes) = 0;
  // A fresh slab of memory JavaScript owns (a Buffer the sink keeps alive
  // while it is current), for reads to land in without a copy. Called
  // inside a turn; the next batch's offsets refer to it.
  virtual uint8_t* new_slab(size_t* size) = 0;
};

class ClientCore {
 public:
  // Throws std::system_error if the reactor cannot be created.
  ClientCore(const ClientOptions& options, ClientSink* sink);
  ~ClientCore();
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;

  int reactor_fd() const { return reactor_.fd(); }

  // Opens a connection to a numeric address. Returns 1 while connecting (a
  // kEvConnect follows), 0 when already connected, or -errno. Requests may
  // be written at once; they go out when the connect completes.
  int connect(const char* ip, int port, uint32_t* slot, uint32_t* gen);

  // Queues bytes on a connection and sends what the socket takes now. When
  // `method` >= 0 these bytes begin a request whose response is expected
  // (an http1::Method, for HEAD and CONNECT framing). Returns the bytes
  // still unsent (a kEvDrain follows when that reaches zero), -EBADF if the
  // connection is gone, or -errno if sending failed (it is then closed, with
  // no event).
  int64_t write(uint32_t slot, uint32_t gen, const uint8_t* data, size_t len, int method);

  // Stops or resumes reading (flow control for a slow response consumer).
  bool pause(uint32_t slot, uint32_t gen, bool paused);

  // Closes at once; later events for it are dropped. False if already gone.
  bool close(uint32_t slot, uint32_t gen);

  // The local port of a connection (for tests and logs), or -1.
  int local_port(uint32_t slot, uint32_t gen) const;

  // Drains ready events with a zero timeout and emits one batch.
  void on_readable();

  size_t open_connections() const { return open_; }

 private:
  enum class Phase : uint8_t { kHead, kLength, kChunked, kUntilClose, kTunnel };
  struct Conn {
    int fd = -1;
    uint32_t slot = 0;
    uint32_t gen = 0;
    bool open = false;
    bool connecting = false;
    bool paused = false;
    bool want_drain = false;
    bool started = false;  // a byte of the current response has arrived
    uint32_t interest = 0;
    Phase phase = Phase::kHead;
    uint64_t remaining = 0;
    std::deque<uint8_t> expected;  // methods of requests awaiting a response
    std::string head;              // a head split across reads
    std::vector<uint8_t> out;      // unsent request bytes from out_off
    size_t out_off = 0;
    http1::ResponseScanner scanner;
    http1::ChunkedDecoder chunked;
  };

  Conn* find(uint32_t slot, uint32_t gen) const;
  void update_interest(Conn* c);
  void on_conn_event(Conn* c, uint32_t ev);
  void finish_connect(Conn* c);
  void read_conn(Conn* c);
  // Parses bytes_[off, off + len) for c; false once c is closed.
  bool process(Conn* c, size_t off, size_t len);
  bool on_head(Conn* c, size_t head_off, size_t head_len);
  void response_done(Conn* c);
  void on_eof(Conn* c);
  int flush_out(Conn* c);  // 0 or -errno
  void fail(Conn* c, int err, const char* code);
  void close_conn(Conn* c);
  void emit(ClientEvent type, const Conn* c, std::initializer_list<int32_t> extra);
  void wake();
  void emit_data(const Conn* c, size_t off, size_t len);
  // Room for `need` more bytes in this turn's slab (a new slab when this
  // turn has not used the current one yet); false: stop reading this turn.
  bool room(size_t need);
  size_t add_bytes(const void* p, size_t n);

  ClientOptions opt_;
  ClientSink* sink_;
  Reactor reactor_;
  std::vector<Conn*> slots_;
  std::vector<uint32_t> free_slots_;
  size_t open_ = 0;
  int wake_fd_ = -1;
  bool in_turn_ = false;
  bool wake_pending_ = false;
  std::vector<int32_t> events_;  // this turn's batch, being built
  std::vector<const char*> codes_;
  std::vector<int32_t> batch_events_;  // the batch JS is reading
  std::vector<const char*> batch_codes_;
  uint8_t* slab_ = nullptr;  // JS-owned; reads land here
  size_t slab_size_ = 0;
  size_t slab_used_ = 0;
  size_t turn_start_ = 0;  // slab_used_ when the turn began
  bool turn_full_ = false;
  size_t last_data_ = ~size_t(0);  // index in events_ of the last kEvData record
  std::unique_ptr<http1::HeaderField[]> fields_;
};

}  // namespace farad
