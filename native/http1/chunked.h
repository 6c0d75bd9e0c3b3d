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
    Error error;             // status != 0: reject (400; 431 when the
                             // trailer section exceeds max_trailer_bytes)
  };
  explicit ChunkedDecoder(uint32_t max_trailer_bytes = 16384);
  void reset();
  // Changes the trailer limit (takes effect for the next body).
  void set_max_trailer_bytes(uint32_t n) { max_trailer_bytes_ = n; }
  // Decodes from input[0, len). Returns at most one span of body data per
  // call; the caller calls again with input + consumed until it has used
  // all of its bytes, or done/error is set.
  Step decode(const uint8_t* input, size_t len);

  // A chunk-size line (size and extensions, without CRLF) longer than this
  // is refused: extensions are read and dropped, so without a bound they
  // would be an unmetered stream (CVE-2024-22019 in Node's parser).
  static constexpr uint32_t kMaxChunkLine = 4096;

 private:
  enum class S : uint8_t {
    kSize, kSizeBws, kExtName0, kExtName, kExtNameBws, kExtVal0, kExtValToken,
    kExtQuoted, kExtQuotedPair, kExtValEnd, kExtAfterVal, kSizeLf,
    kData, kDataCr, kDataLf,
    kTrailerStart, kTrailerName, kTrailerValue, kTrailerLf, kFinalLf,
    kDone, kError
  };
  uint32_t max_trailer_bytes_;
  S state_ = S::kSize;
  uint8_t size_digits_ = 0;
  uint32_t line_bytes_ = 0;      // bytes of the current chunk-size line
  uint32_t trailer_bytes_ = 0;
  uint64_t size_ = 0;            // the chunk-size being read
  uint64_t remaining_ = 0;       // data bytes left in the current chunk
  Error error_;
};

}  // namespace farad::http1
