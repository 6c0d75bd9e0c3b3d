// Strict HTTP/1.1 response parsing (RFC 9112, RFC 9110) for farad's client,
// in two parts, like the request side (request_parser.h):
//
//  * ResponseScanner finds the end of a response head in a byte stream fed
//    in any split. It is O(n) over the head (it remembers where it stopped),
//    rejects a bare LF or CR as soon as it sees one, refuses a stream that
//    does not start with "HTTP/" at the first wrong byte, and enforces the
//    head-size and header-count limits while scanning.
//  * parse_response_head() parses one complete, contiguous head (the bytes
//    up to and including the empty line) into offsets and decides how the
//    body is delimited, given the method of the request it answers. No
//    allocation, no copies, no exceptions.
//
// Chunked bodies are decoded by ChunkedDecoder (chunked.h), as for requests.
//
// A 1xx other than 101 (100 Continue, 103 Early Hints) is a head with no
// body after which the final response's head follows: the caller resets the
// scanner and scans again from the byte after it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "http1/request_parser.h"  // Error, HeaderField, Method

namespace farad::http1 {

struct ResponseLimits {
  uint32_t max_header_bytes = 16384;  // bytes of the whole head, status line included
  uint32_t max_headers = 100;         // header fields
};

// Errors. A client has no one to answer, so Error::status carries no
// meaning here: it is always kResponseErrorStatus (502, what a proxy would
// answer for an invalid upstream response), and callers match on `code`.
// After any of them the connection must be closed, since the framing of
// what follows is unknown. (ChunkedDecoder's errors keep their request-side
// statuses, 400 and 431; for response bodies only their codes matter too.)
//
//   FARAD_ERR_BAD_STATUS_LINE     the stream does not start with "HTTP/", or
//                                 the status line is not version SP status
//                                 [SP reason], or the reason has a CTL
//   FARAD_ERR_BAD_VERSION         "HTTP/" not followed by DIGIT "." DIGIT
//   FARAD_ERR_VERSION_NOT_SUPPORTED  a well-formed version other than 1.0/1.1
//   FARAD_ERR_BAD_STATUS          status not three digits, or below 100
//   FARAD_ERR_HEADERS_TOO_LARGE   head > max_header_bytes
//   FARAD_ERR_TOO_MANY_HEADERS    header fields > max_headers
//   FARAD_ERR_BAD_HEADER          field name/value grammar; Connection not a
//                                 token list
//   FARAD_ERR_BARE_LF             LF not preceded by CR
//   FARAD_ERR_BARE_CR             CR not followed by LF
//   FARAD_ERR_OBS_FOLD            line folding / whitespace at line start
//   FARAD_ERR_CONTENT_LENGTH      Content-Length invalid, overflowing or
//                                 conflicting
//   FARAD_ERR_TE_WITH_CL          Transfer-Encoding and Content-Length
//                                 (whatever the status: a proxy forwarding
//                                 both smuggles a response)
//   FARAD_ERR_TRANSFER_ENCODING   malformed coding list, chunked twice, or
//                                 Transfer-Encoding in an HTTP/1.0 response
constexpr uint16_t kResponseErrorStatus = 502;

// How the body after the head is delimited (RFC 9112 §6.3).
enum class ResponseBody : uint8_t {
  kNone,     // no body: 1xx, 204, 304, a response to HEAD, a tunnel
  kLength,   // exactly content_length bytes (may be 0)
  kChunked,  // chunked coding: decode with ChunkedDecoder
  kClose,    // every byte until the server closes the connection
};

struct ResponseHead {
  uint16_t status = 0;                    // 100..999
  uint8_t version_minor = 1;              // HTTP/1.0 or HTTP/1.1
  uint32_t reason_off = 0, reason_len = 0;  // reason-phrase, may be empty
  uint32_t header_count = 0;
  ResponseBody body = ResponseBody::kNone;
  bool has_content_length = false;        // a valid Content-Length was sent
  uint64_t content_length = 0;            // its value, even when it does not
                                          // frame the body (HEAD, 304)
  bool informational = false;  // 1xx other than 101: another head follows
  bool tunnel = false;         // 2xx to CONNECT, or 101: the bytes after the
                               // head belong to the tunnel or new protocol
  bool other_coding = false;   // Transfer-Encoding names a coding other than
                               // chunked; farad does not remove it, so the
                               // body bytes are still coded
  bool keep_alive = true;      // the connection may carry another request
                               // once this (final) response is read
  bool connection_close = false;  // "Connection: close" was sent
  int32_t keep_alive_timeout = -1;  // Keep-Alive: timeout=N in seconds, the
                                    // smallest if repeated; -1 when absent
};

class ResponseScanner {
 public:
  enum class State { kNeedMore, kComplete, kError };
  // Feeds the next `len` bytes of the stream. On kComplete, head_length() is
  // the length of the head and `consumed` tells how many bytes of *this* call
  // belong to it (the rest belongs to the body or the next head). On kError,
  // `consumed` is the offset of the offending byte in this call.
  State feed(const uint8_t* data, size_t len, size_t* consumed);
  size_t head_length() const;
  const Error& error() const;
  void reset(const ResponseLimits& limits);

 private:
  State fail(Error e, size_t at, size_t* consumed);

  ResponseLimits limits_;
  Error error_;
  detail::LineScan scan_;  // position, current line, lines ended, CR pending
  enum class Phase : uint8_t { kHead, kComplete, kError } phase_ = Phase::kHead;
};

// Parses a complete head of `len` bytes (as delimited by ResponseScanner)
// that answers a request with method `request_method` (a Method; kOther for
// a method farad does not name). `fields` must have room for
// limits.max_headers entries. On error, *out has been reset and then
// partly filled: use nothing from it.
//
// The status line is RFC 9112 §4's `HTTP-version SP 3DIGIT SP reason CRLF`;
// "HTTP/1.1 200\r\n", without the SP before the empty reason, is accepted
// too because many servers send it (reason_off is then the CR's offset).
Error parse_response_head(const uint8_t* head, size_t len, const ResponseLimits& limits,
                          uint8_t request_method, ResponseHead* out, HeaderField* fields);

}  // namespace farad::http1
