// The response side of the server core: output records, ordering of
// pipelined responses, writing (sendmsg, sendfile), drain. See server.h.
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
    // Chunks with no bytes (an END or CLOSE marker after a HEAD or an empty
    // body) are consumed too, even when nothing was sent: leaving them would
    // make this loop send nothing for ever.
    while (c->out.head && c->out.head->file_fd < 0) {
      OutChunk* o = c->out.head;
      size_t k = std::min<size_t>(left, o->len - o->sent);
      o->sent += uint32_t(k);
      c->out.bytes -= k;
      left -= k;
      if (o->sent != o->len) break;
      if (o->flags & L::kRecClose) close_after = true;
      OutChunk::destroy(c->out.pop());
      if (close_after) break;
    }
    // Shared pieces follow the owned queue: they are consumed only once it
    // is empty (an empty CLOSE marker must not count as sent before it).
    size_t done = 0;
    while (c->out.head == nullptr && done < c->batch_iov.size()) {
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

bool Server::send_continue(uint32_t slot, uint32_t gen, uint32_t seq) {
  apply_records();
  Conn* c = conn_at(slot, gen);
  if (!c || c->closing) return false;
  queue_native(c, seq, reinterpret_cast<const uint8_t*>(http1::kContinue), http1::kContinueLen, 0);
  flush_dirty();
  if (!in_turn_) settle();
  return true;
}

}  // namespace farad
