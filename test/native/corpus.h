// Reader for test/fixtures/requests.txt (the format is documented at the top
// of that file). Used by parser_test.cc; the TypeScript socket tests read the
// same file with their own reader.
#pragma once
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace farad_test {

struct Case {
  std::string name;
  int line = 0;
  std::vector<std::pair<std::string, std::string>> keys;  // in file order
  std::string raw;                                        // decoded bytes
  std::string error;                                      // a format error

  const std::string* get(const std::string& key) const {
    for (const auto& kv : keys)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
};

// Decodes the escapes \r \n \t \0 \\ \xHH and \{N:text} (text repeated N
// times; text may hold escapes but no '}'). Returns false on a bad escape.
inline bool unescape(const std::string& s, std::string* out, std::string* err) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\') {
      *out += c;
      continue;
    }
    if (++i == s.size()) {
      *err = "trailing backslash";
      return false;
    }
    switch (s[i]) {
      case 'r': *out += '\r'; break;
      case 'n': *out += '\n'; break;
      case 't': *out += '\t'; break;
      case '0': *out += '\0'; break;
      case '\\': *out += '\\'; break;
      case 'x': {
        if (i + 2 >= s.size()) {
          *err = "short \\x escape";
          return false;
        }
        std::string hex = s.substr(i + 1, 2);
        char* end = nullptr;
        long v = std::strtol(hex.c_str(), &end, 16);
        if (hex.size() != 2 || *end != '\0') {
          *err = "bad \\x escape";
          return false;
        }
        *out += static_cast<char>(v);
        i += 2;
        break;
      }
      case '{': {
        size_t colon = s.find(':', i);
        size_t close = s.find('}', i);
        if (colon == std::string::npos || close == std::string::npos || colon > close) {
          *err = "bad \\{N:text} escape";
          return false;
        }
        long n = std::strtol(s.substr(i + 1, colon - i - 1).c_str(), nullptr, 10);
        std::string unit;
        if (!unescape(s.substr(colon + 1, close - colon - 1), &unit, err)) return false;
        for (long k = 0; k < n; ++k) *out += unit;
        i = close;
        break;
      }
      default:
        *err = std::string("unknown escape \\") + s[i];
        return false;
    }
  }
  return true;
}

inline std::vector<Case> load_corpus(const std::string& path, std::string* err) {
  std::vector<Case> cases;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = "cannot open " + path;
    return cases;
  }
  std::string line;
  int lineno = 0;
  bool in_raw = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("=== ", 0) == 0) {
      Case c;
      c.name = line.substr(4);
      c.line = lineno;
      cases.push_back(c);
      in_raw = false;
      continue;
    }
    if (cases.empty() || line.empty() || line[0] == '#') continue;
    Case& c = cases.back();
    if (in_raw) {
      std::string e;
      if (!unescape(line, &c.raw, &e) && c.error.empty())
        c.error = "line " + std::to_string(lineno) + ": " + e;
      continue;
    }
    if (line == "---") {
      in_raw = true;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      if (c.error.empty()) c.error = "line " + std::to_string(lineno) + ": expected key: value";
      continue;
    }
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    c.keys.emplace_back(line.substr(0, colon), line.substr(v));
  }
  return cases;
}

}  // namespace farad_test
