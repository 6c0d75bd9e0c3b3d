// The request side of the server core: reading, parsing, body events,
// parser rejections. See server.h.
#include "server/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <system_error>

#include "http1/response.h"
#include "server/connection.h"
#include "server/internal.h"
#include "server/layout.h"

namespace farad {

namespace L = layout;
using namespace detail;

void Server::on_conn_event(Conn* c, uint32_t events) {
  if ((events & EPOLLOUT) && !c->out.empty()) flush_conn(c);
  if (!c->open) return;
  if (events & (EPOLLIN | EPOLLRDHUP)) read_conn(c);
  if (!c->open) return;
  // ERR and HUP are reported whatever the interest set says and stay
  // reported (level-triggered): the socket is dead in both directions, so
  // nothing more can be delivered on it.
  if (events & (EPOLLERR | EPOLLHUP)) close_conn(c, true);
}

void Server::read_conn(Conn* c) {
  if (c->closing) {
    // Lingering close: read and drop what the client still sends, so the
    // kernel does not answer it with a reset that could destroy our last
    // response before the client has read it.
    uint8_t sink[16384];
    for (;;) {
      ssize_t r = ::read(c->fd, sink, sizeof sink);
      if (r > 0) continue;
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      close_conn(c, false);
      return;
    }
  }
  if (c->peer_eof) return;
  // A Content-Length body with nothing buffered before it goes from the
  // socket straight into the body slab: the kernel's copy is the only one.
  if (c->state == ReadState::kBody && c->in.empty() && !c->body_paused && read_body_direct(c)) return;
  bool head_starts = c->state == ReadState::kHead && c->in.empty();
  // A streaming body is read in large pieces (fewer turns per megabyte);
  // a head in one block.
  struct iovec iov[16];
  size_t want = c->state == ReadState::kHead ? opt_.block_size : size_t(opt_.block_size) * 16;
  int k = c->in.reserve(iov, 16, want);
  ssize_t r;
  do {
    r = k == 1 ? ::recv(c->fd, iov[0].iov_base, iov[0].iov_len, 0) : ::readv(c->fd, iov, k);
  } while (r < 0 && errno == EINTR);
  if (r > 0) {
    c->in.commit(size_t(r));
    c->fresh = false;
    if (head_starts) c->head_start_us = now_us_;
    process_input(c);
    return;
  }
  c->in.commit(0);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    close_conn(c, true);  // ECONNRESET and friends
    return;
  }
  c->peer_eof = true;
  on_eof(c);
}

void Server::on_eof(Conn* c) {
  // The peer finished sending. A body cut short cannot be answered; with
  // nothing in flight there is nothing to answer. Otherwise JS hears that the
  // client left (its signal aborts) and the responses are still written: the
  // client may only have shut down its sending side.
  if (c->state == ReadState::kBody || c->state == ReadState::kChunked) {
    close_conn(c, true);
    return;
  }
  if (c->next_seq == c->write_seq && c->out.empty() && c->parked.empty()) {
    close_conn(c, false);
    return;
  }
  pending_closes_.emplace_back(c->slot, c->gen);
  if (!in_turn_) wake();
  update_interest(c);
}

void Server::process_input(Conn* c) {
  bool progress = true;
  while (progress && c->open && !c->closing) {
    switch (c->state) {
      case ReadState::kHead: progress = parse_head(c); break;
      case ReadState::kBody: progress = !c->body_paused && emit_body(c); break;
      case ReadState::kChunked: progress = !c->body_paused && emit_chunked(c); break;
      case ReadState::kStop:
        c->in.clear();
        progress = false;
        break;
    }
  }
  if (!c->open) return;
  update_interest(c);
  update_read_timer(c);
}

bool Server::room_for(uint32_t events, uint32_t header_rows, uint32_t bytes) {
  return ev_count_ + events + pending_closes_.size() <= batch_cap_ &&
         hdr_used_ + header_rows <= shm_.header_rows_cap && in_used_ + bytes <= shm_.in_cap;
}

bool Server::parse_head(Conn* c) {
  if (c->in.empty()) return false;
  if (draining_) {
    // Shutting down: requests not read yet are not started; the response
    // to the last one read says Connection: close, and the client retries
    // the rest elsewhere (RFC 9112 §9.3.2).
    c->state = ReadState::kStop;
    c->in.clear();
    return false;
  }
  if (c->next_seq - c->write_seq >= opt_.max_pipelined) return false;

  // Feed the scanner only the bytes it has not seen.
  http1::HeadScanner::State st = http1::HeadScanner::State::kNeedMore;
  const Block* it = nullptr;
  size_t off = 0, len;
  while (const uint8_t* p = c->in.next(&it, &len)) {
    if (off + len > c->scanned) {
      size_t start = c->scanned > off ? c->scanned - off : 0;
      size_t used = 0;
      st = c->scanner.feed(p + start, len - start, &used);
      c->scanned += st == http1::HeadScanner::State::kNeedMore ? len - start : used;
      if (st != http1::HeadScanner::State::kNeedMore) break;
    }
    off += len;
  }
  if (st == http1::HeadScanner::State::kNeedMore) return false;
  if (st == http1::HeadScanner::State::kError) {
    http1::Error e = c->scanner.error();
    respond_error(c, c->next_seq++, e);
    return false;
  }

  size_t skipped = c->scanner.skipped();
  size_t hlen = c->scanner.head_length();
  if (!room_for(1, opt_.limits.max_headers, uint32_t(hlen))) {
    if (dispatching_) {
      // Cannot empty the batch from inside it; continue after this turn.
      mark_resume(c);
      return false;
    }
    dispatch();
    if (!c->open) return false;
  }
  c->in.skip(skipped);
  uint8_t* head = shm_.in + in_used_;
  c->in.copy_out(head, hlen);
  c->in.skip(hlen);
  c->scanned = 0;
  c->scanner.reset(opt_.limits);
  // A new request: its header timer (if another head follows) starts afresh.
  header_timers_.unlink(&c->read_timer);

  http1::RequestHead rh;
  http1::Error e = http1::parse_head(head, hlen, opt_.limits, &rh, fields_.get());
  if (e) {
    respond_error(c, c->next_seq++, e);
    return false;
  }

  uint32_t seq = c->next_seq++;
  int32_t flags = int32_t(uint32_t(rh.form) << L::kTargetFormShift);
  if (rh.keep_alive) flags |= L::kKeepAlive;
  if (rh.expect_continue) flags |= L::kExpectContinue;
  if (rh.upgrade) flags |= L::kUpgrade;
  if (rh.connection_close) flags |= L::kConnClose;
  uint32_t body_len = 0;
  uint32_t used = uint32_t(hlen);
  bool body_pending = false;
  if (rh.body == http1::BodyKind::kLength && rh.content_length > 0) {
    flags |= L::kHasBody;
    uint64_t cl = rh.content_length;
    if (cl <= opt_.inline_body_max && c->in.size() >= cl && in_used_ + hlen + cl <= shm_.in_cap) {
      c->in.copy_out(head + hlen, size_t(cl));
      c->in.skip(size_t(cl));
      body_len = uint32_t(cl);
      used += body_len;
      flags |= L::kBodyEnd;
    } else {
      c->state = ReadState::kBody;
      c->body_left = cl;
      body_pending = true;
    }
  } else if (rh.body == http1::BodyKind::kChunked) {
    flags |= L::kHasBody | L::kChunked;
    c->state = ReadState::kChunked;
    c->chunked.set_max_trailer_bytes(opt_.max_trailer_bytes);
    c->chunked.reset();
    body_pending = true;
  } else {
    flags |= L::kBodyEnd;
  }
  if (body_pending) {
    c->body_seq = seq;
    c->js_knows_body = true;
    body_timers_.unlink(&c->read_timer);
    // 100 Continue is JS's to send, when a handler starts reading the body
    // (RFC 9110 §10.1.1): a handler that refuses the request answers
    // without the client ever sending the body.
  }
  c->req_keep_alive = rh.keep_alive;

  int32_t* ev = shm_.events + size_t(ev_count_) * L::kEventStride;
  ev[L::kType] = L::kRequest;
  ev[L::kSlot] = int32_t(c->slot);
  ev[L::kGen] = int32_t(c->gen);
  ev[L::kSeq] = int32_t(seq);
  ev[L::kHeadOff] = int32_t(in_used_);
  ev[L::kHeadLen] = int32_t(hlen);
  ev[L::kMethod] = int32_t(rh.method | (uint32_t(rh.version_minor) << 8) | (rh.method_len << 16));
  ev[L::kTargetOff] = int32_t(in_used_ + rh.target_off);
  ev[L::kTargetLen] = int32_t(rh.target_len);
  ev[L::kPathLen] = int32_t(rh.path_len);
  ev[L::kHeaderIndex] = int32_t(hdr_used_);
  ev[L::kHeaderCount] = int32_t(rh.header_count);
  ev[L::kBodyOff] = int32_t(in_used_ + hlen);
  ev[L::kBodyLen] = int32_t(body_len);
  ev[L::kFlags] = flags;
  ev[L::kLengthLo] = int32_t(uint32_t(rh.content_length));
  ev[L::kLengthHi] = int32_t(uint32_t(rh.content_length >> 32));
  ev[L::kReadUs] = int32_t(std::clamp<int64_t>(now_us_ - c->head_start_us, 0, INT32_MAX));
  // A pipelined head already waiting starts now.
  c->head_start_us = now_us_;
  int32_t* rows = shm_.headers + size_t(hdr_used_) * L::kHeaderStride;
  for (uint32_t i = 0; i < rh.header_count; ++i) {
    const http1::HeaderField& f = fields_[i];
    rows[0] = int32_t(in_used_ + f.name_off);
    rows[1] = int32_t(f.name_len);
    rows[2] = int32_t(in_used_ + f.value_off);
    rows[3] = int32_t(f.value_len);
    rows += L::kHeaderStride;
  }
  hdr_used_ += rh.header_count;
  in_used_ += used;
  ++ev_count_;
  ++shm_.control[L::kRequests];

  // After a request that ends the connection, nothing more is read as HTTP.
  if (!body_pending && !rh.keep_alive) c->state = ReadState::kStop;
  return true;
}

bool Server::emit_body(Conn* c) {
  if (c->in.empty()) return false;
  size_t want = std::min<uint64_t>(c->in.size(), c->body_left);
  want = std::min<size_t>(want, opt_.body_chunk_max);
  uint32_t off;
  size_t n = slab_reserve(c, want, &off);
  if (!c->open) return false;
  if (n == 0) {
    mark_resume(c);
    return false;
  }
  c->in.copy_out(shm_.slab + off, n);
  c->in.skip(n);
  c->body_left -= n;
  bool end = c->body_left == 0;
  push_body_event(c, off, uint32_t(n), end ? L::kBodyEnd : 0);
  // Progress restarts the body timer.
  body_timers_.unlink(&c->read_timer);
  if (end) finish_body(c);
  return true;
}

bool Server::read_body_direct(Conn* c) {
  size_t want = std::min<uint64_t>(c->body_left, opt_.body_chunk_max);
  uint32_t off;
  size_t n = slab_reserve(c, want, &off);
  if (!c->open) return true;
  // No room (or JS paused the body in the batch that made room): read into
  // blocks as for any other input.
  if (n == 0 || c->body_paused) return false;
  ssize_t r;
  do {
    r = ::recv(c->fd, shm_.slab + off, n, 0);
  } while (r < 0 && errno == EINTR);
  if (r > 0) {
    c->fresh = false;
    c->body_left -= uint64_t(r);
    bool end = c->body_left == 0;
    push_body_event(c, off, uint32_t(r), end ? L::kBodyEnd : 0);
    body_timers_.unlink(&c->read_timer);
    if (end) finish_body(c);
    process_input(c);  // the next request's state; interest and timers
    return true;
  }
  if (r < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(c, true);
    return true;
  }
  c->peer_eof = true;
  on_eof(c);
  return true;
}

bool Server::joins_last_body_event(const Conn* c) const {
  if (ev_count_ == 0) return false;
  const int32_t* ev = shm_.events + size_t(ev_count_ - 1) * L::kEventStride;
  return ev[L::kType] == L::kBody && ev[L::kSlot] == int32_t(c->slot) && ev[L::kGen] == int32_t(c->gen) &&
         ev[L::kSeq] == int32_t(c->body_seq) && ev[L::kFlags] == 0 &&
         uint32_t(ev[L::kBodyOff]) + uint32_t(ev[L::kBodyLen]) == slab_used_;
}

size_t Server::slab_reserve(Conn* c, size_t want, uint32_t* off) {
  // Bytes that continue the batch's last event extend it (one event, so one
  // chunk for JS, per connection and batch); others start a new event, at an
  // 8-byte boundary for typed-array readers.
  for (bool dispatched = false;; dispatched = true) {
    bool join = joins_last_body_event(c);
    uint32_t at = join ? slab_used_ : (slab_used_ + 7u) & ~7u;
    size_t room = at < shm_.slab_cap ? shm_.slab_cap - at : 0;
    bool event_ok = join || room_for(1, 0, 0);
    bool enough = room >= std::min<size_t>(want, L::kSlabMinRoom);
    if (event_ok && (enough || ((dispatched || dispatching_) && room > 0))) {
      *off = at;
      return std::min(want, room);
    }
    // JS gives a fresh slab after a batch that left it short, so ending
    // the batch here makes room (unless we are inside the batch call).
    if (dispatched || dispatching_) return 0;
    dispatch();
    if (!c->open) return 0;
  }
}

bool Server::emit_chunked(Conn* c) {
  size_t len;
  const uint8_t* p = c->in.peek(&len);
  if (!p || len == 0) return false;
  // A data span is never longer than the input it came from, so feeding at
  // most the slab room reserved keeps every span copyable. The decoder is
  // incremental: a short feed just takes more steps. Spans are copied into
  // the body slab back to back, so a batch's spans of one body make one
  // event.
  uint32_t off;
  size_t room = slab_reserve(c, std::min<size_t>(len, opt_.body_chunk_max), &off);
  if (!c->open) return false;
  if (room == 0) {
    mark_resume(c);
    return false;
  }
  http1::ChunkedDecoder::Step step = c->chunked.decode(p, std::min(len, room));
  if (step.error) {
    respond_error(c, c->body_seq, step.error);
    return false;
  }
  if (step.data_len || step.done) {
    std::memcpy(shm_.slab + off, p + step.data_off, step.data_len);
    push_body_event(c, off, uint32_t(step.data_len), step.done ? L::kBodyEnd : 0);
  }
  c->in.skip(step.consumed);
  body_timers_.unlink(&c->read_timer);
  if (step.done) finish_body(c);
  return step.consumed > 0 || step.done;
}

void Server::push_body_event(Conn* c, uint32_t off, uint32_t len, int32_t flags) {
  // `off` is in the body slab, where the bytes were just written.
  if ((flags & L::kBodyError) == 0) {
    if (off == slab_used_ && joins_last_body_event(c)) {
      int32_t* last = shm_.events + size_t(ev_count_ - 1) * L::kEventStride;
      last[L::kBodyLen] += int32_t(len);
      last[L::kFlags] = flags;
      slab_used_ += len;
      shm_.control[L::kSlabUsed] = int32_t(slab_used_);
      return;
    }
    slab_used_ = off + len;
    shm_.control[L::kSlabUsed] = int32_t(slab_used_);
  }
  int32_t* ev = shm_.events + size_t(ev_count_) * L::kEventStride;
  ev[L::kType] = L::kBody;
  ev[L::kSlot] = int32_t(c->slot);
  ev[L::kGen] = int32_t(c->gen);
  ev[L::kSeq] = int32_t(c->body_seq);
  ev[L::kBodyOff] = int32_t(off);
  ev[L::kBodyLen] = int32_t(len);
  ev[L::kFlags] = flags;
  ++ev_count_;
}

void Server::finish_body(Conn* c) {
  c->js_knows_body = false;
  c->body_paused = false;
  c->state = c->req_keep_alive ? ReadState::kHead : ReadState::kStop;
}

void Server::mark_resume(Conn* c) {
  if (c->resume) return;
  c->resume = true;
  resume_.push_back(c);
  wake();
}

void Server::respond_error(Conn* c, uint32_t seq, const http1::Error& e) {
  uint8_t buf[512];
  size_t n = http1::write_error_response(buf, sizeof buf, e.status, e.code, e.reason, time(nullptr));
  ++shm_.control[L::kParseErrors];
  if (c->js_knows_body) {
    // JS is reading this request's body: tell it the body failed.
    if (ev_count_ + pending_closes_.size() < shm_.events_cap) {
      push_body_event(c, 0, 0, L::kBodyEnd | L::kBodyError);
    }
    c->js_knows_body = false;
  }
  c->cutoff_seq = std::min(c->cutoff_seq, seq);
  c->state = ReadState::kStop;
  c->in.clear();
  c->scanned = 0;
  queue_native(c, seq, buf, n, L::kRecEnd | L::kRecClose);
}


void Server::set_body_slab(uint8_t* data, uint32_t cap) {
  shm_.slab = data;
  shm_.slab_cap = cap;
  slab_used_ = 0;
  shm_.control[L::kSlabUsed] = 0;
}

bool Server::pause_body(uint32_t slot, uint32_t gen, uint32_t seq, bool pause) {
  Conn* c = conn_at(slot, gen);
  if (!c) return false;
  // JS decides per request and may hear of a body's last bytes after this
  // connection moved on to the next request: a late pause for a finished
  // body must not stall the next one.
  if (!c->js_knows_body || c->body_seq != seq) return true;
  if (c->body_paused == pause) return true;
  c->body_paused = pause;
  // Resuming: body bytes already buffered are delivered at the end of the
  // turn (or after a wake-up when called outside one).
  if (!pause && !c->in.empty()) mark_resume(c);
  update_interest(c);
  if (!in_turn_) settle();
  return true;
}

}  // namespace farad
