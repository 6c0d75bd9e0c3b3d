// Shared by the libFuzzer targets: where to cut the stream, and the abort
// that reports two runs of one stream disagreeing.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace farad_test {

// Cut points for a stream of `size` bytes. strategy (0-3): random pieces of
// up to 17 bytes, two pieces, pieces of up to 3 bytes, pieces of up to 64.
inline std::vector<size_t> fuzz_cuts(int strategy, uint8_t seed, size_t size) {
  std::vector<size_t> cuts;
  if (size < 2) return cuts;
  uint32_t x = 0x9E3779B9u ^ (static_cast<uint32_t>(seed) * 0x85EBCA6Bu) ^ static_cast<uint32_t>(size);
  auto next = [&x]() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  if (strategy == 1) {
    cuts.push_back(1 + next() % (size - 1));
    return cuts;
  }
  const uint32_t max_piece = strategy == 2 ? 3 : strategy == 3 ? 64 : 17;
  size_t pos = 0;
  while (true) {
    pos += 1 + next() % max_piece;
    if (pos >= size) break;
    cuts.push_back(pos);
  }
  return cuts;
}

inline void expect_same(const std::string& a, const std::string& b, const char* what) {
  if (a == b) return;
  std::fprintf(stderr, "split mismatch (%s)\nwhole:\n%s\nsplit:\n%s\n", what, a.c_str(), b.c_str());
  std::abort();
}

}  // namespace farad_test
