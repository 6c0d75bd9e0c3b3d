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
  if (!shm_.slab || shm_.slab_cap < L::kSlabMinRoom)
    throw std::invalid_argument("body slab missing or smaller than kSlabMinRoom");
  if (opt_.body_chunk_max == 0) opt_.body_chunk_max = 1u << 20;
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


int Server::on_readable() {
  now_ = Reactor::now_ms();
  // One precise timestamp per turn for the request timings (a clock read
  // per request cost 3% of pipelined CPU).
  now_us_ = Reactor::now_us();
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
  return n;
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
