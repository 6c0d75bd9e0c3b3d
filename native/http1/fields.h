// Header fields, shared by the request and response parsers: the field-line
// grammar (RFC 9112 §5, RFC 9110 §5.5) and the field values that decide
// framing and persistence (Content-Length, Transfer-Encoding, Connection).
// Header-only so that every build (node-gyp, CMake) picks it up with the
// parsers that include it. Internal to native/http1.
#pragma once
#include <cstddef>
#include <cstdint>

#include "http1/chars.h"
#include "http1/errors.h"
#include "http1/request_parser.h"
#include "http1/scan.h"

namespace farad::http1::detail {

inline bool all_of(const uint8_t* p, size_t n, uint8_t cls) {
  for (size_t i = 0; i < n; ++i)
    if (!has(p[i], cls)) return false;
  return true;
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

// One Content-Length field value. *seen and *value carry over between
// fields: every value of every field must agree.
inline Error parse_content_length(const uint8_t* v, size_t n, bool* seen, uint64_t* value) {
  if (n == 0) return fail(kContentLength, "empty Content-Length");
  // RFC 9112 §6.3 (5) and RFC 9110 §8.6: a list of identical values may be
  // taken as that value; anything else means the sender and any intermediary
  // could disagree on the body length, so it is rejected, never "fixed".
  size_t i = 0;
  while (true) {
    size_t a = i;
    while (a < n && has(v[a], kOws)) ++a;
    size_t b = a;
    uint64_t x = 0;
    while (b < n && has(v[b], kDigit)) {
      const uint64_t d = static_cast<uint64_t>(v[b] - '0');
      if (x > (UINT64_MAX - d) / 10) return fail(kContentLength, "Content-Length overflows");
      x = x * 10 + d;
      ++b;
    }
    if (b == a) return fail(kContentLength, "Content-Length is not a number");
    size_t c = b;
    while (c < n && has(v[c], kOws)) ++c;
    if (c < n && v[c] != ',') return fail(kContentLength, "Content-Length is not a number");
    if (*seen && x != *value) return fail(kContentLength, "conflicting Content-Length values");
    *seen = true;
    *value = x;
    if (c == n) break;
    i = c + 1;
  }
  return Error{};
}

// What the Transfer-Encoding fields of one message listed, in order.
struct TransferCodings {
  bool seen = false;
  bool chunked_seen = false;  // "chunked" appeared
  bool chunked_last = false;  // ... and is the final coding so far
  bool other = false;         // a coding other than chunked appeared
};

// One Transfer-Encoding field value. A coding after chunked is an error at
// once when `coding_after_chunked_ok` is false (requests: RFC 9112 §6.3 (4)
// leaves their length undeterminable); responses record it and are read
// until close.
inline Error parse_transfer_encoding(const uint8_t* v, size_t n, TransferCodings* te,
                                     bool coding_after_chunked_ok) {
  te->seen = true;
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
      if (te->chunked_seen) {
        err = fail(kTransferEncoding, "chunked applied twice");
        return false;
      }
      te->chunked_seen = true;
      te->chunked_last = true;
    } else {
      if (te->chunked_seen && !coding_after_chunked_ok) {
        err = fail(kTransferEncoding, "chunked is not the final coding");
        return false;
      }
      te->other = true;
      te->chunked_last = false;
    }
    return true;
  });
  return err;
}

// The Connection options farad acts on (RFC 9110 §7.6.1).
struct ConnectionTokens {
  bool close = false;
  bool keep_alive = false;
  bool upgrade = false;
};

inline Error parse_connection(const uint8_t* v, size_t n, ConnectionTokens* c) {
  Error err;
  for_each_element(v, n, [&](const uint8_t* e, size_t len) {
    if (!all_of(e, len, kTchar)) {
      err = fail(kBadHeader, "Connection is not a list of tokens");
      return false;
    }
    if (ieq(e, len, "close")) c->close = true;
    else if (ieq(e, len, "keep-alive")) c->keep_alive = true;
    else if (ieq(e, len, "upgrade")) c->upgrade = true;
    return true;
  });
  return err;
}

// Parses the field lines of a head from offset p (just after the start
// line's CRLF) to the empty line, which must end the head exactly. The
// caller has checked that head[0, len) ends with CRLF CRLF: that sentinel
// bounds every scan here. Stores up to max_fields fields (offsets relative
// to head) and calls on_field(name, name_len, value, value_len) -> Error for
// each, stopping at the first error. *count is the number of fields stored.
template <typename OnField>
Error parse_field_lines(const uint8_t* head, size_t len, size_t p, uint32_t max_fields,
                        HeaderField* fields, uint32_t* count, OnField&& on_field) {
  uint32_t n = 0;
  *count = 0;
  while (true) {  // invariant: p <= len - 2
    const uint8_t c = head[p];
    if (c == '\r') {
      if (head[p + 1] != '\n') return fail(kBareCr, "CR not followed by LF");
      if (p + 2 != len) return fail(kBadHeader, "bytes after the end of the head");
      return Error{};
    }
    if (c == '\n') return fail(kBareLf, "bare LF in header section");
    // RFC 9112 §5.2: obs-fold is rejected outright; a continuation line
    // (or whitespace before the first field, §2.2) would otherwise be read
    // as a separate field by some parsers and as part of a value by others.
    if (c == ' ' || c == '\t') return fail(kObsFold, "obsolete line folding");
    if (n == max_fields) return fail(kTooManyHeaders, "too many header fields");

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
    fields[n] = HeaderField{static_cast<uint32_t>(n0), static_cast<uint32_t>(name_len),
                            static_cast<uint32_t>(v0), static_cast<uint32_t>(v1 - v0)};
    *count = ++n;
    Error err = on_field(head + n0, name_len, head + v0, v1 - v0);
    if (err) return err;
    p += 2;
  }
}

}  // namespace farad::http1::detail
