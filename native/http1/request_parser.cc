// Strict HTTP/1.1 request head scanning and parsing (RFC 9112, RFC 9110).
// See request_parser.h for the contract and the list of error codes.
#include "http1/request_parser.h"

#include <cstring>

#include "http1/chars.h"
#include "http1/errors.h"
#include "http1/fields.h"
#include "http1/head_scan.h"
#include "http1/scan.h"

namespace farad::http1 {

using namespace detail;

// ---------------------------------------------------------------------------
// HeadScanner: the empty-line prefix here, the line scan in head_scan.h.

namespace {

constexpr LineScanErrors kRequestScanErrors{kHeadersTooLarge, "request head too large",
                                            kUriTooLong, "request line too long",
                                            "bare LF in request head"};

}  // namespace

void HeadScanner::reset(const Limits& limits) {
  limits_ = limits;
  error_ = Error{};
  skipped_ = 0;
  scan_ = detail::LineScan{};
  phase_ = Phase::kPrefix;
}

size_t HeadScanner::skipped() const { return skipped_; }
size_t HeadScanner::head_length() const { return scan_.pos; }
const Error& HeadScanner::error() const { return error_; }

HeadScanner::State HeadScanner::fail(Error e, size_t at, size_t* consumed) {
  error_ = e;
  phase_ = Phase::kError;
  *consumed = at;
  return State::kError;
}

HeadScanner::State HeadScanner::feed(const uint8_t* data, size_t len, size_t* consumed) {
  if (phase_ == Phase::kComplete) {
    *consumed = 0;
    return State::kComplete;
  }
  if (phase_ == Phase::kError) {
    *consumed = 0;
    return State::kError;
  }
  size_t i = 0;
  if (phase_ == Phase::kPrefix) {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before
    // the request line (clients send a stray CRLF after a POST body). Bound
    // it so a stream of CRLFs cannot hold a connection in this state.
    for (; i < len; ++i) {
      const uint8_t c = data[i];
      if (scan_.cr_pending) {
        if (c != '\n') return fail(detail::fail(kBareCr, "CR not followed by LF"), i, consumed);
        scan_.cr_pending = false;
        skipped_ += 2;
      } else if (c == '\r') {
        if (skipped_ + 2 > kMaxSkipped)
          return fail(detail::fail(kEmptyLines, "too many empty lines before the request"), i,
                      consumed);
        scan_.cr_pending = true;
      } else if (c == '\n') {
        return fail(detail::fail(kBareLf, "bare LF before the request line"), i, consumed);
      } else {
        phase_ = Phase::kHead;
        break;
      }
    }
    if (phase_ == Phase::kPrefix) {
      *consumed = len;
      return State::kNeedMore;
    }
  }

  LineScan scan = scan_;  // in locals while scanning (measured faster)
  const LineScanLimits lim{limits_.max_header_bytes, limits_.max_request_line,
                           limits_.max_headers};
  Error err;
  const LineScanResult r = scan_lines(&scan, data, len, &i, lim, kRequestScanErrors, &err);
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
// parse_head

namespace {

uint8_t classify_method(const uint8_t* m, size_t n) {
  auto is = [&](const char* lit) { return std::memcmp(m, lit, n) == 0; };
  switch (n) {
    case 3:
      if (is("GET")) return kGet;
      if (is("PUT")) return kPut;
      break;
    case 4:
      if (is("HEAD")) return kHead;
      if (is("POST")) return kPost;
      break;
    case 5:
      if (is("PATCH")) return kPatch;
      if (is("TRACE")) return kTrace;
      break;
    case 6:
      if (is("DELETE")) return kDelete;
      break;
    case 7:
      if (is("CONNECT")) return kConnect;
      if (is("OPTIONS")) return kOptions;
      break;
    default:
      break;
  }
  return kOther;
}

bool is_host_byte_not_delim(uint8_t c) {
  return has(c, kHostByte) && c != ':' && c != '[' && c != ']';
}

// uri-host ":" port, RFC 9112 §3.2.3. The port is required.
bool valid_authority_form(const uint8_t* t, size_t n) {
  size_t host_end;
  if (n > 0 && t[0] == '[') {
    size_t i = 1;
    while (i < n && t[i] != ']') {
      if (!(has(t[i], kHex) || t[i] == ':' || t[i] == '.' || t[i] == 'v' || t[i] == 'V'))
        return false;
      ++i;
    }
    if (i == n || i == 1) return false;
    host_end = i + 1;
  } else {
    host_end = 0;
    while (host_end < n && is_host_byte_not_delim(t[host_end])) ++host_end;
    if (host_end == 0) return false;
  }
  if (host_end >= n || t[host_end] != ':') return false;
  const size_t port_len = n - host_end - 1;
  if (port_len == 0 || port_len > 5 || !all_of(t + host_end + 1, port_len, kDigit)) return false;
  uint32_t port = 0;
  for (size_t i = host_end + 1; i < n; ++i) port = port * 10 + (t[i] - '0');
  return port <= 65535;
}

// scheme "://" authority [path-abempty] ["?" query], RFC 9112 §3.2.2. The
// authority must be non-empty (RFC 9110 §4.2.1) and may not carry userinfo
// (RFC 9110 §4.2.4: treat it as an error, it is used to disguise the host).
bool valid_absolute_form(const uint8_t* t, size_t n) {
  if (n == 0 || !is_alpha(t[0])) return false;
  size_t i = 1;
  while (i < n && (is_alpha(t[i]) || is_digit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.'))
    ++i;
  if (n - i < 3 || t[i] != ':' || t[i + 1] != '/' || t[i + 2] != '/') return false;
  i += 3;
  const size_t auth = i;
  while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#') {
    if (!has(t[i], kHostByte)) return false;
    ++i;
  }
  return i > auth;
}

struct HeaderState {
  uint32_t host_count = 0;
  bool cl_seen = false;
  TransferCodings te;
  ConnectionTokens conn;
  bool upgrade_header = false;
  bool expect_continue = false;
  bool expect_other = false;
};

void on_expect(const uint8_t* v, size_t n, HeaderState* st) {
  for_each_element(v, n, [&](const uint8_t* e, size_t len) {
    if (ieq(e, len, "100-continue")) st->expect_continue = true;
    else st->expect_other = true;
    return true;
  });
}

Error on_field(const uint8_t* name, size_t name_len, const uint8_t* v, size_t n,
               RequestHead* out, HeaderState* st) {
  switch (name_len) {
    case 4:
      if (ieq(name, name_len, "host")) {
        ++st->host_count;
        if (!all_of(v, n, kHostByte)) return fail(kHost, "invalid Host");
      }
      break;
    case 6:
      if (ieq(name, name_len, "expect")) on_expect(v, n, st);
      break;
    case 7:
      if (ieq(name, name_len, "upgrade") && n > 0) st->upgrade_header = true;
      break;
    case 10:
      if (ieq(name, name_len, "connection")) return parse_connection(v, n, &st->conn);
      break;
    case 14:
      if (ieq(name, name_len, "content-length"))
        return parse_content_length(v, n, &st->cl_seen, &out->content_length);
      break;
    case 17:
      if (ieq(name, name_len, "transfer-encoding"))
        return parse_transfer_encoding(v, n, &st->te, /*coding_after_chunked_ok=*/false);
      break;
    default:
      break;
  }
  return Error{};
}

Error parse_request_line(const uint8_t* h, size_t line_end, RequestHead* out) {
  size_t p = 0;
  while (has(h[p], kTchar)) ++p;  // stops at the CR at line_end at the latest
  if (p == 0) return fail(kBadMethod, "missing or invalid method");
  if (h[p] != ' ') return fail(kBadMethod, "invalid method");
  out->method_len = static_cast<uint32_t>(p);
  out->method = classify_method(h, p);

  const size_t t0 = ++p;
  p = skip_target_bytes(h, p, line_end);
  const size_t tlen = p - t0;
  if (tlen == 0) return fail(kBadTarget, "empty request-target");
  if (h[p] != ' ') {
    if (p == line_end) return fail(kBadVersion, "missing HTTP version");
    return fail(kBadTarget, "invalid byte in request-target");
  }
  const uint8_t* t = h + t0;
  out->target_off = static_cast<uint32_t>(t0);
  out->target_len = static_cast<uint32_t>(tlen);
  const void* q = std::memchr(t, '?', tlen);
  out->path_len = static_cast<uint32_t>(q ? static_cast<const uint8_t*>(q) - t : tlen);

  // RFC 9112 §3.2: the form must fit the method. authority-form is only for
  // CONNECT and asterisk-form only for OPTIONS (server-wide).
  if (out->method == kConnect) {
    if (!valid_authority_form(t, tlen)) return fail(kBadTarget, "CONNECT needs host:port");
    out->form = TargetForm::kAuthority;
  } else if (t[0] == '/') {
    out->form = TargetForm::kOrigin;
  } else if (t[0] == '*' && tlen == 1) {
    if (out->method != kOptions) return fail(kBadTarget, "'*' is only for OPTIONS");
    out->form = TargetForm::kAsterisk;
  } else if (valid_absolute_form(t, tlen)) {
    out->form = TargetForm::kAbsolute;
  } else {
    return fail(kBadTarget, "invalid request-target");
  }

  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
  const uint8_t* v = h + p + 1;
  if (line_end - (p + 1) != 8 || std::memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) ||
      v[6] != '.' || !is_digit(v[7]))
    return fail(kBadVersion, "invalid HTTP version");
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
    return fail(kVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported");
  out->version_minor = static_cast<uint8_t>(v[7] - '0');
  return Error{};
}

}  // namespace

Error parse_head(const uint8_t* head, size_t len, const Limits& limits, RequestHead* out,
                 HeaderField* fields) {
  *out = RequestHead{};
  if (len > limits.max_header_bytes || len > UINT32_MAX)
    return fail(kHeadersTooLarge, "request head too large");
  // The final CRLF CRLF is the sentinel that bounds every scan below.
  if (len < 4 || std::memcmp(head + len - 4, "\r\n\r\n", 4) != 0)
    return fail(kBadHeader, "head does not end with an empty line");

  const size_t line_end = find_crlf(head, len);
  if (line_end > limits.max_request_line) return fail(kUriTooLong, "request line too long");
  if (head[line_end] == '\n') return fail(kBareLf, "bare LF in request line");
  if (head[line_end + 1] != '\n') return fail(kBareCr, "CR not followed by LF");
  if (line_end == 0) return fail(kBadMethod, "empty request line");
  Error err = parse_request_line(head, line_end, out);
  if (err) return err;

  HeaderState st;
  uint32_t count = 0;
  err = parse_field_lines(head, len, line_end + 2, limits.max_headers, fields, &count,
                          [&](const uint8_t* name, size_t name_len, const uint8_t* v, size_t n) {
                            return on_field(name, name_len, v, n, out, &st);
                          });
  if (err) return err;
  out->header_count = count;

  const bool http11 = out->version_minor == 1;
  if (st.te.seen) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (!http11) return fail(kTransferEncoding, "Transfer-Encoding in an HTTP/1.0 request");
    // RFC 9112 §6.3 (3): with both, the message is a smuggling attempt as far
    // as we are concerned; §6.1 allows rejecting it, and we always close.
    if (st.cl_seen) return fail(kTeWithCl, "both Transfer-Encoding and Content-Length");
    // RFC 9112 §6.3 (4): in a request, chunked must be the final coding,
    // otherwise the length cannot be determined reliably: 400.
    if (!st.te.chunked_last) return fail(kTransferEncoding, "chunked is not the final coding");
    // RFC 9112 §6.1: a transfer coding we do not implement gets 501.
    if (st.te.other) return fail(kUnsupportedCoding, "unsupported transfer coding");
    out->body = BodyKind::kChunked;
  } else if (st.cl_seen) {
    out->body = BodyKind::kLength;
  }

  // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host, or any
  // request with several, gets 400; two Hosts let components pick different
  // origins.
  if (st.host_count > 1) return fail(kHost, "more than one Host");
  if (http11 && st.host_count == 0) return fail(kHost, "missing Host");

  // RFC 9110 §10.1.1: 100-continue in HTTP/1.0 is ignored; any other
  // expectation is refused with 417.
  if (st.expect_other) return fail(kExpectation, "unsupported expectation");
  out->expect_continue = http11 && st.expect_continue;

  out->keep_alive = http11 ? true : st.conn.keep_alive;
  if (st.conn.close) {
    out->keep_alive = false;
    out->connection_close = true;
  }
  // RFC 9110 §7.8: Upgrade is ignored in HTTP/1.0 and only means something
  // when listed in Connection.
  out->upgrade = http11 && st.conn.upgrade && st.upgrade_header;
  return Error{};
}

}  // namespace farad::http1
