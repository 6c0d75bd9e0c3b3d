// Plain state of one server connection. Behaviour lives in server.cc,
// input.cc and output.cc.
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "buffer/link_buffer.h"
#include "http1/chunked.h"
#include "http1/request_parser.h"
#include "reactor/timer_list.h"

namespace farad {

// Bytes waiting to be written, owned by the connection. `seq` orders
// responses to pipelined requests; `flags` are layout::RecordFlags.
struct OutChunk {
  OutChunk* next;
  uint32_t seq;
  int32_t flags;
  uint32_t len;
  uint32_t sent;  // bytes of this chunk already written
  // A file chunk (file_fd >= 0) sends file_left bytes from file_off with
  // sendfile(2) and owns file_fd (a dup); len is 0.
  int file_fd;
  uint64_t file_off;
  uint64_t file_left;
  uint8_t data[1];

  static OutChunk* make(uint32_t seq, const uint8_t* p, size_t n, int32_t flags);
  static OutChunk* make_file(uint32_t seq, int fd, uint64_t off, uint64_t len, int32_t flags);
  static void destroy(OutChunk* c);
};

struct OutQueue {
  OutChunk* head = nullptr;
  OutChunk* tail = nullptr;
  size_t bytes = 0;
  bool empty() const { return head == nullptr; }
  void push(OutChunk* c) {
    c->next = nullptr;
    if (tail) tail->next = c; else head = c;
    tail = c;
    bytes += c->len - c->sent;
  }
  OutChunk* pop() {
    OutChunk* c = head;
    head = c->next;
    if (!head) tail = nullptr;
    bytes -= c->len - c->sent;
    return c;
  }
  void clear() {
    while (head) OutChunk::destroy(pop());
    bytes = 0;
  }
};

struct ConnTimer : TimerNode {
  struct Conn* conn = nullptr;
};

enum class ReadState : uint8_t {
  kHead,     // waiting for (more of) a request head
  kBody,     // Content-Length body
  kChunked,  // chunked body
  kStop,     // no more requests on this connection: input is discarded
};

struct Conn {
  explicit Conn(BlockPool* pool) : in(pool) {}

  int fd = -1;
  struct sockaddr_storage peer;  // from accept4, for ctx.remoteAddress
  socklen_t peer_len = 0;
  uint32_t slot = 0;
  uint32_t gen = 0;
  uint32_t interest = 0;    // current epoll event mask
  bool open = false;
  bool fresh = true;        // no byte received yet
  bool peer_eof = false;    // the peer shut down its side
  bool closing = false;     // SHUT_WR sent, lingering
  bool dirty = false;       // on the server's dirty list
  bool js_knows_body = false;  // a body is streaming to JS right now
  bool resume = false;      // on the server's resume list
  bool paused = false;      // reading paused by flow control
  bool req_keep_alive = true;  // the current request lets the connection live on
  bool body_paused = false; // JS asked for no more body events (its stream is full)
  bool want_drain = false;  // JS waits for the output queue to drain

  LinkBuffer in;
  size_t scanned = 0;       // bytes of `in` already fed to the scanner
  http1::HeadScanner scanner;
  http1::ChunkedDecoder chunked;
  ReadState state = ReadState::kHead;
  uint64_t body_left = 0;   // Content-Length bytes still to come
  uint32_t body_seq = 0;    // request whose body is being read

  int64_t head_start_us = 0;  // when the first byte of the current head arrived
  uint32_t next_seq = 0;    // seq of the next request
  uint32_t write_seq = 0;   // seq whose response may be written now
  uint32_t cutoff_seq = UINT32_MAX;  // records for seq >= this are dropped (answered natively)
  uint32_t inflight = 0;    // requests given to JS, not yet answered

  OutQueue out;             // ready to write, in order
  OutQueue parked;          // for later seqs, in arrival order
  std::vector<struct iovec> batch_iov;  // shared-memory pieces for this apply pass
  std::vector<int32_t> batch_flags;

  ConnTimer read_timer;
  ConnTimer write_timer;
};

}  // namespace farad
