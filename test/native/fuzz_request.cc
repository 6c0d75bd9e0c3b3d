// libFuzzer target for the request parser. Input layout:
//   byte 0  bits 0-1: limits (default, small, tiny, mixed)
//           bits 2-3: split strategy (random pieces, two pieces, small
//                     pieces, random pieces up to 64 bytes)
//   byte 1  seed of the split
//   rest    the byte stream
// Invariants: the stream split any way gives the same result as the stream
// whole (pipeline.h also checks the API contracts on every step);
// parse_head and ChunkedDecoder alone never misbehave on arbitrary bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pipeline.h"

using namespace farad_test;

namespace {

Config config_for(uint8_t mode) {
  Config c;
  switch (mode & 3) {
    case 1:
      c.limits = Limits{32, 128, 4};
      c.max_trailer_bytes = 16;
      break;
    case 2:
      c.limits = Limits{8, 24, 1};
      c.max_trailer_bytes = 0;
      break;
    case 3:
      c.limits = Limits{200, 64, 50};
      c.max_trailer_bytes = 40;
      break;
    default:
      break;
  }
  return c;
}

std::string decode_all(const std::string& in, size_t piece) {
  ChunkedDecoder d(64);
  std::string out;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t off = 0;
  while (off < in.size()) {
    size_t end = piece == 0 || off + piece > in.size() ? in.size() : off + piece;
    while (off < end) {
      ChunkedDecoder::Step s = d.decode(p + off, end - off);
      FARAD_CHECK(s.consumed <= end - off);
      FARAD_CHECK(s.data_len == 0 || s.data_off + s.data_len <= s.consumed);
      if (s.error) return out + "|error " + s.error.code;
      out.append(in, off + s.data_off, s.data_len);
      off += s.consumed;
      if (s.done) return out + "|done rest=" + std::to_string(in.size() - off);
      FARAD_CHECK(s.consumed > 0);
    }
  }
  return out + "|more";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const uint8_t seed = data[1];
  const std::string input(reinterpret_cast<const char*>(data + 2), size - 2);
  const Config cfg = config_for(mode);

  const std::string whole = describe(run(input, {}, cfg));
  expect_same(whole, describe(run(input, fuzz_cuts((mode >> 2) & 3, seed, input.size()), cfg)), "random");
  if (input.size() <= 256) {
    std::vector<size_t> all;
    for (size_t k = 1; k < input.size(); ++k) all.push_back(k);
    expect_same(whole, describe(run(input, all, cfg)), "bytewise");
  }

  // parse_head on bytes HeadScanner never saw.
  std::vector<HeaderField> fields(cfg.limits.max_headers);
  RequestHead q;
  Error e = parse_head(reinterpret_cast<const uint8_t*>(input.data()), input.size(), cfg.limits,
                       &q, fields.data());
  if (!e) {
    fields.resize(q.header_count);
    check_head_contracts(input, q, fields, cfg);
  } else {
    FARAD_CHECK(e.status >= 400 && e.code && e.reason);
  }

  // The chunked decoder on its own, whole against small pieces.
  const std::string chunked = decode_all(input, 0);
  expect_same(chunked, decode_all(input, 1 + seed % 7), "chunked");
  return 0;
}
