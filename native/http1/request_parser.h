// Strict HTTP/1.1 request parsing (RFC 9112), in two parts:
//
//  * HeadScanner finds the end of a request head in a byte stream fed in any
//    split. It is O(n) over the head (it remembers where it stopped), rejects a
//    bare LF as soon as it sees one, and enforces the request-line and header
//    section limits while scanning so an endless head is refused early.
//  * parse_head() parses one complete, contiguous head (the bytes up to and
//    including the empty line) into offsets. No allocation, no copies.
//
// Body framing is decided by parse_head(); chunked bodies are decoded by
// ChunkedDecoder (chunked.h).
#pragma once
#include <cstddef>
#include <cstdint>

#include "http1/line_scan.h"

namespace farad::http1 {

struct Limits {
  uint32_t max_request_line = 8192;   // bytes of the request line; longer -> 414
  uint32_t max_header_bytes = 16384;  // bytes of the whole head; more -> 431
  uint32_t max_headers = 100;         // header fields; more -> 431
};

// Outcome of a scan or parse step. status == 0 means success; otherwise it is
// the 4xx/5xx to answer with, `code` a stable identifier (FARAD_ERR_*), and
// `reason` a short human-readable explanation (static storage).
//
// The codes (registry in http1/errors.h); after any of them the connection
// must answer and close, since the framing of what follows is unknown:
//   400 FARAD_ERR_BAD_METHOD             method is empty or not a token
//   400 FARAD_ERR_BAD_TARGET             request-target malformed or in a form
//                                        the method does not allow
//   400 FARAD_ERR_BAD_VERSION            not "HTTP/" DIGIT "." DIGIT, or the
//                                        request line is not exactly 3 parts
//   505 FARAD_ERR_VERSION_NOT_SUPPORTED  well-formed version other than 1.0/1.1
//   414 FARAD_ERR_URI_TOO_LONG           request line > max_request_line
//   431 FARAD_ERR_HEADERS_TOO_LARGE      head > max_header_bytes
//   431 FARAD_ERR_TOO_MANY_HEADERS       header fields > max_headers
//   400 FARAD_ERR_BAD_HEADER             field name/value grammar
//   400 FARAD_ERR_BARE_LF                LF not preceded by CR (head or chunk framing)
//   400 FARAD_ERR_BARE_CR                CR not followed by LF
//   400 FARAD_ERR_OBS_FOLD               line folding / whitespace at line start
//   400 FARAD_ERR_EMPTY_LINES            more than 16 bytes of empty lines
//                                        before the request line
//   400 FARAD_ERR_HOST                   Host missing (1.1), repeated, or invalid
//   400 FARAD_ERR_CONTENT_LENGTH         Content-Length invalid or conflicting
//   400 FARAD_ERR_TE_WITH_CL             Transfer-Encoding and Content-Length
//   400 FARAD_ERR_TRANSFER_ENCODING      chunked not final, repeated, HTTP/1.0,
//                                        or malformed coding list
//   501 FARAD_ERR_UNSUPPORTED_CODING     a coding other than chunked before it
//   417 FARAD_ERR_EXPECTATION            Expect other than 100-continue
//   400 FARAD_ERR_CHUNK_SIZE             chunk-size missing, not hex, overflows
//   400 FARAD_ERR_CHUNK_EXTENSION        chunk-ext malformed or its line too long
//   400 FARAD_ERR_CHUNK_FRAMING          chunk data not followed by CRLF, bare CR
//   400 FARAD_ERR_BAD_TRAILER            trailer field grammar
//   431 FARAD_ERR_TRAILERS_TOO_LARGE     trailer section > max_trailer_bytes
struct Error {
  uint16_t status = 0;
  const char* code = nullptr;
  const char* reason = nullptr;
  explicit operator bool() const { return status != 0; }
};

class HeadScanner {
 public:
  enum class State { kNeedMore, kComplete, kError };
  // Feeds the next `len` bytes of the stream. Bytes before the head (empty
  // lines allowed by RFC 9112 §2.2) are counted in `skipped()`. On kComplete,
  // head_length() is the length of the head counted from the first byte after
  // the skipped prefix, and `consumed` tells how many bytes of *this* call
  // belong to the prefix+head (the rest belongs to the body or the next request).
  State feed(const uint8_t* data, size_t len, size_t* consumed);
  size_t skipped() const;
  size_t head_length() const;
  const Error& error() const;
  void reset(const Limits& limits);

  // At most this many bytes of empty lines (CRLF) may precede a request line.
  static constexpr size_t kMaxSkipped = 16;

 private:
  enum class Phase : uint8_t { kPrefix, kHead, kComplete, kError };
  State fail(Error e, size_t at, size_t* consumed);

  Limits limits_;
  Error error_;
  size_t skipped_ = 0;
  detail::LineScan scan_;  // position, current line, lines ended, CR pending
  Phase phase_ = Phase::kPrefix;
};

enum Method : uint8_t {
  kOther = 0, kGet = 1, kHead = 2, kPost = 3, kPut = 4, kDelete = 5,
  kConnect = 6, kOptions = 7, kTrace = 8, kPatch = 9
};

enum class TargetForm : uint8_t { kOrigin, kAbsolute, kAuthority, kAsterisk };
enum class BodyKind : uint8_t { kNone, kLength, kChunked };

struct HeaderField {  // offsets relative to the head's first byte
  uint32_t name_off, name_len;
  uint32_t value_off, value_len;  // optional whitespace around the value trimmed
};

struct RequestHead {
  uint8_t method = kOther;
  uint32_t method_len = 0;           // the method is at offset 0
  uint32_t target_off = 0, target_len = 0;
  uint32_t path_len = 0;             // target bytes before the first '?' (for
                                     // every form; absolute-form counts its
                                     // scheme and authority too)
  TargetForm form = TargetForm::kOrigin;
  uint8_t version_minor = 1;         // HTTP/1.0 or HTTP/1.1
  uint32_t header_count = 0;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;       // with BodyKind::kLength
  bool keep_alive = true;            // from version and Connection tokens
  bool connection_close = false;     // "Connection: close" was sent
  bool expect_continue = false;      // "Expect: 100-continue"
  bool upgrade = false;              // Upgrade header with "Connection: upgrade"
};

// Parses a complete head of `len` bytes (as delimited by HeadScanner).
// `fields` must have room for limits.max_headers entries.
Error parse_head(const uint8_t* head, size_t len, const Limits& limits,
                 RequestHead* out, HeaderField* fields);

}  // namespace farad::http1
