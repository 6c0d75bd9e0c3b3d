// The HTTP/1.1 server core: accepts connections on its own epoll reactor,
// reads into linked buffers, parses requests, gathers every request that
// became ready in one reactor turn into one batch for JavaScript, and writes
// the responses JavaScript left in shared memory with one sendmsg per
// connection. Knows nothing of N-API: the host supplies a Dispatcher.
//
// Lifetime contract (see docs/native-lifecycle.md): the Server owns every
// connection, block and file descriptor it creates and frees them in its
// destructor at the latest. JavaScript names a connection by (slot, gen);
// a slot is reused with a new generation, so a late response to a closed
// connection is dropped, never delivered to a newer one.
#pragma once
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "buffer/link_buffer.h"
#include "http1/chunked.h"
#include "http1/request_parser.h"
#include "reactor/reactor.h"
#include "reactor/timer_list.h"

namespace farad {

struct ServerOptions {
  http1::Limits limits;
  uint32_t max_trailer_bytes = 16384;   // trailer section of a chunked body; more -> 431
  uint32_t max_pipelined = 64;          // requests given to JS and not yet answered, per connection
  uint32_t max_connections = 0;         // 0 = no limit
  uint32_t inline_body_max = 65536;     // bodies up to this arrive with their request
  uint32_t body_chunk_max = 1u << 20;   // most body bytes read (or copied) for one connection at a time
  uint32_t out_high_water = 1u << 20;   // unsent bytes per connection before reading pauses
  uint32_t in_high_water = 262144;      // unparsed bytes per connection before reading pauses
  uint32_t out_low_water = 1u << 18;    // a drain event fires when unsent bytes fall below this
  uint64_t max_buffered_bytes = 128ull << 20;  // input held by all connections before reading pauses everywhere
  uint32_t headers_timeout_ms = 10000;  // from a request's first byte to its end of head
  uint32_t body_timeout_ms = 30000;     // longest pause between body bytes
  uint32_t keepalive_timeout_ms = 5000; // idle connection between requests
  uint32_t write_timeout_ms = 30000;    // longest pause in draining unsent bytes
  uint32_t linger_ms = 2000;            // how long to drain input after a closing response
  uint32_t block_size = 16384;
  uint32_t max_batch = 0;               // events per call into JS; 0 = as many as the region holds
};

// Shared memory regions, allocated by JavaScript (see server/layout.h).
struct SharedRegions {
  int32_t* control = nullptr;
  int32_t* events = nullptr;
  uint32_t events_cap = 0;       // events
  int32_t* headers = nullptr;
  uint32_t header_rows_cap = 0;  // header rows
  uint8_t* in = nullptr;
  uint32_t in_cap = 0;
  int32_t* records = nullptr;
  uint32_t records_cap = 0;      // records
  uint8_t* out = nullptr;
  uint32_t out_cap = 0;
  uint8_t* slab = nullptr;       // the body slab (layout.h); replaced with set_body_slab
  uint32_t slab_cap = 0;
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // One call per batch: JS reads the events and leaves output records.
  virtual void on_batch() = 0;
  // Called after on_batch when JS asked (control[kDetach]) to copy out what
  // it still needs from the input region before it is reused.
  virtual void on_batch_end() = 0;
};

struct Conn;

class Server {
 public:
  Server(const ServerOptions& options, const SharedRegions& regions, Dispatcher* dispatcher);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. `ip` is a numeric IPv4 or IPv6 address. Returns 0 and
  // the bound port, or -errno.
  int listen(const char* ip, int port, int backlog, bool reuse_port, bool ipv6_only, int* bound_port);

  int reactor_fd() const { return reactor_.fd(); }
  // Drains the reactor's ready events (never blocks).
  // One reactor turn; returns the number of epoll events it handled.
  int on_readable();
  // Applies the output records JS has left in shared memory.
  void flush();
  // Writes bytes that live outside the shared output region (a large body).
  // Pending records are applied first so order is kept. Returns false if the
  // connection is gone.
  bool write_external(uint32_t slot, uint32_t gen, uint32_t seq, const uint8_t* data, size_t len,
                      int32_t flags);

  // A part of a streamed response: `data` framed as one chunk of the
  // chunked coding when `chunked` (and the last-chunk after it with
  // kRecEnd). Returns the connection's unsent bytes after trying to write,
  // or -1 if the connection is gone. Past out_high_water the caller should
  // wait for a drain event.
  int64_t write_chunk(uint32_t slot, uint32_t gen, uint32_t seq, const uint8_t* data, size_t len,
                      int32_t flags, bool chunked);
  // Sends len bytes of the open file `fd` from `offset` with sendfile(2),
  // in order with the rest of the response. Takes a duplicate of fd.
  // Returns false if the connection is gone (or dup failed: errno set).
  bool send_file(uint32_t slot, uint32_t gen, uint32_t seq, int fd, uint64_t offset, uint64_t len,
                 int32_t flags);
  // Stops (true) or resumes body events for request `seq`, if its body is
  // the one streaming on this connection (else a no-op). Returns false if
  // the connection is gone.
  bool pause_body(uint32_t slot, uint32_t gen, uint32_t seq, bool pause);
  // Sends "100 Continue" for request `seq` (in order with earlier responses).
  bool send_continue(uint32_t slot, uint32_t gen, uint32_t seq);
  // A fresh body slab (layout.h). Called by JS at the end of a batch, once
  // it has taken the events that name the old one.
  void set_body_slab(uint8_t* data, uint32_t cap);

  // The client's address ("::ffff:127.0.0.1" style for mapped IPv4) and
  // port, as accepted; false if the connection is gone.
  bool peer_address(uint32_t slot, uint32_t gen, char* ip, size_t ip_len, int* port);

  // Graceful shutdown steps.
  void stop_accepting();
  void close_idle();  // also makes every connection close once it is idle
  void close_all();   // force
  bool listening() const { return listen_fd_ >= 0; }

 private:
  friend struct Conn;
  // Event loop pieces
  void accept_ready();
  void on_conn_event(Conn* c, uint32_t events);
  void on_tick();
  void read_conn(Conn* c);
  void process_input(Conn* c);
  bool parse_head(Conn* c);
  bool emit_body(Conn* c);
  bool emit_chunked(Conn* c);
  bool read_body_direct(Conn* c);
  size_t slab_reserve(Conn* c, size_t want, uint32_t* off);
  bool joins_last_body_event(const Conn* c) const;
  void dispatch();
  void append_conn_events(std::vector<std::pair<uint32_t, uint32_t>>* queue, int32_t type);
  bool room_for(uint32_t events, uint32_t header_rows, uint32_t bytes);

  void on_eof(Conn* c);
  void push_body_event(Conn* c, uint32_t off, uint32_t len, int32_t flags);
  void finish_body(Conn* c);
  void mark_resume(Conn* c);
  void wake();

  // Output
  void apply_records();
  void enqueue(Conn* c, uint32_t seq, const uint8_t* data, size_t len, int32_t flags, bool stable,
               bool native);
  void queue_native(Conn* c, uint32_t seq, const uint8_t* data, size_t len, int32_t flags);
  void respond_error(Conn* c, uint32_t seq, const http1::Error& e);
  void materialize(Conn* c);
  void mark_dirty(Conn* c);
  void flush_dirty();
  void flush_conn(Conn* c);
  void promote_parked(Conn* c);
  void after_write(Conn* c);

  // Connection state
  Conn* conn_at(uint32_t slot, uint32_t gen);
  void update_interest(Conn* c);
  void update_read_timer(Conn* c);
  void begin_close(Conn* c);  // graceful: shutdown(SHUT_WR) then linger
  void close_conn(Conn* c, bool notify_js);
  void reap();
  void settle();
  void check_budget();
  void update_tick();
  void set_accepting(bool on);

  ServerOptions opt_;
  SharedRegions shm_;
  Dispatcher* dispatcher_;
  Reactor reactor_;
  BlockPool pool_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;        // eventfd: work queued outside a reactor turn
  bool wake_pending_ = false;
  bool in_turn_ = false;
  uint32_t tick_ms_ = 100;
  bool accepting_ = false;
  bool draining_ = false;
  bool dispatching_ = false;
  int64_t now_ = 0;
  int64_t now_us_ = 0;  // precise time at the start of the current turn
  int64_t accept_resume_at_ = 0;
  uint32_t accept_backoff_ms_ = 0;
  uint32_t open_conns_ = 0;

  std::vector<Conn*> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<Conn*> dead_;
  std::vector<Conn*> dirty_;  // connections with bytes to write after apply
  std::vector<Conn*> resume_; // connections with input to parse at the end of the turn
  std::vector<std::pair<uint32_t, uint32_t>> pending_closes_;  // (slot, gen) to tell JS
  std::vector<std::pair<uint32_t, uint32_t>> pending_drains_;  // (slot, gen) whose output drained
  bool over_budget_ = false;  // input across connections above max_buffered_bytes

  // The batch being built
  uint32_t ev_count_ = 0;
  uint32_t batch_cap_ = 0;
  uint32_t hdr_used_ = 0;
  uint32_t in_used_ = 0;
  uint32_t slab_used_ = 0;  // bytes of the body slab written (it outlives batches)
  std::unique_ptr<http1::HeaderField[]> fields_;

  TimerList header_timers_;
  TimerList body_timers_;
  TimerList idle_timers_;
  TimerList write_timers_;
  TimerList linger_timers_;
};

}  // namespace farad
