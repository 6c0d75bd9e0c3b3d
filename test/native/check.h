// Helpers shared by the native test runners and fuzz targets: a contract
// check that aborts (so libFuzzer reports it as a crash), printable bytes,
// and the contracts every parsed header field must meet.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "http1/request_parser.h"

#define FARAD_CHECK(cond)                                                          \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

namespace farad_test {

inline std::string escape(const std::string& s) {
  std::string out;
  char buf[8];
  for (unsigned char c : s) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c >= 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out;
}

// Field offsets inside the head, names ending at a colon, values trimmed of
// OWS and free of CTLs other than HTAB.
inline void check_field_contracts(const std::string& head,
                                  const std::vector<farad::http1::HeaderField>& fields) {
  for (const farad::http1::HeaderField& f : fields) {
    FARAD_CHECK(f.name_len > 0 && f.name_off + f.name_len < head.size());
    FARAD_CHECK(head[f.name_off + f.name_len] == ':');
    FARAD_CHECK(f.value_off + f.value_len <= head.size() - 4);
    if (f.value_len > 0) {
      FARAD_CHECK(head[f.value_off] != ' ' && head[f.value_off] != '\t');
      char last = head[f.value_off + f.value_len - 1];
      FARAD_CHECK(last != ' ' && last != '\t');
    }
    for (uint32_t i = 0; i < f.value_len; ++i) {
      unsigned char c = static_cast<unsigned char>(head[f.value_off + i]);
      FARAD_CHECK(c == '\t' || (c >= 0x20 && c != 0x7F));
    }
  }
}

}  // namespace farad_test
