// Where a head scan stands: the state both scanners (requests and
// responses) keep between feeds. Plain data, no dependencies, so the public
// parser headers can hold one.
#pragma once
#include <cstddef>
#include <cstdint>

namespace farad::http1::detail {

struct LineScan {
  size_t pos = 0;           // head bytes seen so far
  size_t line_len = 0;      // bytes of the current line before its CR
  uint32_t lines = 0;       // lines ended so far (start line + fields)
  bool cr_pending = false;  // the previous byte was a CR
};

}  // namespace farad::http1::detail
