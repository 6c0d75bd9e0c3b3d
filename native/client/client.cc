#include "client/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace farad {

namespace {

constexpr int kMaxEvents = 256;
constexpr size_t kTurnBytes = 256 << 10;  // bytes read per turn before the batch goes to JS
constexpr uint64_t kTimerTag = ~uint64_t(0);
constexpr uint64_t kWakeTag = ~uint64_t(0) - 1;

inline uint64_t tag(uint32_t slot, uint32_t gen) { return (uint64_t(gen) << 32) | slot; }


// Compacts an output queue once its sent prefix dominates it.
inline void compact(std::vector<uint8_t>& out, size_t& off) {
  if (off == out.size()) {
    out.clear();
    off = 0;
  } else if (off > 65536 && off * 2 > out.size()) {
    out.erase(out.begin(), out.begin() + std::ptrdiff_t(off));
    off = 0;
  }
}

}  // namespace

ClientCore::ClientCore(const ClientOptions& options, ClientSink* sink)
    : opt_(options),
      sink_(sink),
      fields_(new http1::HeaderField[options.limits.max_headers ? options.limits.max_headers : 1]) {
  if (opt_.read_size < 4096) opt_.read_size = 4096;
  if (opt_.reads_per_turn == 0) opt_.reads_per_turn = 1;
  // The reactor's tick is never armed here (JS keeps the client's timers),
  // but its descriptor is registered so a stray expiry cannot spin us.
  // The eventfd wakes the reactor when an event is emitted outside a turn
  // (a failure inside a call from JS), so it is delivered like any other.
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  int r = reactor_.add(reactor_.timer_fd(), EPOLLIN, kTimerTag);
  if (r == 0) r = reactor_.add(wake_fd_, EPOLLIN, kWakeTag);
  if (r != 0) {
    close_fd(wake_fd_);
    throw std::system_error(-r, std::generic_category(), "epoll_ctl");
  }
  events_.reserve(1024);
}

ClientCore::~ClientCore() {
  for (Conn* c : slots_) {
    if (c->open) close_fd(c->fd);
    delete c;
  }
  close_fd(wake_fd_);
}

ClientCore::Conn* ClientCore::find(uint32_t slot, uint32_t gen) const {
  if (slot >= slots_.size()) return nullptr;
  Conn* c = slots_[slot];
  return c->open && c->gen == gen ? c : nullptr;
}

int ClientCore::connect(const char* ip, int port, uint32_t* slot, uint32_t* gen) {
  if (port <= 0 || port > 65535) return -EINVAL;
  sockaddr_storage addr{};
  socklen_t addr_len;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    addr_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    addr_len = sizeof *v6;
  } else {
    return -EINVAL;
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  // Requests are written whole; Nagle would only delay the last segment.
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    int e = errno;
    close_fd(fd);
    return -e;
  }
  int status = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    if (errno != EINPROGRESS) {
      int e = errno;
      close_fd(fd);
      return -e;
    }
    status = 1;
  }
  Conn* c;
  if (!free_slots_.empty()) {
    c = slots_[free_slots_.back()];
    free_slots_.pop_back();
  } else {
    c = new Conn;
    c->slot = uint32_t(slots_.size());
    slots_.push_back(c);
  }
  c->fd = fd;
  c->open = true;
  c->connecting = status == 1;
  c->paused = false;
  c->want_drain = false;
  c->started = false;
  c->phase = Phase::kHead;
  c->remaining = 0;
  c->expected.clear();
  c->head.clear();
  c->out.clear();
  c->out_off = 0;
  c->scanner.reset(opt_.limits);
  c->chunked.set_max_trailer_bytes(opt_.max_trailer_bytes);
  c->chunked.reset();
  c->interest = c->connecting ? uint32_t(EPOLLOUT) : uint32_t(EPOLLIN | EPOLLRDHUP);
  int r = reactor_.add(fd, c->interest, tag(c->slot, c->gen));
  if (r != 0) {
    close_fd(fd);
    c->fd = -1;
    c->open = false;
    ++c->gen;
    free_slots_.push_back(c->slot);
    return r;
  }
  ++open_;
  *slot = c->slot;
  *gen = c->gen;
  return status;
}

int64_t ClientCore::write(uint32_t slot, uint32_t gen, const uint8_t* data, size_t len, int method) {
  Conn* c = find(slot, gen);
  if (!c) return -EBADF;
  if (method >= 0) c->expected.push_back(uint8_t(method));
  if (c->out_off == c->out.size() && !c->connecting && len > 0) {
    // Fast path: nothing queued, send straight from the caller's memory.
    ssize_t n;
    do n = ::send(c->fd, data, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        int e = errno;
        close_conn(c);
        return -e;
      }
      n = 0;
    }
    data += n;
    len -= size_t(n);
    if (len == 0) return 0;
  }
  c->out.insert(c->out.end(), data, data + len);
  int64_t queued = int64_t(c->out.size() - c->out_off);
  if (queued > 0) {
    c->want_drain = true;
    update_interest(c);
  }
  return queued;
}

bool ClientCore::pause(uint32_t slot, uint32_t gen, bool paused) {
  Conn* c = find(slot, gen);
  if (!c) return false;
  if (c->paused != paused) {
    c->paused = paused;
    update_interest(c);
  }
  return true;
}

bool ClientCore::close(uint32_t slot, uint32_t gen) {
  Conn* c = find(slot, gen);
  if (!c) return false;
  close_conn(c);
  return true;
}

int ClientCore::local_port(uint32_t slot, uint32_t gen) const {
  Conn* c = find(slot, gen);
  if (!c) return -1;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(c->fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return -1;
}

void ClientCore::update_interest(Conn* c) {
  if (!c->open) return;
  uint32_t want;
  if (c->connecting) {
    want = EPOLLOUT;
  } else {
    // Level-triggered: a paused connection must leave the interest set or
    // its unread bytes would wake us on every turn.
    want = c->paused ? 0 : uint32_t(EPOLLIN | EPOLLRDHUP);
    if (c->out_off < c->out.size()) want |= EPOLLOUT;
  }
  if (want == c->interest) return;
  int r = reactor_.modify(c->fd, want, tag(c->slot, c->gen));
  if (r != 0) {
    fail(c, -r, nullptr);
    return;
  }
  c->interest = want;
}

void ClientCore::on_readable() {
  in_turn_ = true;
  turn_start_ = slab_used_;
  turn_full_ = false;
  epoll_event evs[kMaxEvents];
  // Bounded: a flood of ready sockets still returns to the JS loop.
  for (int round = 0; round < 4; ++round) {
    int n = reactor_.poll(evs, kMaxEvents);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      uint64_t t = evs[i].data.u64;
      if (t == kTimerTag) {
        reactor_.ack_tick();
        continue;
      }
      if (t == kWakeTag) {
        uint64_t v;
        // EAGAIN only means another turn already took the count.
        (void)!::read(wake_fd_, &v, sizeof v);
        wake_pending_ = false;
        continue;
      }
      // Enough bytes for one batch (or no room left in the slab):
      // level-triggered, the rest are reported again by the next wait.
      if (turn_full_ || slab_used_ - turn_start_ >= kTurnBytes) break;
      Conn* c = find(uint32_t(t), uint32_t(t >> 32));
      if (c) on_conn_event(c, evs[i].events);  // else closed earlier this turn
    }
    if (n < kMaxEvents || turn_full_ || slab_used_ - turn_start_ >= kTurnBytes) break;
  }
  in_turn_ = false;
  if (!events_.empty()) {
    // Swapped out first: JS may call back into us and emit more, which then
    // goes to the next turn (woken by wake()).
    batch_events_.swap(events_);
    last_data_ = ~size_t(0);
    batch_codes_.swap(codes_);
    sink_->on_batch(batch_events_.data(), batch_events_.size(), batch_codes_.data(), batch_codes_.size());
    batch_events_.clear();
    batch_codes_.clear();
  }
  if (!events_.empty()) wake();
}

void ClientCore::wake() {
  if (in_turn_ || wake_pending_) return;
  uint64_t one = 1;
  // Failure (counter overflow, impossible at 1 per turn) leaves the events
  // for the next turn that other activity causes.
  if (::write(wake_fd_, &one, sizeof one) == sizeof one) wake_pending_ = true;
}

void ClientCore::on_conn_event(Conn* c, uint32_t ev) {
  if (c->connecting) {
    finish_connect(c);
    return;
  }
  if (ev & EPOLLOUT) {
    int r = flush_out(c);
    if (r != 0) {
      fail(c, -r, nullptr);
      return;
    }
  }
  if (c->open && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) read_conn(c);
}

void ClientCore::finish_connect(Conn* c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == EINPROGRESS || err == EALREADY) return;  // spurious wake-up
  if (err != 0) {
    emit(kEvConnect, c, {-err});
    close_conn(c);
    return;
  }
  c->connecting = false;
  emit(kEvConnect, c, {0});
  int r = flush_out(c);
  if (r != 0) {
    fail(c, -r, nullptr);
    return;
  }
  update_interest(c);
}

int ClientCore::flush_out(Conn* c) {
  while (c->out_off < c->out.size()) {
    ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -errno;
    }
    c->out_off += size_t(n);
  }
  compact(c->out, c->out_off);
  if (c->out.empty() && c->want_drain) {
    c->want_drain = false;
    emit(kEvDrain, c, {});
  }
  update_interest(c);
  return 0;
}

void ClientCore::read_conn(Conn* c) {
  for (uint32_t i = 0; i < opt_.reads_per_turn && c->open && !c->paused; ++i) {
    // A read, plus one head it may complete that began in an earlier read.
    if (!room(size_t(opt_.read_size) + opt_.limits.max_header_bytes)) return;
    size_t base = slab_used_;
    ssize_t n;
    do n = ::read(c->fd, slab_ + base, opt_.read_size);
    while (n < 0 && errno == EINTR);
    if (n > 0) slab_used_ += size_t(n);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fail(c, errno, nullptr);
      return;
    }
    if (n == 0) {
      on_eof(c);
      return;
    }
    if (!process(c, base, size_t(n))) return;
    if (size_t(n) < opt_.read_size) return;  // drained: the socket is empty
  }
}

bool ClientCore::process(Conn* c, size_t off, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (c->expected.empty() && c->phase == Phase::kHead) {
      // Bytes nobody asked for (a 408 on an idle connection, garbage):
      // the connection cannot carry a request any more.
      fail(c, 0, "FARAD_ERR_UNSOLICITED_RESPONSE");
      return false;
    }
    c->started = true;
    const uint8_t* p = slab_ + off + i;
    size_t avail = len - i;
    switch (c->phase) {
      case Phase::kHead: {
        size_t used = 0;
        auto st = c->scanner.feed(p, avail, &used);
        if (st == http1::ResponseScanner::State::kError) {
          fail(c, 0, c->scanner.error().code);
          return false;
        }
        if (st == http1::ResponseScanner::State::kNeedMore) {
          c->head.append(reinterpret_cast<const char*>(p), avail);
          return true;
        }
        size_t head_off, head_len = c->scanner.head_length();
        if (c->head.empty()) {
          head_off = off + i;
        } else {
          // The head began in an earlier read: make it contiguous after
          // this read's bytes (offsets stay valid, pointers do not).
          c->head.append(reinterpret_cast<const char*>(p), used);
          head_off = add_bytes(c->head.data(), c->head.size());
          c->head.clear();
        }
        i += used;
        if (!on_head(c, head_off, head_len)) return false;
        break;
      }
      case Phase::kLength: {
        size_t n = size_t(std::min<uint64_t>(c->remaining, avail));
        emit_data(c, off + i, n);
        i += n;
        c->remaining -= n;
        if (c->remaining == 0) response_done(c);
        break;
      }
      case Phase::kChunked: {
        auto step = c->chunked.decode(p, avail);
        if (step.error) {
          fail(c, 0, step.error.code);
          return false;
        }
        if (step.data_len) emit_data(c, off + i + step.data_off, step.data_len);
        i += step.consumed;
        if (step.done) response_done(c);
        break;
      }
      case Phase::kUntilClose:
      case Phase::kTunnel:
        emit_data(c, off + i, avail);
        i = len;
        break;
    }
    if (!c->open) return false;
  }
  return true;
}

bool ClientCore::on_head(Conn* c, size_t head_off, size_t head_len) {
  http1::ResponseHead h;
  const uint8_t* head = slab_ + head_off;
  http1::Error e = http1::parse_response_head(head, head_len, opt_.limits, c->expected.front(), &h,
                                              fields_.get());
  if (e) {
    fail(c, 0, e.code);
    return false;
  }
  int32_t flags = int32_t(h.body) | (h.keep_alive ? kHeadKeepAlive : 0) |
                  (h.informational ? kHeadInformational : 0) | (h.tunnel ? kHeadTunnel : 0) |
                  (h.has_content_length ? kHeadHasLength : 0) |
                  (h.version_minor == 1 ? kHeadHttp11 : 0) | (h.other_coding ? kHeadOtherCoding : 0);
  events_.insert(events_.end(),
                 {kEvHead, int32_t(c->slot), int32_t(c->gen), int32_t(8 + 4 * h.header_count),
                  int32_t(h.status), flags, h.keep_alive_timeout,
                  int32_t(uint32_t(h.content_length & 0xffffffffu)), int32_t(uint32_t(h.content_length >> 32)),
                  int32_t(head_off), int32_t(head_len), int32_t(h.header_count)});
  for (uint32_t k = 0; k < h.header_count; ++k) {
    const http1::HeaderField& f = fields_[k];
    events_.insert(events_.end(), {int32_t(head_off + f.name_off), int32_t(f.name_len),
                                   int32_t(head_off + f.value_off), int32_t(f.value_len)});
  }
  c->scanner.reset(opt_.limits);
  if (h.informational) return true;  // the final head follows
  switch (h.body) {
    case http1::ResponseBody::kNone:
      if (h.tunnel) {
        c->phase = Phase::kTunnel;
        c->expected.clear();
      } else {
        response_done(c);
      }
      break;
    case http1::ResponseBody::kLength:
      c->remaining = h.content_length;
      c->phase = Phase::kLength;
      if (c->remaining == 0) response_done(c);
      break;
    case http1::ResponseBody::kChunked:
      c->chunked.reset();
      c->phase = Phase::kChunked;
      break;
    case http1::ResponseBody::kClose:
      c->phase = Phase::kUntilClose;
      break;
  }
  return true;
}

void ClientCore::response_done(Conn* c) {
  emit(kEvEnd, c, {});
  if (!c->expected.empty()) c->expected.pop_front();
  c->phase = Phase::kHead;
  c->started = false;
}

void ClientCore::on_eof(Conn* c) {
  if (c->phase == Phase::kUntilClose || c->phase == Phase::kTunnel) {
    emit(kEvEnd, c, {});
    emit(kEvEof, c, {});
    close_conn(c);
  } else if (c->expected.empty() && c->phase == Phase::kHead) {
    emit(kEvEof, c, {});
    close_conn(c);
  } else if (!c->started) {
    fail(c, 0, "FARAD_ERR_SOCKET_CLOSED");
  } else {
    fail(c, 0, "FARAD_ERR_PREMATURE_CLOSE");
  }
}

void ClientCore::fail(Conn* c, int err, const char* code) {
  int32_t code_index = -1;
  if (code) {
    code_index = int32_t(codes_.size());
    codes_.push_back(code);  // static strings (parser and core codes)
  }
  emit(kEvError, c, {err, c->started ? 1 : 0, code_index});
  close_conn(c);
}

void ClientCore::close_conn(Conn* c) {
  if (!c->open) return;
  (void)reactor_.remove(c->fd);  // close() drops the registration in any case
  close_fd(c->fd);
  c->fd = -1;
  c->open = false;
  ++c->gen;  // stale handles and events miss from now on
  c->expected.clear();
  c->head.clear();
  c->head.shrink_to_fit();
  c->out.clear();
  c->out.shrink_to_fit();
  c->out_off = 0;
  --open_;
  free_slots_.push_back(c->slot);
}

void ClientCore::emit(ClientEvent type, const Conn* c, std::initializer_list<int32_t> extra) {
  events_.insert(events_.end(), {int32_t(type), int32_t(c->slot), int32_t(c->gen), int32_t(extra.size())});
  events_.insert(events_.end(), extra);
  wake();
}

bool ClientCore::room(size_t need) {
  if (slab_size_ - slab_used_ >= need) return true;
  if (slab_used_ != turn_start_) {
    turn_full_ = true;  // this turn's offsets are in the current slab
    return false;
  }
  size_t size = 0;
  uint8_t* s = sink_->new_slab(&size);
  if (!s || size < need) {
    turn_full_ = true;
    return false;
  }
  slab_ = s;
  slab_size_ = size;
  slab_used_ = turn_start_ = 0;
  return true;
}

void ClientCore::emit_data(const Conn* c, size_t off, size_t len) {
  // Body bytes that continue the previous record of the same connection in
  // the slab (one body over two reads) extend it: JS gets fewer, larger
  // chunks, and a stream reader never has to join them.
  size_t n = events_.size();
  if (n >= 6 && last_data_ == n - 6 && events_[n - 6] == kEvData && events_[n - 5] == int32_t(c->slot) &&
      events_[n - 4] == int32_t(c->gen) && size_t(events_[n - 2]) + size_t(events_[n - 1]) == off) {
    events_[n - 1] += int32_t(len);
    return;
  }
  last_data_ = n;
  emit(kEvData, c, {int32_t(off), int32_t(len)});
}

size_t ClientCore::add_bytes(const void* p, size_t n) {
  // room() reserved max_header_bytes beyond each read for this.
  size_t off = slab_used_;
  std::memcpy(slab_ + off, p, n);
  slab_used_ += n;
  return off;
}

}  // namespace farad
