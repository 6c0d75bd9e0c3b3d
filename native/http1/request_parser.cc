// Strict HTTP/1.1 request head scanning and parsing (RFC 9112, RFC 9110).
// See request_parser.h for the contract and the list of error codes.
#include "http1/request_parser.h"

#include <cstring>

#include "http1/chars.h"
#include "http1/errors.h"
#include "http1/scan.h"

namespace farad::http1 {

using namespace detail;

// ---------------------------------------------------------------------------
// HeadScanner
//
// Every decision is made at one byte position and depends only on the bytes
// before it, never on where a feed() call starts or ends; that is what makes
// any split of the stream give the same result.

void HeadScanner::reset(const Limits& limits) {
  limits_ = limits;
  error_ = Error{};
  skipped_ = 0;
  pos_ = 0;
  line_len_ = 0;
  lines_ = 0;
  cr_pending_ = false;
  phase_ = Phase::kPrefix;
}

size_t HeadScanner::skipped() const { return skipped_; }
size_t HeadScanner::head_length() const { return pos_; }
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
      if (cr_pending_) {
        if (c != '\n') return fail(detail::fail(kBareCr, "CR not followed by LF"), i, consumed);
        cr_pending_ = false;
        skipped_ += 2;
      } else if (c == '\r') {
        if (skipped_ + 2 > kMaxSkipped)
          return fail(detail::fail(kEmptyLines, "too many empty lines before the request"), i,
                      consumed);
        cr_pending_ = true;
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

  // The scan state lives in locals: `data` may alias `*this` as far as the
  // compiler knows, so member updates would be stored on every step.
  const size_t max_head = limits_.max_header_bytes;
  const size_t max_line = limits_.max_request_line;
  size_t pos = pos_;
  size_t line_len = line_len_;
  uint32_t lines = lines_;
  bool cr_pending = cr_pending_;
  auto save = [&]() {
    pos_ = pos;
    line_len_ = line_len;
    lines_ = lines;
    cr_pending_ = cr_pending;
  };
  while (i < len) {
    if (pos >= max_head) {
      save();
      return fail(detail::fail(kHeadersTooLarge, "request head too large"), i, consumed);
    }
    if (cr_pending) {
      // RFC 9112 §2.2: a CR that is not part of CRLF is invalid; accepting it
      // as a line end would let two parsers disagree on where a field ends.
      if (data[i] != '\n') {
        save();
        return fail(detail::fail(kBareCr, "CR not followed by LF"), i, consumed);
      }
      ++pos;
      ++i;
      cr_pending = false;
      if (line_len == 0) {  // the empty line: the head is complete
        save();
        phase_ = Phase::kComplete;
        *consumed = i;
        return State::kComplete;
      }
      ++lines;
      line_len = 0;
      if (lines - 1 > limits_.max_headers) {
        save();
        return fail(detail::fail(kTooManyHeaders, "too many header fields"), i - 1, consumed);
      }
      continue;
    }
    const bool request_line = lines == 0;
    size_t window = len - i;
    if (window > max_head - pos) window = max_head - pos;
    // In the request line look at most one byte past the limit: a CR there
    // ends the line in time, anything else makes it too long.
    if (request_line && window > max_line - line_len + 1) window = max_line - line_len + 1;
    const size_t k = find_crlf(data + i, window);
    pos += k;
    line_len += k;
    i += k;
    if (k == window) {
      if (request_line && line_len > max_line) {
        save();
        return fail(detail::fail(kUriTooLong, "request line too long"), i - 1, consumed);
      }
      continue;
    }
    // RFC 9112 §2.2: a bare LF as a line terminator is a known smuggling
    // vector (parsers that accept it disagree with those that do not).
    if (data[i] == '\n') {
      save();
      return fail(detail::fail(kBareLf, "bare LF in request head"), i, consumed);
    }
    ++pos;
    ++i;
    cr_pending = true;
  }
  save();
  *consumed = len;
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

bool all_of(const uint8_t* p, size_t n, uint8_t cls) {
  for (size_t i = 0; i < n; ++i)
    if (!has(p[i], cls)) return false;
  return true;
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

// Walks a comma-separated list (RFC 9110 §5.6.1), calling fn(ptr, len) for
// each element with OWS trimmed; empty elements are skipped as the RFC asks.
// Stops early and returns false when fn does.
template <typename Fn>
bool for_each_element(const uint8_t* v, size_t n, Fn&& fn) {
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && v[j] != ',') ++j;
    size_t a = i, b = j;
    while (a < b && has(v[a], kOws)) ++a;
    while (b > a && has(v[b - 1], kOws)) --b;
    if (b > a && !fn(v + a, b - a)) return false;
    i = j + 1;
  }
  return true;
}

struct HeaderState {
  uint32_t host_count = 0;
  bool cl_seen = false;
  bool te_seen = false;
  bool chunked_seen = false;      // "chunked" appeared in Transfer-Encoding
  bool chunked_last = false;      // ... and is the final coding so far
  bool unknown_coding = false;    // a coding other than chunked precedes it
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool conn_upgrade = false;
  bool upgrade_header = false;
  bool expect_continue = false;
  bool expect_other = false;
};

Error on_content_length(const uint8_t* v, size_t n, RequestHead* out, HeaderState* st) {
  if (n == 0) return fail(kContentLength, "empty Content-Length");
  // RFC 9112 §6.3 (5) and RFC 9110 §8.6: a list of identical values may be
  // taken as that value; anything else means the sender and any intermediary
  // could disagree on the body length, so it is rejected, never "fixed".
  Error err;
  size_t i = 0;
  while (true) {
    size_t a = i;
    while (a < n && has(v[a], kOws)) ++a;
    size_t b = a;
    uint64_t value = 0;
    while (b < n && has(v[b], kDigit)) {
      const uint64_t d = static_cast<uint64_t>(v[b] - '0');
      if (value > (UINT64_MAX - d) / 10) return fail(kContentLength, "Content-Length overflows");
      value = value * 10 + d;
      ++b;
    }
    if (b == a) return fail(kContentLength, "Content-Length is not a number");
    size_t c = b;
    while (c < n && has(v[c], kOws)) ++c;
    if (c < n && v[c] != ',') return fail(kContentLength, "Content-Length is not a number");
    if (st->cl_seen && value != out->content_length)
      return fail(kContentLength, "conflicting Content-Length values");
    st->cl_seen = true;
    out->content_length = value;
    if (c == n) break;
    i = c + 1;
  }
  return err;
}

Error on_transfer_encoding(const uint8_t* v, size_t n, HeaderState* st) {
  st->te_seen = true;
  Error err;
  for_each_element(v, n, [&](const uint8_t* e, size_t len) {
    // Only bare tokens are accepted: a quoted, parameterised or otherwise
    // decorated "chunked" is a classic obfuscation (RFC 9112 §6.1, §6.3).
    if (!all_of(e, len, kTchar)) {
      err = fail(kTransferEncoding, "malformed Transfer-Encoding");
      return false;
    }
    if (ieq(e, len, "chunked")) {
      // RFC 9112 §6.1: chunked MUST NOT be applied more than once.
      if (st->chunked_seen) {
        err = fail(kTransferEncoding, "chunked applied twice");
        return false;
      }
      st->chunked_seen = true;
      st->chunked_last = true;
    } else {
      // RFC 9112 §6.3 (4): in a request, a coding after chunked leaves the
      // body length undeterminable; 400 and close.
      if (st->chunked_seen) {
        err = fail(kTransferEncoding, "chunked is not the final coding");
        return false;
      }
      st->unknown_coding = true;
      st->chunked_last = false;
    }
    return true;
  });
  return err;
}

Error on_connection(const uint8_t* v, size_t n, HeaderState* st) {
  Error err;
  for_each_element(v, n, [&](const uint8_t* e, size_t len) {
    if (!all_of(e, len, kTchar)) {
      err = fail(kBadHeader, "Connection is not a list of tokens");
      return false;
    }
    if (ieq(e, len, "close")) st->conn_close = true;
    else if (ieq(e, len, "keep-alive")) st->conn_keep_alive = true;
    else if (ieq(e, len, "upgrade")) st->conn_upgrade = true;
    return true;
  });
  return err;
}

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
      if (ieq(name, name_len, "connection")) return on_connection(v, n, st);
      break;
    case 14:
      if (ieq(name, name_len, "content-length")) return on_content_length(v, n, out, st);
      break;
    case 17:
      if (ieq(name, name_len, "transfer-encoding")) return on_transfer_encoding(v, n, st);
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
  size_t p = line_end + 2;  // invariant: p <= len - 2
  while (true) {
    const uint8_t c = head[p];
    if (c == '\r') {
      if (head[p + 1] != '\n') return fail(kBareCr, "CR not followed by LF");
      if (p + 2 != len) return fail(kBadHeader, "bytes after the end of the head");
      break;
    }
    if (c == '\n') return fail(kBareLf, "bare LF in header section");
    // RFC 9112 §5.2: obs-fold is rejected outright; a continuation line
    // (or whitespace before the first field, §2.2) would otherwise be read
    // as a separate field by some parsers and as part of a value by others.
    if (c == ' ' || c == '\t') return fail(kObsFold, "obsolete line folding");
    if (count == limits.max_headers) return fail(kTooManyHeaders, "too many header fields");

    const size_t n0 = p;
    while (has(head[p], kTchar)) ++p;
    if (head[p] != ':') {
      // RFC 9112 §5.1: whitespace between name and colon MUST be rejected
      // with 400; proxies have stripped it and forwarded a different field.
      if (has(head[p], kOws)) return fail(kBadHeader, "whitespace before colon");
      if (p == n0) return fail(kBadHeader, "empty or invalid field name");
      return fail(kBadHeader, "invalid character in field name");
    }
    if (p == n0) return fail(kBadHeader, "empty field name");
    const size_t name_len = p - n0;
    ++p;
    while (has(head[p], kOws)) ++p;
    const size_t v0 = p;
    p = skip_field_bytes(head, p, len);
    // RFC 9110 §5.5: CR, LF and NUL in a value MUST be rejected (or
    // replaced); other CTLs are invalid field-vchar as well.
    if (head[p] == '\n') return fail(kBareLf, "bare LF in header section");
    if (head[p] != '\r') return fail(kBadHeader, "invalid character in field value");
    if (head[p + 1] != '\n') return fail(kBareCr, "CR not followed by LF");
    size_t v1 = p;
    while (v1 > v0 && has(head[v1 - 1], kOws)) --v1;
    fields[count] = HeaderField{static_cast<uint32_t>(n0), static_cast<uint32_t>(name_len),
                                static_cast<uint32_t>(v0), static_cast<uint32_t>(v1 - v0)};
    ++count;
    err = on_field(head + n0, name_len, head + v0, v1 - v0, out, &st);
    if (err) return err;
    p += 2;
  }
  out->header_count = count;

  const bool http11 = out->version_minor == 1;
  if (st.te_seen) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (!http11) return fail(kTransferEncoding, "Transfer-Encoding in an HTTP/1.0 request");
    // RFC 9112 §6.3 (3): with both, the message is a smuggling attempt as far
    // as we are concerned; §6.1 allows rejecting it, and we always close.
    if (st.cl_seen) return fail(kTeWithCl, "both Transfer-Encoding and Content-Length");
    // RFC 9112 §6.3 (4): in a request, chunked must be the final coding,
    // otherwise the length cannot be determined reliably: 400.
    if (!st.chunked_last) return fail(kTransferEncoding, "chunked is not the final coding");
    // RFC 9112 §6.1: a transfer coding we do not implement gets 501.
    if (st.unknown_coding) return fail(kUnsupportedCoding, "unsupported transfer coding");
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

  out->keep_alive = http11 ? true : st.conn_keep_alive;
  if (st.conn_close) {
    out->keep_alive = false;
    out->connection_close = true;
  }
  // RFC 9110 §7.8: Upgrade is ignored in HTTP/1.0 and only means something
  // when listed in Connection.
  out->upgrade = http11 && st.conn_upgrade && st.upgrade_header;
  return Error{};
}

}  // namespace farad::http1
