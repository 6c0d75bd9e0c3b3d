// libFuzzer target for the response parser. Input layout:
//   byte 0  bits 0-1: limits (default, small, tiny, mixed)
//           bits 2-3: split strategy (fuzz_util.h: random pieces, two
//                     pieces, small pieces, random pieces up to 64 bytes)
//           bits 4-5: method of the request answered (GET, HEAD, CONNECT,
//                     POST)
//   byte 1  seed of the split
//   rest    the byte stream from the server
// Invariants: the stream split any way gives the same result as the stream
// whole (response_pipeline.h also checks the API contracts on every step,
// 1xx heads included); parse_response_head alone never misbehaves on
// arbitrary bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "response_pipeline.h"

using namespace farad_test;

namespace {

ResponseConfig config_for(uint8_t mode) {
  ResponseConfig c;
  switch (mode & 3) {
    case 1:
      c.limits = ResponseLimits{128, 4};
      c.max_trailer_bytes = 16;
      break;
    case 2:
      c.limits = ResponseLimits{24, 1};
      c.max_trailer_bytes = 0;
      break;
    case 3:
      c.limits = ResponseLimits{64, 50};
      c.max_trailer_bytes = 40;
      break;
    default:
      break;
  }
  static const uint8_t methods[4] = {kGet, kHead, kConnect, kPost};
  c.request_method = methods[(mode >> 4) & 3];
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const uint8_t seed = data[1];
  const std::string input(reinterpret_cast<const char*>(data + 2), size - 2);
  const ResponseConfig cfg = config_for(mode);

  const std::string whole = describe(run_response(input, {}, cfg));
  expect_same(whole,
              describe(run_response(input, fuzz_cuts((mode >> 2) & 3, seed, input.size()), cfg)),
              "random");
  if (input.size() <= 256) {
    std::vector<size_t> all;
    for (size_t k = 1; k < input.size(); ++k) all.push_back(k);
    expect_same(whole, describe(run_response(input, all, cfg)), "bytewise");
  }

  // parse_response_head on bytes the scanner never saw.
  std::vector<HeaderField> fields(cfg.limits.max_headers);
  ResponseHead h;
  Error e = parse_response_head(reinterpret_cast<const uint8_t*>(input.data()), input.size(),
                                cfg.limits, cfg.request_method, &h, fields.data());
  if (!e) {
    fields.resize(h.header_count);
    check_response_contracts(input, h, fields, cfg.limits, cfg.request_method);
  } else {
    check_error_contract(e);
  }
  return 0;
}
