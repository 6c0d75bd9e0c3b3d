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
#include "server/layout.h"

namespace farad {

namespace L = layout;

namespace {

constexpr uint64_t kListenTag = ~uint64_t(0);
constexpr uint64_t kTimerTag = ~uint64_t(0) - 1;
constexpr uint64_t kWakeTag = ~uint64_t(0) - 2;
constexpr int kMaxEvents = 1024;
constexpr int kMaxIov = 64;
constexpr int kAcceptsPerTurn = 256;

enum TimerId : uint8_t { kHeaderTimer = 1, kBodyTimer, kIdleTimer, kWriteTimer, kLingerTimer };

uint64_t tag_of(const Conn* c) { return (uint64_t(c->gen) << 32) | c->slot; }

void close_fd(int fd) {
  // POSIX leaves the descriptor state unspecified after EINTR; Linux always
  // releases it, so retrying would close a descriptor someone else now owns.
  (void)::close(fd);
}

}  // namespace

OutChunk* OutChunk::make(uint32_t seq, const uint8_t* p, size_t n, int32_t flags) {
  auto* c = static_cast<OutChunk*>(std::malloc(offsetof(OutChunk, data) + (n ? n : 1)));
  if (!c) throw std::bad_alloc();
  c->next = nullptr;
  c->seq = seq;
  c->flags = flags;
  c->len = uint32_t(n);
  c->sent = 0;
  c->file_fd = -1;
  c->file_off = c->file_left = 0;
  if (n) std::memcpy(c->data, p, n);
  return c;
}

OutChunk* OutChunk::make_file(uint32_t seq, int fd, uint64_t off, uint64_t len, int32_t flags) {
  OutChunk* c = make(seq, nullptr, 0, flags);
  c->file_fd = fd;
  c->file_off = off;
  c->file_left = len;
  return c;
}

void OutChunk::destroy(OutChunk* c) {
  if (c->file_fd >= 0) close_fd(c->file_fd);
  std::free(c);
}

Server::Server(const ServerOptions& options, const SharedRegions& regions, Dispatcher* dispatcher)
    : opt_(options),
      shm_(regions),
      dispatcher_(dispatcher),
      pool_(options.block_size, 1024),
      fields_(new http1::HeaderField[options.limits.max_headers ? options.limits.max_headers : 1]),
      header_timers_(kHeaderTimer, options.headers_timeout_ms),
      body_timers_(kBodyTimer, options.body_timeout_ms),
      idle_timers_(kIdleTimer, options.keepalive_timeout_ms),
      write_timers_(kWriteTimer, options.write_timeout_ms),
      linger_timers_(kLingerTimer, options.linger_ms) {
  if (shm_.in_cap < opt_.limits.max_header_bytes + 64)
    throw std::invalid_argument("input region smaller than the header limit");
  if (shm_.events_cap < 2 || shm_.header_rows_cap < opt_.limits.max_headers || shm_.records_cap < 1)
    throw std::invalid_argument("shared regions too small");
  if (opt_.body_chunk_max == 0) opt_.body_chunk_max = 65536;
  batch_cap_ = opt_.max_batch ? std::clamp<uint32_t>(opt_.max_batch, 1, shm_.events_cap) : shm_.events_cap;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  int r = reactor_.add(reactor_.timer_fd(), EPOLLIN, kTimerTag);
  if (r == 0) r = reactor_.add(wake_fd_, EPOLLIN, kWakeTag);
  if (r != 0) {
    close_fd(wake_fd_);
    throw std::system_error(-r, std::generic_category(), "epoll_ctl");
  }
  uint32_t shortest = std::min({opt_.headers_timeout_ms, opt_.body_timeout_ms,
                                opt_.keepalive_timeout_ms, opt_.write_timeout_ms, opt_.linger_ms});
  tick_ms_ = std::clamp<uint32_t>(shortest / 10, 5, 250);
}

Server::~Server() {
  for (Conn* c : slots_) {
    if (!c) continue;
    if (c->open) close_fd(c->fd);
    delete c;
  }
  if (listen_fd_ >= 0) close_fd(listen_fd_);
  close_fd(wake_fd_);
}

// ---------------------------------------------------------------------------
// Listening and accepting

int Server::listen(const char* ip, int port, int backlog, bool reuse_port, bool ipv6_only,
                   int* bound_port) {
  if (listen_fd_ >= 0) return -EISCONN;
  sockaddr_storage ss{};
  socklen_t sl;
  int family;
  if (std::strchr(ip, ':')) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1) return -EINVAL;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(uint16_t(port));
    sl = sizeof *a;
    family = AF_INET6;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    if (inet_pton(AF_INET, ip, &a->sin_addr) != 1) return -EINVAL;
    a->sin_family = AF_INET;
    a->sin_port = htons(uint16_t(port));
    sl = sizeof *a;
    family = AF_INET;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  int v6only = ipv6_only ? 1 : 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
      (family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) ||
      bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0 ||
      ::listen(fd, backlog > 0 ? backlog : 511) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) {
    int e = errno;
    close_fd(fd);
    return -e;
  }
  *bound_port = family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  int r = reactor_.add(fd, EPOLLIN, kListenTag);
  if (r != 0) {
    close_fd(fd);
    return r;
  }
  listen_fd_ = fd;
  accepting_ = true;
  return 0;
}

void Server::set_accepting(bool on) {
  if (listen_fd_ < 0 || accepting_ == on) return;
  // Level-triggered: a pending connection would wake us on every turn while
  // we cannot take it, so interest is removed, not just ignored.
  if (reactor_.modify(listen_fd_, on ? uint32_t(EPOLLIN) : 0u, kListenTag) == 0) accepting_ = on;
  shm_.control[L::kAcceptPaused] = accepting_ ? 0 : 1;
}

void Server::accept_ready() {
  for (int i = 0; i < kAcceptsPerTurn && listen_fd_ >= 0; ++i) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) break;
      if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        // Out of descriptors or memory: stop taking connections for a while
        // and keep serving the ones we have; they free descriptors as they go.
        accept_backoff_ms_ = accept_backoff_ms_ ? std::min(accept_backoff_ms_ * 2, 1000u) : 50;
        accept_resume_at_ = now_ + accept_backoff_ms_;
        set_accepting(false);
      }
      break;
    }
    accept_backoff_ms_ = 0;
    if (opt_.max_connections && open_conns_ >= opt_.max_connections) {
      close_fd(fd);
      continue;
    }
    int one = 1;
    // Responses are written whole in one sendmsg, so Nagle only adds delay.
    // Failure (not a TCP socket) is harmless.
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn* c;
    if (!free_slots_.empty()) {
      c = slots_[free_slots_.back()];
      free_slots_.pop_back();
    } else {
      c = new Conn(&pool_);
      c->slot = uint32_t(slots_.size());
      slots_.push_back(c);
    }
    c->fd = fd;
    c->peer = peer;
    c->peer_len = peer_len;
    c->open = true;
    c->interest = EPOLLIN | EPOLLRDHUP;
    c->scanner.reset(opt_.limits);
    c->read_timer.conn = c;
    c->write_timer.conn = c;
    if (reactor_.add(fd, c->interest, tag_of(c)) != 0) {
      close_fd(fd);
      c->open = false;
      c->fd = -1;
      free_slots_.push_back(c->slot);
      continue;
    }
    ++open_conns_;
    ++shm_.control[L::kAccepted];
    header_timers_.arm(&c->read_timer, now_);
  }
}

void Server::stop_accepting() {
  if (listen_fd_ < 0) return;
  int r = reactor_.remove(listen_fd_);
  (void)r;  // the descriptor is closed next, which removes it anyway
  close_fd(listen_fd_);
  listen_fd_ = -1;
  accepting_ = false;
}

void Server::close_idle() {
  draining_ = true;
  for (Conn* c : slots_) {
    if (c && c->open && !c->closing && c->state == ReadState::kHead && c->in.empty() &&
        c->next_seq == c->write_seq && c->out.empty())
      close_conn(c, false);
  }
  if (!in_turn_) settle();
}

void Server::close_all() {
  for (Conn* c : slots_)
    if (c && c->open) close_conn(c, true);
  if (!dispatching_) dispatch();
  if (!in_turn_) settle();
}

// ---------------------------------------------------------------------------
// The reactor turn

void Server::on_readable() {
  now_ = Reactor::now_ms();
  in_turn_ = true;
  struct epoll_event evs[kMaxEvents];
  int n = reactor_.poll(evs, kMaxEvents);
  for (int i = 0; i < n; ++i) {
    uint64_t tag = evs[i].data.u64;
    if (tag == kListenTag) {
      accept_ready();
    } else if (tag == kTimerTag) {
      reactor_.ack_tick();
      on_tick();
    } else if (tag == kWakeTag) {
      uint64_t v;
      ssize_t r = read(wake_fd_, &v, sizeof v);
      (void)r;  // EAGAIN: already drained by an earlier turn
      wake_pending_ = false;
    } else {
      Conn* c = conn_at(uint32_t(tag), uint32_t(tag >> 32));
      if (c) on_conn_event(c, evs[i].events);
    }
  }
  // Connections held back by the pipelining limit continue once their
  // responses went out; each round may free more.
  for (int round = 0; round < 8; ++round) {
    dispatch();
    if (resume_.empty()) break;
    std::vector<Conn*> again;
    again.swap(resume_);
    for (Conn* c : again) {
      c->resume = false;
      if (c->open) process_input(c);
    }
  }
  dispatch();
  in_turn_ = false;
  // Events that did not fit in the last batch get a turn of their own.
  if (!pending_closes_.empty() || !pending_drains_.empty()) wake();
  settle();
}

void Server::settle() {
  // End of any entry point (a reactor turn, or a call from JS outside one):
  // free closed slots, arm or disarm the tick for the timers that changed,
  // and publish the counters.
  if (!dispatching_) reap();
  check_budget();
  update_tick();
  shm_.control[L::kConnections] = int32_t(open_conns_);
  shm_.control[L::kBufferedBytes] = int32_t(std::min<size_t>(pool_.bytes_in_use(), INT32_MAX));
}

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
    if (head_starts) c->head_start_us = Reactor::now_us();
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
  int64_t parsed_us = Reactor::now_us();
  ev[L::kReadUs] = int32_t(std::clamp<int64_t>(parsed_us - c->head_start_us, 0, INT32_MAX));
  // A pipelined head already waiting starts now.
  c->head_start_us = parsed_us;
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
  size_t n = std::min<uint64_t>(c->in.size(), c->body_left);
  n = std::min<size_t>(n, opt_.body_chunk_max);
  if (!room_for(1, 0, 1)) {
    if (dispatching_) {
      mark_resume(c);
      return false;
    }
    dispatch();
    if (!c->open) return false;
  }
  n = std::min<size_t>(n, shm_.in_cap - in_used_);
  c->in.copy_out(shm_.in + in_used_, n);
  c->in.skip(n);
  c->body_left -= n;
  bool end = c->body_left == 0;
  push_body_event(c, in_used_, uint32_t(n), end ? L::kBodyEnd : 0);
  in_used_ += uint32_t(n);
  // Progress restarts the body timer.
  body_timers_.unlink(&c->read_timer);
  if (end) finish_body(c);
  return true;
}

bool Server::emit_chunked(Conn* c) {
  size_t len;
  const uint8_t* p = c->in.peek(&len);
  if (!p || len == 0) return false;
  if (!room_for(1, 0, 1)) {
    if (dispatching_) {
      mark_resume(c);
      return false;
    }
    dispatch();
    if (!c->open) return false;
  }
  // A data span is never longer than the input it came from, so feeding at
  // most the room left in this batch keeps every span copyable. The decoder
  // is incremental: a short feed just takes more steps.
  // Chunk spans are capped like Content-Length bodies: body events of at
  // most body_chunk_max bytes.
  size_t room = std::min<size_t>(shm_.in_cap - in_used_, opt_.body_chunk_max);
  http1::ChunkedDecoder::Step step = c->chunked.decode(p, std::min(len, room));
  if (step.error) {
    respond_error(c, c->body_seq, step.error);
    return false;
  }
  // One event per step: a data span, or the end (with the last span if the
  // decoder reports both at once).
  if (step.data_len || step.done) {
    std::memcpy(shm_.in + in_used_, p + step.data_off, step.data_len);
    push_body_event(c, in_used_, uint32_t(step.data_len), step.done ? L::kBodyEnd : 0);
    in_used_ += uint32_t(step.data_len);
  }
  c->in.skip(step.consumed);
  body_timers_.unlink(&c->read_timer);
  if (step.done) finish_body(c);
  return step.consumed > 0 || step.done;
}

void Server::push_body_event(Conn* c, uint32_t off, uint32_t len, int32_t flags) {
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

void Server::wake() {
  if (wake_pending_ || in_turn_) return;
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: a wakeup is pending anyway.
  if (::write(wake_fd_, &one, sizeof one) == sizeof one || errno == EAGAIN) wake_pending_ = true;
}

void Server::append_conn_events(std::vector<std::pair<uint32_t, uint32_t>>* queue, int32_t type) {
  // What does not fit in this batch waits for the next one: a close or a
  // drain JS never hears of would leave a handler waiting for ever.
  size_t i = 0;
  for (; i < queue->size() && ev_count_ < shm_.events_cap; ++i) {
    int32_t* ev = shm_.events + size_t(ev_count_) * L::kEventStride;
    ev[L::kType] = type;
    ev[L::kSlot] = int32_t((*queue)[i].first);
    ev[L::kGen] = int32_t((*queue)[i].second);
    ++ev_count_;
  }
  queue->erase(queue->begin(), queue->begin() + long(i));
}

void Server::dispatch() {
  if (dispatching_) return;
  append_conn_events(&pending_closes_, L::kClose);
  append_conn_events(&pending_drains_, L::kDrain);
  if (ev_count_ == 0) return;
  shm_.control[L::kEvents] = int32_t(ev_count_);
  shm_.control[L::kNowSec] = int32_t(time(nullptr));
  shm_.control[L::kDetach] = 0;
  dispatching_ = true;
  shm_.control[L::kInBatch] = 1;
  dispatcher_->on_batch();
  apply_records();
  if (shm_.control[L::kDetach]) {
    dispatcher_->on_batch_end();
    apply_records();
  }
  shm_.control[L::kInBatch] = 0;
  dispatching_ = false;
  ev_count_ = 0;
  hdr_used_ = 0;
  in_used_ = 0;
  shm_.control[L::kEvents] = 0;
}

// ---------------------------------------------------------------------------
// Output

void Server::flush() {
  apply_records();
  if (!dispatching_ && (!pending_closes_.empty() || !pending_drains_.empty() || !resume_.empty()))
    wake();
  if (!in_turn_) settle();
}

bool Server::write_external(uint32_t slot, uint32_t gen, uint32_t seq, const uint8_t* data,
                            size_t len, int32_t flags) {
  apply_records();
  Conn* c = conn_at(slot, gen);
  if (!c || c->closing) return false;
  enqueue(c, seq, data, len, flags, true, false);
  flush_dirty();
  if (!in_turn_) settle();
  return true;
}

void Server::apply_records() {
  int32_t n = shm_.control[L::kOutRecords];
  if (n < 0 || uint32_t(n) > shm_.records_cap) n = 0;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t* r = shm_.records + size_t(i) * L::kRecordStride;
    uint32_t off = uint32_t(r[L::kRecOff]);
    uint32_t len = uint32_t(r[L::kRecLen]);
    if (off > shm_.out_cap || len > shm_.out_cap - off) continue;  // never trust offsets
    Conn* c = conn_at(uint32_t(r[L::kRecSlot]), uint32_t(r[L::kRecGen]));
    if (!c || c->closing) continue;
    enqueue(c, uint32_t(r[L::kRecSeq]), shm_.out + off, len, r[L::kRecFlags], true, false);
  }
  shm_.control[L::kOutRecords] = 0;
  shm_.control[L::kOutUsed] = 0;
  flush_dirty();
}

void Server::queue_native(Conn* c, uint32_t seq, const uint8_t* data, size_t len, int32_t flags) {
  enqueue(c, seq, data, len, flags, false, true);
}

void Server::enqueue(Conn* c, uint32_t seq, const uint8_t* data, size_t len, int32_t flags,
                     bool stable, bool native) {
  if (!native && seq >= c->cutoff_seq) return;  // answered by the server already
  if (seq < c->write_seq || seq >= c->next_seq) return;  // stale or never asked
  if (seq > c->write_seq) {
    c->parked.push(OutChunk::make(seq, data, len, flags));
    return;
  }
  if (stable && c->out.empty()) {
    // Responses to pipelined requests usually sit back to back in the
    // output region: one iovec for all of them is cheaper for the kernel.
    struct iovec* last = c->batch_iov.empty() ? nullptr : &c->batch_iov.back();
    if (last && static_cast<const uint8_t*>(last->iov_base) + last->iov_len == data &&
        !(c->batch_flags.back() & L::kRecClose)) {
      last->iov_len += len;
      c->batch_flags.back() = flags;
    } else {
      c->batch_iov.push_back({const_cast<uint8_t*>(data), len});
      c->batch_flags.push_back(flags);
    }
  } else {
    materialize(c);
    c->out.push(OutChunk::make(seq, data, len, flags));
  }
  mark_dirty(c);
  if (flags & L::kRecEnd) {
    ++c->write_seq;
    promote_parked(c);
  }
}

void Server::materialize(Conn* c) {
  for (size_t i = 0; i < c->batch_iov.size(); ++i)
    c->out.push(OutChunk::make(c->write_seq, static_cast<uint8_t*>(c->batch_iov[i].iov_base),
                               c->batch_iov[i].iov_len, c->batch_flags[i]));
  c->batch_iov.clear();
  c->batch_flags.clear();
}

void Server::promote_parked(Conn* c) {
  bool moved = true;
  while (moved && !c->parked.empty()) {
    moved = false;
    OutChunk* prev = nullptr;
    for (OutChunk* p = c->parked.head; p;) {
      if (p->seq != c->write_seq) {
        prev = p;
        p = p->next;
        continue;
      }
      OutChunk* next = p->next;
      // unlink p from parked
      if (prev) prev->next = next; else c->parked.head = next;
      if (c->parked.tail == p) c->parked.tail = prev;
      c->parked.bytes -= p->len;
      materialize(c);
      c->out.push(p);
      moved = true;
      if (p->flags & L::kRecEnd) {
        ++c->write_seq;
        break;  // rescan for the new write_seq from the start
      }
      p = next;
    }
  }
}

void Server::mark_dirty(Conn* c) {
  if (c->dirty) return;
  c->dirty = true;
  dirty_.push_back(c);
}

void Server::flush_dirty() {
  for (size_t i = 0; i < dirty_.size(); ++i) {
    Conn* c = dirty_[i];
    c->dirty = false;
    if (c->open) flush_conn(c);
  }
  dirty_.clear();
}

void Server::flush_conn(Conn* c) {
  bool close_after = false;
  while (!c->out.empty() || !c->batch_iov.empty()) {
    if (c->out.head && c->out.head->file_fd >= 0) {
      // A file chunk: the kernel copies file pages to the socket, no bytes
      // pass through user space.
      OutChunk* o = c->out.head;
      off_t off = off_t(o->file_off);
      size_t want = size_t(std::min<uint64_t>(o->file_left, 1u << 20));
      ssize_t r = want ? ::sendfile(c->fd, o->file_fd, &off, want) : 0;
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        close_conn(c, true);  // EPIPE, ECONNRESET, or the file failed (EIO)
        return;
      }
      if (r == 0 && want) {  // the file is shorter than promised: the response is broken
        close_conn(c, true);
        return;
      }
      o->file_off += uint64_t(r);
      o->file_left -= uint64_t(r);
      if (o->file_left == 0) {
        if (o->flags & L::kRecClose) close_after = true;
        OutChunk::destroy(c->out.pop());
        if (close_after) break;
      }
      continue;
    }
    struct iovec iov[kMaxIov];
    int n = 0;
    size_t total = 0;
    bool stop_at_close = false;
    for (OutChunk* o = c->out.head; o && n < kMaxIov; o = o->next) {
      if (o->file_fd >= 0) {
        stop_at_close = true;  // the bytes before a file go first, then the file
        break;
      }
      iov[n].iov_base = o->data + o->sent;
      iov[n].iov_len = o->len - o->sent;
      total += iov[n++].iov_len;
      if (o->flags & L::kRecClose) {
        stop_at_close = true;
        break;
      }
    }
    if (!stop_at_close && n < kMaxIov && c->out.head == nullptr) {
      for (size_t i = 0; i < c->batch_iov.size() && n < kMaxIov; ++i) {
        iov[n] = c->batch_iov[i];
        total += iov[n++].iov_len;
        if (c->batch_flags[i] & L::kRecClose) break;
      }
    }
    ssize_t r;
    if (n == 1) {
      // The common case (one response, or pipelined ones merged): send(2)
      // skips the kernel's iovec import.
      r = ::send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      struct msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = size_t(n);
      r = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close_conn(c, true);  // EPIPE, ECONNRESET: the peer is gone
      return;
    }
    size_t left = size_t(r);
    // Consume from the owned queue first, then from the shared pieces.
    while (left > 0 && c->out.head && c->out.head->file_fd < 0) {
      OutChunk* o = c->out.head;
      size_t k = std::min<size_t>(left, o->len - o->sent);
      o->sent += uint32_t(k);
      c->out.bytes -= k;
      left -= k;
      if (o->sent == o->len) {
        if (o->flags & L::kRecClose) close_after = true;
        OutChunk::destroy(c->out.pop());
      }
    }
    size_t done = 0;
    while (done < c->batch_iov.size()) {
      struct iovec& v = c->batch_iov[done];
      if (left < v.iov_len) {
        v.iov_base = static_cast<uint8_t*>(v.iov_base) + left;
        v.iov_len -= left;
        left = 0;
        break;
      }
      left -= v.iov_len;
      if (c->batch_flags[done] & L::kRecClose) close_after = true;
      ++done;
    }
    if (done) {
      c->batch_iov.erase(c->batch_iov.begin(), c->batch_iov.begin() + long(done));
      c->batch_flags.erase(c->batch_flags.begin(), c->batch_flags.begin() + long(done));
    }
    if (close_after) break;
    if (size_t(r) < total) break;  // the socket buffer is full
  }
  if (close_after) {
    c->out.clear();
    c->batch_iov.clear();
    c->batch_flags.clear();
    begin_close(c);
    return;
  }
  // Whatever the socket did not take is copied out of shared memory now.
  materialize(c);
  if (c->want_drain && c->out.bytes < opt_.out_low_water) {
    c->want_drain = false;
    pending_drains_.emplace_back(c->slot, c->gen);
    if (!in_turn_ && !dispatching_) wake();
  }
  if (!c->out.empty()) {
    write_timers_.unlink(&c->write_timer);  // progress restarts the timer
    write_timers_.arm(&c->write_timer, now_ ? now_ : Reactor::now_ms());
  } else {
    write_timers_.unlink(&c->write_timer);
  }
  after_write(c);
}

void Server::after_write(Conn* c) {
  // Requests held back by the pipelining limit can be parsed now.
  if (c->state == ReadState::kHead && !c->in.empty() &&
      c->next_seq - c->write_seq < opt_.max_pipelined) {
    mark_resume(c);
  } else {
    bool idle = c->next_seq == c->write_seq && c->out.empty() && c->parked.empty();
    if (idle && (c->peer_eof || (draining_ && c->state == ReadState::kHead && c->in.empty()))) {
      if (c->peer_eof) close_conn(c, false); else begin_close(c);
      return;
    }
  }
  update_interest(c);
  update_read_timer(c);
}

void Server::respond_error(Conn* c, uint32_t seq, const http1::Error& e) {
  uint8_t buf[512];
  size_t n = http1::write_error_response(buf, sizeof buf, e.status, e.code, e.reason, time(nullptr));
  ++shm_.control[L::kParseErrors];
  if (c->js_knows_body) {
    // JS is reading this request's body: tell it the body failed.
    if (ev_count_ + pending_closes_.size() < shm_.events_cap) {
      push_body_event(c, in_used_, 0, L::kBodyEnd | L::kBodyError);
    }
    c->js_knows_body = false;
  }
  c->cutoff_seq = std::min(c->cutoff_seq, seq);
  c->state = ReadState::kStop;
  c->in.clear();
  c->scanned = 0;
  queue_native(c, seq, buf, n, L::kRecEnd | L::kRecClose);
}

// ---------------------------------------------------------------------------
// Connection state

int64_t Server::write_chunk(uint32_t slot, uint32_t gen, uint32_t seq, const uint8_t* data,
                            size_t len, int32_t flags, bool chunked) {
  apply_records();
  Conn* c = conn_at(slot, gen);
  if (!c || c->closing) return -1;
  // Lives until flush_dirty() below has written or copied it.
  char head[24];
  if (chunked) {
    // RFC 9112 §7.1: chunk-size in hex, CRLF, data, CRLF; then "0" CRLF CRLF.
    if (len) {
      int hl = std::snprintf(head, sizeof head, "%zx\r\n", len);
      enqueue(c, seq, reinterpret_cast<uint8_t*>(head), size_t(hl), 0, true, false);
      enqueue(c, seq, data, len, 0, true, false);
    }
    static const uint8_t kCrlfLast[] = "\r\n0\r\n\r\n";
    if (flags & L::kRecEnd)
      enqueue(c, seq, len ? kCrlfLast : kCrlfLast + 2, len ? 7 : 5, flags, true, false);
    else if (len)
      enqueue(c, seq, kCrlfLast, 2, flags, true, false);
  } else {
    enqueue(c, seq, data, len, flags, true, false);
  }
  flush_dirty();  // copies what the socket did not take: the stack buffer dies here
  int64_t queued = c->open ? int64_t(c->out.bytes) : -1;
  if (c->open && c->out.bytes >= opt_.out_high_water) c->want_drain = true;
  if (!in_turn_) settle();
  return queued;
}

bool Server::send_file(uint32_t slot, uint32_t gen, uint32_t seq, int fd, uint64_t offset,
                       uint64_t len, int32_t flags) {
  apply_records();
  Conn* c = conn_at(slot, gen);
  if (!c || c->closing) return false;
  if (seq >= c->cutoff_seq || seq < c->write_seq || seq >= c->next_seq) return false;
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return false;
  OutChunk* o = OutChunk::make_file(seq, dup, offset, len, flags);
  if (seq > c->write_seq) {
    c->parked.push(o);
  } else {
    materialize(c);
    c->out.push(o);
    mark_dirty(c);
    if (flags & L::kRecEnd) {
      ++c->write_seq;
      promote_parked(c);
    }
  }
  flush_dirty();
  if (!in_turn_) settle();
  return true;
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

bool Server::send_continue(uint32_t slot, uint32_t gen, uint32_t seq) {
  apply_records();
  Conn* c = conn_at(slot, gen);
  if (!c || c->closing) return false;
  queue_native(c, seq, reinterpret_cast<const uint8_t*>(http1::kContinue), http1::kContinueLen, 0);
  flush_dirty();
  if (!in_turn_) settle();
  return true;
}

bool Server::peer_address(uint32_t slot, uint32_t gen, char* ip, size_t ip_len, int* port) {
  Conn* c = conn_at(slot, gen);
  if (!c || c->peer_len == 0) return false;
  if (c->peer.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&c->peer);
    if (!inet_ntop(AF_INET6, &a->sin6_addr, ip, socklen_t(ip_len))) return false;
    *port = ntohs(a->sin6_port);
  } else if (c->peer.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&c->peer);
    if (!inet_ntop(AF_INET, &a->sin_addr, ip, socklen_t(ip_len))) return false;
    *port = ntohs(a->sin_port);
  } else {
    return false;
  }
  return true;
}

Conn* Server::conn_at(uint32_t slot, uint32_t gen) {
  if (slot >= slots_.size()) return nullptr;
  Conn* c = slots_[slot];
  return c && c->open && c->gen == gen ? c : nullptr;
}

void Server::update_interest(Conn* c) {
  if (!c->open) return;
  uint32_t want = 0;
  bool paused = false;
  if (c->closing) {
    want = EPOLLIN | EPOLLRDHUP;
  } else if (!c->peer_eof) {
    // Level-triggered: unread data keeps the socket ready, so a connection
    // we do not want to read from must leave the interest set, or the
    // reactor spins. The pipelining limit stops parsing; reading stops when
    // unparsed input or unsent output pass their high-water marks.
    paused = c->in.size() >= opt_.in_high_water || c->out.bytes >= opt_.out_high_water ||
             over_budget_;
    if (!paused) want = EPOLLIN | EPOLLRDHUP;
  }
  if (!c->out.empty()) want |= EPOLLOUT;
  if (paused != c->paused) {
    c->paused = paused;
    shm_.control[L::kReadPaused] += paused ? 1 : -1;
  }
  if (want == c->interest) return;
  if (reactor_.modify(c->fd, want, tag_of(c)) != 0) {
    close_conn(c, true);
    return;
  }
  c->interest = want;
}

void Server::update_read_timer(Conn* c) {
  if (!c->open || c->closing) return;
  TimerList* want = nullptr;
  if (c->state == ReadState::kBody || c->state == ReadState::kChunked) {
    want = &body_timers_;
  } else if (c->state == ReadState::kHead) {
    if (c->fresh || !c->in.empty())
      want = &header_timers_;
    else if (c->next_seq == c->write_seq && c->out.empty())
      want = &idle_timers_;
  }
  uint8_t cur = c->read_timer.list;
  if (want && cur == want->id()) return;
  if (cur == kHeaderTimer) header_timers_.unlink(&c->read_timer);
  else if (cur == kBodyTimer) body_timers_.unlink(&c->read_timer);
  else if (cur == kIdleTimer) idle_timers_.unlink(&c->read_timer);
  if (want) want->arm(&c->read_timer, now_ ? now_ : Reactor::now_ms());
}

void Server::begin_close(Conn* c) {
  if (c->closing || !c->open) return;
  if (c->peer_eof) {
    close_conn(c, false);
    return;
  }
  c->closing = true;
  c->state = ReadState::kStop;
  c->in.clear();
  if (::shutdown(c->fd, SHUT_WR) != 0) {
    close_conn(c, false);
    return;
  }
  header_timers_.unlink(&c->read_timer);
  body_timers_.unlink(&c->read_timer);
  idle_timers_.unlink(&c->read_timer);
  write_timers_.unlink(&c->write_timer);
  linger_timers_.arm(&c->read_timer, now_ ? now_ : Reactor::now_ms());
  update_interest(c);
}

void Server::close_conn(Conn* c, bool notify_js) {
  if (!c->open) return;
  if (notify_js && (c->next_seq != c->write_seq || c->js_knows_body))
    pending_closes_.emplace_back(c->slot, c->gen);
  int r = reactor_.remove(c->fd);
  (void)r;  // close() below drops the registration in any case
  close_fd(c->fd);
  c->fd = -1;
  c->open = false;
  if (c->paused) {
    c->paused = false;
    shm_.control[L::kReadPaused] -= 1;
  }
  if (c->read_timer.list) {
    header_timers_.unlink(&c->read_timer);
    body_timers_.unlink(&c->read_timer);
    idle_timers_.unlink(&c->read_timer);
    linger_timers_.unlink(&c->read_timer);
  }
  write_timers_.unlink(&c->write_timer);
  c->in.clear();
  c->out.clear();
  c->parked.clear();
  c->batch_iov.clear();
  c->batch_flags.clear();
  --open_conns_;
  dead_.push_back(c);
  if (!dispatching_ && !pending_closes_.empty()) wake();
}

void Server::reap() {
  for (Conn* c : dead_) {
    // Reset for reuse; the new generation makes stale (slot, gen) pairs miss.
    c->gen++;
    c->interest = 0;
    c->fresh = true;
    c->peer_eof = c->closing = c->dirty = c->js_knows_body = c->resume = c->paused = false;
    c->body_paused = c->want_drain = false;
    c->scanned = 0;
    c->state = ReadState::kHead;
    c->body_left = 0;
    c->body_seq = c->next_seq = c->write_seq = 0;
    c->cutoff_seq = UINT32_MAX;
    c->req_keep_alive = true;
    free_slots_.push_back(c->slot);
  }
  dead_.clear();
}

void Server::on_tick() {
  now_ = Reactor::now_ms();
  while (TimerNode* n = header_timers_.pop_expired(now_)) {
    Conn* c = static_cast<ConnTimer*>(n)->conn;
    ++shm_.control[L::kTimeouts];
    if (c->in.empty()) {
      close_conn(c, true);
    } else {
      respond_error(c, c->next_seq++,
                    http1::Error{408, "FARAD_ERR_HEADERS_TIMEOUT", "request head not received in time"});
    }
  }
  while (TimerNode* n = body_timers_.pop_expired(now_)) {
    Conn* c = static_cast<ConnTimer*>(n)->conn;
    ++shm_.control[L::kTimeouts];
    respond_error(c, c->body_seq,
                  http1::Error{408, "FARAD_ERR_BODY_TIMEOUT", "request body not received in time"});
  }
  while (TimerNode* n = idle_timers_.pop_expired(now_)) close_conn(static_cast<ConnTimer*>(n)->conn, false);
  while (TimerNode* n = write_timers_.pop_expired(now_)) {
    ++shm_.control[L::kTimeouts];
    close_conn(static_cast<ConnTimer*>(n)->conn, true);
  }
  while (TimerNode* n = linger_timers_.pop_expired(now_)) close_conn(static_cast<ConnTimer*>(n)->conn, false);
  if (!accepting_ && listen_fd_ >= 0 && accept_resume_at_ && now_ >= accept_resume_at_) {
    accept_resume_at_ = 0;
    set_accepting(true);
  }
  flush_dirty();
}

void Server::check_budget() {
  // Hysteresis: pause everywhere above the budget, resume below 3/4 of it.
  // A blocked handler or a long GC must not let thousands of sockets fill
  // at once. O(connections), but only on the two transitions.
  if (opt_.max_buffered_bytes == 0) return;
  size_t used = pool_.bytes_in_use();
  bool over = over_budget_ ? used > opt_.max_buffered_bytes / 4 * 3 : used > opt_.max_buffered_bytes;
  if (over == over_budget_) return;
  over_budget_ = over;
  shm_.control[L::kOverBudget] = over ? 1 : 0;
  for (Conn* c : slots_)
    if (c && c->open) update_interest(c);
}

void Server::update_tick() {
  bool need = !header_timers_.empty() || !body_timers_.empty() || !idle_timers_.empty() ||
              !write_timers_.empty() || !linger_timers_.empty() || accept_resume_at_ != 0;
  int r = reactor_.set_tick(need ? tick_ms_ : 0);
  (void)r;  // timerfd_settime only fails on invalid arguments
}

}  // namespace farad
