// The line scan shared by the request and response head scanners: finds the
// empty line that ends a head in a stream fed in any split, one pass over
// the bytes, remembering where it stopped. Rejects a bare LF or a bare CR at
// the byte where it appears and enforces the head-size, first-line and
// line-count limits while scanning, so an endless head is refused early.
// Internal to native/http1.
//
// Every decision is made at one byte position and depends only on the bytes
// before it, never on where a feed() call starts or ends; that is what makes
// any split of the stream give the same result.
#pragma once
#include <cstddef>
#include <cstdint>

#include "http1/errors.h"
#include "http1/line_scan.h"
#include "http1/scan.h"

namespace farad::http1::detail {

// Where a scan stands between feed() calls.

struct LineScanLimits {
  size_t max_head;         // bytes of the whole head
  size_t max_first_line;   // bytes of the start line; pass max_head for no
                           // limit of its own (it then never binds first)
  uint32_t max_fields;     // field lines after the start line
};

// The error (kind and reason) for each way a scan can fail, so each
// scanner names its own message ("request head too large", ...).
struct LineScanErrors {
  ErrorKind too_large;
  const char* too_large_reason;
  ErrorKind first_line_too_long;
  const char* first_line_too_long_reason;
  const char* bare_lf_reason;
};

enum class LineScanResult : uint8_t { kNeedMore, kComplete, kError };

// Scans data[*i, len). On kComplete *i is one past the empty line's LF; on
// kError *i is the offending byte and *err says why; on kNeedMore *i == len.
// The state lives in locals during the loop: `data` may alias `*s` as far as
// the compiler knows, so member updates would be stored on every step.
inline LineScanResult scan_lines(LineScan* s, const uint8_t* data, size_t len, size_t* at,
                                 const LineScanLimits& lim, const LineScanErrors& msg,
                                 Error* err) {
  const size_t max_head = lim.max_head;
  const size_t max_line = lim.max_first_line;
  size_t i = *at;
  size_t pos = s->pos;
  size_t line_len = s->line_len;
  uint32_t lines = s->lines;
  bool cr_pending = s->cr_pending;
  auto stop = [&](LineScanResult r, size_t where) {
    s->pos = pos;
    s->line_len = line_len;
    s->lines = lines;
    s->cr_pending = cr_pending;
    *at = where;
    return r;
  };
  while (i < len) {
    if (pos >= max_head) {
      *err = fail(msg.too_large, msg.too_large_reason);
      return stop(LineScanResult::kError, i);
    }
    if (cr_pending) {
      // RFC 9112 §2.2: a CR that is not part of CRLF is invalid; accepting it
      // as a line end would let two parsers disagree on where a field ends.
      if (data[i] != '\n') {
        *err = fail(kBareCr, "CR not followed by LF");
        return stop(LineScanResult::kError, i);
      }
      ++pos;
      ++i;
      cr_pending = false;
      if (line_len == 0) return stop(LineScanResult::kComplete, i);  // the empty line
      ++lines;
      line_len = 0;
      if (lines - 1 > lim.max_fields) {
        *err = fail(kTooManyHeaders, "too many header fields");
        return stop(LineScanResult::kError, i - 1);
      }
      continue;
    }
    const bool first_line = lines == 0;
    size_t window = len - i;
    if (window > max_head - pos) window = max_head - pos;
    // In the first line look at most one byte past the limit: a CR there
    // ends the line in time, anything else makes it too long.
    if (first_line && window > max_line - line_len + 1) window = max_line - line_len + 1;
    const size_t k = find_crlf(data + i, window);
    pos += k;
    line_len += k;
    i += k;
    if (k == window) {
      if (first_line && line_len > max_line) {
        *err = fail(msg.first_line_too_long, msg.first_line_too_long_reason);
        return stop(LineScanResult::kError, i - 1);
      }
      continue;
    }
    // RFC 9112 §2.2: a bare LF as a line terminator is a known smuggling
    // vector (parsers that accept it disagree with those that do not).
    if (data[i] == '\n') {
      *err = fail(kBareLf, msg.bare_lf_reason);
      return stop(LineScanResult::kError, i);
    }
    ++pos;
    ++i;
    cr_pending = true;
  }
  return stop(LineScanResult::kNeedMore, len);
}

}  // namespace farad::http1::detail
