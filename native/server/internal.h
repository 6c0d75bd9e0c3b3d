// Internals shared by the server core's files (server.cc, input.cc,
// output.cc): epoll tags, limits per turn, timer ids, small helpers.
#pragma once
#include <unistd.h>

#include <cstdint>

#include "reactor/reactor.h"
#include "server/connection.h"

namespace farad::detail {

constexpr uint64_t kListenTag = ~uint64_t(0);
constexpr uint64_t kTimerTag = ~uint64_t(0) - 1;
constexpr uint64_t kWakeTag = ~uint64_t(0) - 2;
constexpr int kMaxEvents = 1024;
constexpr int kMaxIov = 64;
constexpr int kAcceptsPerTurn = 256;

enum TimerId : uint8_t { kHeaderTimer = 1, kBodyTimer, kIdleTimer, kWriteTimer, kLingerTimer };

// epoll data for a connection: slot and generation, so an event for a
// descriptor closed (and reused) earlier in the same turn misses.
inline uint64_t tag_of(const Conn* c) { return (uint64_t(c->gen) << 32) | c->slot; }

using ::farad::close_fd;  // reactor/reactor.h

}  // namespace farad::detail
