#include "reactor/reactor.h"

#include <sys/timerfd.h>
#include <unistd.h>
#include <cerrno>
#include <ctime>
#include <system_error>

namespace farad {

Reactor::Reactor() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  tfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd_ < 0) {
    int e = errno;
    close(epfd_);
    throw std::system_error(e, std::generic_category(), "timerfd_create");
  }
}

Reactor::~Reactor() {
  if (tfd_ >= 0) close(tfd_);
  if (epfd_ >= 0) close(epfd_);
}

int Reactor::add(int fd, uint32_t events, uint64_t tag) {
  struct epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int Reactor::modify(int fd, uint32_t events, uint64_t tag) {
  struct epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

int Reactor::remove(int fd) {
  // The event argument is ignored but must be non-null before Linux 2.6.9.
  struct epoll_event ev{};
  return epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : -errno;
}

int Reactor::poll(struct epoll_event* out, int max) {
  for (;;) {
    int n = epoll_wait(epfd_, out, max, 0);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

int Reactor::set_tick(uint32_t ms) {
  if (ms == tick_ms_) return 0;
  struct itimerspec its{};
  if (ms) {
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = long(ms % 1000) * 1000000L;
    its.it_interval = its.it_value;
  }
  if (timerfd_settime(tfd_, 0, &its, nullptr) != 0) return -errno;
  tick_ms_ = ms;
  return 0;
}

void Reactor::ack_tick() {
  uint64_t expirations;
  // EAGAIN just means a level-triggered wakeup raced with a read; harmless.
  ssize_t r = read(tfd_, &expirations, sizeof expirations);
  (void)r;
}

int64_t Reactor::now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t Reactor::now_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace farad
