// Fast byte scans shared by the head scanner and the parsers: SSE2 on x86-64
// (16 bytes per step), a scalar loop elsewhere and for the tail. Internal to
// native/http1.
#pragma once
#include <cstddef>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "http1/chars.h"

namespace farad::http1::detail {

// Index of the first CR or LF in p[0, n), or n.
inline size_t find_crlf(const uint8_t* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(m)));
  }
#endif
  for (; i < n; ++i)
    if (p[i] == '\r' || p[i] == '\n') return i;
  return n;
}

// Index of the first byte at or after `i` that is not a field-value byte
// (field-vchar, SP, HTAB). The caller guarantees such a byte exists before
// `n` (a head always ends with CRLF CRLF), so the scalar tail needs no bound.
inline size_t skip_field_bytes(const uint8_t* p, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i k1f = _mm_set1_epi8(0x1F);
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7F);
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, k1f), v);  // v <= 0x1F
    __m128i bad = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl),
                               _mm_cmpeq_epi8(v, del));
    int m = _mm_movemask_epi8(bad);
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(m)));
  }
#else
  (void)n;
#endif
  while (has(p[i], kFieldByte)) ++i;
  return i;
}

// Index of the first byte at or after `i` outside 0x21..0x7E; same sentinel
// contract as skip_field_bytes.
inline size_t skip_target_bytes(const uint8_t* p, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i k7f = _mm_set1_epi8(0x7F);
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, k20), v);   // v <= 0x20
    __m128i high = _mm_cmpeq_epi8(_mm_max_epu8(v, k7f), v);  // v >= 0x7F
    int m = _mm_movemask_epi8(_mm_or_si128(low, high));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(m)));
  }
#else
  (void)n;
#endif
  while (has(p[i], kTargetByte)) ++i;
  return i;
}

}  // namespace farad::http1::detail
