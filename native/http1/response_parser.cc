// Strict HTTP/1.1 response head scanning and parsing (RFC 9112, RFC 9110).
// See response_parser.h for the contract and the list of error codes. The
// line scan and the header-field grammar are the request parser's
// (head_scan.h, fields.h); what is here is what differs for responses: the
// status line, Keep-Alive, and body framing by status and request method.
#include "http1/response_parser.h"

#include <cstring>

#include "http1/chars.h"
#include "http1/errors.h"
#include "http1/fields.h"
#include "http1/head_scan.h"
#include "http1/scan.h"

namespace farad::http1 {

using namespace detail;

namespace {

// The shared helpers name request-side statuses; on the client side the
// status means nothing, so every error leaves here with the same one.
Error as_response_error(Error e) {
  e.status = kResponseErrorStatus;
  return e;
}

// The status line has no limit of its own (first_line_too_long never fires:
// the first-line bound passed below is the head's).
constexpr LineScanErrors kResponseScanErrors{kHeadersTooLarge, "response head too large",
                                             kHeadersTooLarge, "response head too large",
                                             "bare LF in response head"};

constexpr char kHttpSlash[] = "HTTP/";
constexpr size_t kHttpSlashLen = sizeof(kHttpSlash) - 1;

}  // namespace

// ---------------------------------------------------------------------------
// ResponseScanner

void ResponseScanner::reset(const ResponseLimits& limits) {
  limits_ = limits;
  error_ = Error{};
  scan_ = detail::LineScan{};
  phase_ = Phase::kHead;
}

size_t ResponseScanner::head_length() const { return scan_.pos; }
const Error& ResponseScanner::error() const { return error_; }

ResponseScanner::State ResponseScanner::fail(Error e, size_t at, size_t* consumed) {
  error_ = as_response_error(e);
  phase_ = Phase::kError;
  *consumed = at;
  return State::kError;
}

ResponseScanner::State ResponseScanner::feed(const uint8_t* data, size_t len, size_t* consumed) {
  if (phase_ == Phase::kComplete) {
    *consumed = 0;
    return State::kComplete;
  }
  if (phase_ == Phase::kError) {
    *consumed = 0;
    return State::kError;
  }
  // RFC 9112 §4: a response starts with its status line, and unlike a
  // request (§2.2) nothing may precede it: a stray CRLF here means the
  // previous body's framing was wrong. Checking "HTTP/" as it arrives also
  // fails a connection to something that is not an HTTP/1 server at its first
  // byte rather than at the header timeout. The check only reads: the line
  // scan below still counts these bytes (and reports the head-size limit
  // first where it falls inside them).
  for (size_t j = 0; j < len && scan_.pos + j < kHttpSlashLen && scan_.pos + j < limits_.max_header_bytes;
       ++j) {
    if (data[j] != static_cast<uint8_t>(kHttpSlash[scan_.pos + j]))
      return fail(detail::fail(kBadStatusLine, "not an HTTP/1 response"), j, consumed);
  }

  LineScan scan = scan_;  // in locals while scanning (measured faster)
  const LineScanLimits lim{limits_.max_header_bytes, limits_.max_header_bytes,
                           limits_.max_headers};
  Error err;
  size_t i = 0;
  const LineScanResult r = scan_lines(&scan, data, len, &i, lim, kResponseScanErrors, &err);
  scan_ = scan;
  if (r == LineScanResult::kError) return fail(err, i, consumed);
  *consumed = i;
  if (r == LineScanResult::kComplete) {
    phase_ = Phase::kComplete;
    return State::kComplete;
  }
  return State::kNeedMore;
}

// ---------------------------------------------------------------------------
// parse_response_head

namespace {

struct HeaderState {
  bool cl_seen = false;
  TransferCodings te;
  ConnectionTokens conn;
  int64_t keep_alive_timeout = -1;
};

// Keep-Alive = #( token [ "=" ( token / quoted-string ) ] ), the HTTP/1.0
// extension (RFC 2068 §19.7.1.1). It is advisory, so a malformed field is
// not an error: parsing stops at the first element that does not fit and
// keeps what was read before it. Only timeout=N is used (the pool closes an
// idle connection before the server does); the smallest value wins, so a
// repeated or odd field can only make the pool more careful.
void on_keep_alive(const uint8_t* v, size_t n, HeaderState* st) {
  size_t i = 0;
  while (true) {
    while (i < n && (has(v[i], kOws) || v[i] == ',')) ++i;
    if (i == n) return;
    const size_t n0 = i;
    while (i < n && has(v[i], kTchar)) ++i;
    const size_t n1 = i;
    if (n1 == n0) return;
    while (i < n && has(v[i], kOws)) ++i;
    size_t v0 = i, v1 = i;
    bool has_value = false;
    if (i < n && v[i] == '=') {
      ++i;
      while (i < n && has(v[i], kOws)) ++i;
      has_value = true;
      if (i < n && v[i] == '"') {
        v0 = ++i;
        while (i < n && v[i] != '"') {
          if (v[i] == '\\') ++i;  // quoted-pair: the next byte is literal
          ++i;
        }
        if (i >= n) return;  // unterminated
        v1 = i++;
      } else {
        v0 = i;
        while (i < n && has(v[i], kTchar)) ++i;
        v1 = i;
      }
      while (i < n && has(v[i], kOws)) ++i;
    }
    if (i < n && v[i] != ',') return;
    if (has_value && ieq(v + n0, n1 - n0, "timeout") && v1 > v0 &&
        all_of(v + v0, v1 - v0, kDigit)) {
      int64_t t = 0;
      for (size_t k = v0; k < v1 && t <= INT32_MAX; ++k) t = t * 10 + (v[k] - '0');
      if (t > INT32_MAX) t = INT32_MAX;
      if (st->keep_alive_timeout < 0 || t < st->keep_alive_timeout) st->keep_alive_timeout = t;
    }
  }
}

Error on_field(const uint8_t* name, size_t name_len, const uint8_t* v, size_t n,
               ResponseHead* out, HeaderState* st) {
  switch (name_len) {
    case 10:
      if (ieq(name, name_len, "connection")) return parse_connection(v, n, &st->conn);
      if (ieq(name, name_len, "keep-alive")) on_keep_alive(v, n, st);
      break;
    case 14:
      if (ieq(name, name_len, "content-length"))
        return parse_content_length(v, n, &st->cl_seen, &out->content_length);
      break;
    case 17:
      // RFC 9112 §6.3 (4): in a response, codings after chunked are allowed
      // (the body then runs to the close); framing is decided after all
      // fields are read.
      if (ieq(name, name_len, "transfer-encoding"))
        return parse_transfer_encoding(v, n, &st->te, /*coding_after_chunked_ok=*/true);
      break;
    default:
      break;
  }
  return Error{};
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ], RFC 9112
// §4; h[0, line_end) is the line without its CRLF.
Error parse_status_line(const uint8_t* h, size_t line_end, ResponseHead* out) {
  if (line_end < kHttpSlashLen || std::memcmp(h, kHttpSlash, kHttpSlashLen) != 0)
    return fail(kBadStatusLine, "not an HTTP/1 response");
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
  if (line_end < 8 || !is_digit(h[5]) || h[6] != '.' || !is_digit(h[7]))
    return fail(kBadVersion, "invalid HTTP version");
  if (line_end == 8) return fail(kBadStatusLine, "missing status code");
  if (h[8] != ' ') return fail(kBadVersion, "invalid HTTP version");
  if (h[5] != '1' || (h[7] != '0' && h[7] != '1'))
    return fail(kVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported");
  out->version_minor = static_cast<uint8_t>(h[7] - '0');

  // status-code = 3DIGIT (RFC 9112 §4); RFC 9110 §15 puts the first digit
  // in 1..5 for defined classes, but a client must understand any 3-digit
  // code by its class, so 600..999 pass and the caller decides.
  if (line_end < 12 || !is_digit(h[9]) || !is_digit(h[10]) || !is_digit(h[11]))
    return fail(kBadStatus, "status code is not three digits");
  const int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
  if (status < 100) return fail(kBadStatus, "status code below 100");
  out->status = static_cast<uint16_t>(status);
  out->reason_off = 12;
  if (line_end == 12) return Error{};  // "HTTP/1.1 200" CRLF: no SP, no reason
  if (h[12] != ' ') return fail(kBadStatus, "status code is not three digits");

  // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ); line_end is the
  // first CR or LF, so the scan stops there at the latest.
  const size_t end = skip_field_bytes(h, 13, line_end);
  if (end != line_end) return fail(kBadStatusLine, "invalid character in reason phrase");
  out->reason_off = 13;
  out->reason_len = static_cast<uint32_t>(line_end - 13);
  return Error{};
}

Error parse(const uint8_t* head, size_t len, const ResponseLimits& limits,
            uint8_t request_method, ResponseHead* out, HeaderField* fields) {
  *out = ResponseHead{};
  if (len > limits.max_header_bytes || len > UINT32_MAX)
    return fail(kHeadersTooLarge, "response head too large");
  // The final CRLF CRLF is the sentinel that bounds every scan below.
  if (len < 4 || std::memcmp(head + len - 4, "\r\n\r\n", 4) != 0)
    return fail(kBadHeader, "head does not end with an empty line");

  const size_t line_end = find_crlf(head, len);
  if (head[line_end] == '\n') return fail(kBareLf, "bare LF in status line");
  if (head[line_end + 1] != '\n') return fail(kBareCr, "CR not followed by LF");
  Error err = parse_status_line(head, line_end, out);
  if (err) return err;

  HeaderState st;
  uint32_t count = 0;
  err = parse_field_lines(head, len, line_end + 2, limits.max_headers, fields, &count,
                          [&](const uint8_t* name, size_t name_len, const uint8_t* v, size_t n) {
                            return on_field(name, name_len, v, n, out, &st);
                          });
  if (err) return err;
  out->header_count = count;
  out->has_content_length = st.cl_seen;
  out->keep_alive_timeout = static_cast<int32_t>(st.keep_alive_timeout);

  const bool http11 = out->version_minor == 1;
  if (st.te.seen) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the
    // framing is faulty.
    if (!http11) return fail(kTransferEncoding, "Transfer-Encoding in an HTTP/1.0 response");
    // RFC 9112 §6.3 (3): Transfer-Encoding overrides Content-Length, but a
    // message with both may be read differently by an intermediary that
    // forwards it (response smuggling); farad rejects it whatever the status.
    if (st.cl_seen) return fail(kTeWithCl, "both Transfer-Encoding and Content-Length");
    out->other_coding = st.te.other;
  }

  // Persistence (RFC 9112 §9.3): HTTP/1.1 persists unless "close";
  // HTTP/1.0 only with "keep-alive".
  out->keep_alive = (http11 || st.conn.keep_alive) && !st.conn.close;
  out->connection_close = st.conn.close;

  // Body framing in the order of RFC 9112 §6.3.
  const uint16_t s = out->status;
  if (s == 101 || (request_method == kConnect && s >= 200 && s < 300)) {
    // RFC 9110 §15.2.2 and §9.3.6: after the empty line the connection
    // speaks another protocol or is a tunnel; it never returns to a pool.
    out->tunnel = true;
    out->keep_alive = false;
  } else if (s < 200) {
    // (1) A 1xx ends at its empty line; the final response follows.
    out->informational = true;
  } else if (request_method == kHead || s == 204 || s == 304) {
    // (1) No body, whatever Content-Length or Transfer-Encoding say: for
    // HEAD and 304 they describe the representation (RFC 9110 §8.6, §9.3.2,
    // §15.4.5). A 204 must not carry them (§8.6) but some servers send
    // "Content-Length: 0" or worse; reading a body there would desync the
    // connection, so they are ignored.
  } else if (st.te.seen) {
    // (4) chunked last: chunked; otherwise the body runs to the close.
    out->body = st.te.chunked_last ? ResponseBody::kChunked : ResponseBody::kClose;
  } else if (st.cl_seen) {
    out->body = ResponseBody::kLength;  // (6)
  } else {
    out->body = ResponseBody::kClose;  // (8)
  }
  if (out->body == ResponseBody::kClose) out->keep_alive = false;
  return Error{};
}

}  // namespace

Error parse_response_head(const uint8_t* head, size_t len, const ResponseLimits& limits,
                          uint8_t request_method, ResponseHead* out, HeaderField* fields) {
  Error e = parse(head, len, limits, request_method, out, fields);
  return e ? as_response_error(e) : e;
}

}  // namespace farad::http1
