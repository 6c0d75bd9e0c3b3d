// A level-triggered epoll instance plus a timerfd tick, owned by one server
// on one JS thread. The JS thread never blocks in epoll_wait: the host (the
// binding) watches fd() with its own loop and calls poll() with a zero
// timeout when it becomes readable. No globals: every thread and every
// server gets its own.
#pragma once
#include <sys/epoll.h>
#include <cstdint>

#include <unistd.h>

namespace farad {

// Closes a descriptor once. POSIX leaves its state unspecified after EINTR;
// Linux always releases it, so retrying could close a descriptor another
// thread has just been given.
inline void close_fd(int fd) { (void)::close(fd); }

class Reactor {
 public:
  // Throws std::system_error if epoll or the timerfd cannot be created.
  Reactor();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  int fd() const { return epfd_; }
  int timer_fd() const { return tfd_; }

  // Interest management; each returns 0 or -errno.
  int add(int fd, uint32_t events, uint64_t tag);
  int modify(int fd, uint32_t events, uint64_t tag);
  int remove(int fd);

  // Non-blocking wait: fills `out` with up to `max` ready events.
  int poll(struct epoll_event* out, int max);

  // A periodic tick every `ms` milliseconds while armed; 0 disarms.
  int set_tick(uint32_t ms);
  // Reads the timerfd's expiration count so it stops being readable.
  void ack_tick();
  uint32_t tick_ms() const { return tick_ms_; }

  static int64_t now_ms();
  static int64_t now_us();  // precise (not coarse) monotonic microseconds

 private:
  int epfd_ = -1;
  int tfd_ = -1;
  uint32_t tick_ms_ = 0;
};

}  // namespace farad
