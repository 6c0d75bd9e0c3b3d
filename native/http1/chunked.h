// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1):
// chunk sizes (hex, overflow rejected), chunk extensions (validated, ignored),
// chunk data, the CRLF after each chunk, and the trailer section (validated
// with the header-field grammar, counted against a byte limit, discarded).
// Any split of the input gives the same result.
#pragma once
#include <cstddef>
#include <cstdint>
#include "http1/request_parser.h"

namespace farad::http1 {

class ChunkedDecoder {
 public:
  struct Step {
    size_t consumed = 0;     // input bytes used by this step
    size_t data_off = 0;     // body bytes found: input[data_off, data_off+data_len)
    size_t data_len = 0;
    bool done = false;       // the last chunk and the trailers have been read
    Error error;             // status != 0: reject (400, or 413 via limits)
  };
  explicit ChunkedDecoder(uint32_t max_trailer_bytes = 16384);
  void reset();
  // Decodes from input[0, len). Returns at most one span of body data per
  // call; the caller calls again with input + consumed until it has used
  // all of its bytes, or done/error is set.
  Step decode(const uint8_t* input, size_t len);
};

}  // namespace farad::http1
