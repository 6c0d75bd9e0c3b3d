// Byte classes for the HTTP/1 grammar (RFC 9110 §5.6, RFC 9112), as 256-entry
// tables built at compile time, so every per-byte test in the parsers is one
// load and one mask. Internal to native/http1.
#pragma once
#include <cstddef>
#include <cstdint>

namespace farad::http1::detail {

enum CharClass : uint8_t {
  kTchar = 1 << 0,       // token character (RFC 9110 §5.6.2)
  kFieldByte = 1 << 1,   // field-vchar, SP or HTAB (RFC 9110 §5.5)
  kTargetByte = 1 << 2,  // a byte allowed in a request-target: 0x21..0x7E
  kHex = 1 << 3,         // HEXDIG
  kDigit = 1 << 4,       // DIGIT
  kHostByte = 1 << 5,    // uri-host and port bytes (RFC 3986 §3.2.2)
  kQdtext = 1 << 6,      // qdtext of a quoted-string (RFC 9110 §5.6.4)
  kOws = 1 << 7,         // SP or HTAB
};

struct CharTables {
  uint8_t cls[256];
  uint8_t lower[256];
};

constexpr bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(int c) { return c >= '0' && c <= '9'; }

constexpr CharTables make_char_tables() {
  CharTables t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t m = 0;
    bool tchar = is_alpha(c) || is_digit(c);
    for (const char* p = "!#$%&'*+-.^_`|~"; *p; ++p) tchar = tchar || c == *p;
    if (tchar) m |= kTchar;
    if (c == '\t' || (c >= 0x20 && c != 0x7F)) m |= kFieldByte;
    if (c >= 0x21 && c <= 0x7E) m |= kTargetByte;
    if (is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) m |= kHex;
    if (is_digit(c)) m |= kDigit;
    // unreserved / pct-encoded / sub-delims, ':' for the port, and the
    // brackets of an IP-literal.
    bool host = is_alpha(c) || is_digit(c);
    for (const char* p = "-._~%!$&'()*+,;=:[]"; *p; ++p) host = host || c == *p;
    if (host) m |= kHostByte;
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
        (c >= 0x5D && c <= 0x7E) || c >= 0x80)
      m |= kQdtext;
    if (c == ' ' || c == '\t') m |= kOws;
    t.cls[c] = m;
    t.lower[c] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  return t;
}

inline constexpr CharTables kChars = make_char_tables();

inline bool has(uint8_t c, uint8_t cls) { return (kChars.cls[c] & cls) != 0; }

// Case-insensitive comparison of `len` bytes against a lowercase literal.
inline bool ieq(const uint8_t* p, size_t len, const char* lower_lit, size_t lit_len) {
  if (len != lit_len) return false;
  for (size_t i = 0; i < len; ++i)
    if (kChars.lower[p[i]] != static_cast<uint8_t>(lower_lit[i])) return false;
  return true;
}

template <size_t N>
inline bool ieq(const uint8_t* p, size_t len, const char (&lit)[N]) {
  return ieq(p, len, lit, N - 1);
}

}  // namespace farad::http1::detail
