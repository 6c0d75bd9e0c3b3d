// What the corpus runners (parser_test.cc, response_test.cc) share: the
// pass/fail tally, the "whole, every split, byte by byte" comparison, the
// checks of a case's keys against a run, and writing fuzzer seeds.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "check.h"
#include "corpus.h"
#include "http1/request_parser.h"

namespace farad_test {

struct Tally {
  int passed = 0;
  int failed = 0;
};

inline Tally& tally() {
  static Tally t;
  return t;
}

inline void report_failure(const std::string& name, const std::string& what) {
  ++tally().failed;
  std::printf("FAIL %s\n  %s\n", name.c_str(), what.c_str());
}

#define EXPECT(name, cond) \
  ((cond) ? (void)++::farad_test::tally().passed : ::farad_test::report_failure(name, "expected " #cond))

inline bool parse_u32(const std::string& s, uint32_t* out) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const unsigned long long v = std::stoull(s);
  if (v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// Walks the case's "limits:" items (space-separated name=N), calling
// set(name, N) -> bool (false: unknown name).
template <typename Set>
bool for_each_limit(const Case& c, std::string* err, Set&& set) {
  const std::string* lim = c.get("limits");
  if (!lim) return true;
  size_t i = 0;
  while (i < lim->size()) {
    size_t j = lim->find(' ', i);
    if (j == std::string::npos) j = lim->size();
    std::string item = lim->substr(i, j - i);
    i = j + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    uint32_t v = 0;
    if (eq == std::string::npos || !parse_u32(item.substr(eq + 1), &v)) {
      *err = "bad limits item " + item;
      return false;
    }
    if (!set(item.substr(0, eq), v)) {
      *err = "unknown limit " + item.substr(0, eq);
      return false;
    }
  }
  return true;
}

// Runs the stream split in two at every byte position and then one byte at
// a time; describe(cuts) gives the canonical text of one run. Returns "" when
// every run gives `whole`, else what differed.
template <typename Describe>
std::string split_mismatch(size_t size, const std::string& whole, Describe&& describe) {
  for (size_t k = 1; k < size; ++k) {
    std::string got = describe(std::vector<size_t>{k});
    if (got != whole)
      return "split at " + std::to_string(k) + " gives\n" + got + "\n  whole gives\n" + whole;
  }
  std::vector<size_t> bytewise;
  for (size_t k = 1; k < size; ++k) bytewise.push_back(k);
  std::string got = describe(bytewise);
  if (got != whole) return "byte at a time gives\n" + got + "\n  whole gives\n" + whole;
  return "";
}

// Compares values of a run with a case's keys, collecting the differences.
class Expectations {
 public:
  explicit Expectations(const Case& c) : c_(c) {}

  // A key with plain text; dflt == nullptr means the key is required.
  void want(const char* key, const std::string& got, const char* dflt) {
    const std::string* v = c_.get(key);
    if (!v && !dflt) {
      errs_ += std::string("missing key ") + key + "; ";
      return;
    }
    const std::string expected = v ? *v : dflt;
    if (got != expected)
      errs_ += std::string(key) + ": expected '" + expected + "' got '" + got + "'; ";
  }

  // A key whose value holds the corpus escapes; `got` is raw bytes.
  void want_bytes(const char* key, const std::string& got, const char* dflt) {
    const std::string* v = c_.get(key);
    if (!v && !dflt) {
      errs_ += std::string("missing key ") + key + "; ";
      return;
    }
    std::string decoded, e;
    if (!unescape(v ? *v : dflt, &decoded, &e)) {
      errs_ += std::string(key) + ": " + e + "; ";
      return;
    }
    if (got != decoded)
      errs_ += std::string(key) + ": expected '" + escape(decoded) + "' got '" + escape(got) +
               "'; ";
  }

  // The optional "header:" lines, one per field in order ("Name: value").
  void want_headers(const std::string& head, const std::vector<farad::http1::HeaderField>& fields) {
    std::vector<std::string> headers;
    for (const auto& kv : c_.keys)
      if (kv.first == "header") headers.push_back(kv.second);
    if (headers.empty()) return;
    if (headers.size() != fields.size()) errs_ += "header: count differs from header: lines; ";
    for (size_t i = 0; i < headers.size() && i < fields.size(); ++i) {
      const farad::http1::HeaderField& f = fields[i];
      std::string got = head.substr(f.name_off, f.name_len) + ":";
      if (f.value_len > 0) got += " " + escape(head.substr(f.value_off, f.value_len));
      std::string decoded, e;
      unescape(headers[i], &decoded, &e);
      if (got != escape(decoded)) errs_ += "header " + std::to_string(i) + ": got '" + got + "'; ";
    }
  }

  void add(const std::string& err) { errs_ += err; }
  const std::string& errors() const { return errs_; }

 private:
  const Case& c_;
  std::string errs_;
};

// Writes two seeds per case: prefix(case, variant) (the fuzz target's
// control bytes) followed by the case's stream.
template <typename Prefix>
int write_seeds(const std::string& dir, const std::vector<Case>& cases, Prefix&& prefix) {
  int n = 0;
  for (const Case& c : cases) {
    for (int variant = 0; variant < 2; ++variant) {
      std::string path = dir + "/seed-" + std::to_string(n++);
      std::ofstream out(path, std::ios::binary);
      out << prefix(c, variant) << c.raw;
      if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return 1;
      }
    }
  }
  std::printf("wrote %d seeds to %s\n", n, dir.c_str());
  return 0;
}

// The runners' command line:
//   <runner> [corpus]                     run (default: the repo's corpus)
//   <runner> --write-seeds DIR [corpus]   write fuzzer seeds and exit
struct Args {
  std::string corpus;
  std::string seeds_dir;
};

inline Args parse_args(int argc, char** argv, const char* default_corpus) {
  Args a;
  a.corpus = default_corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc) a.seeds_dir = argv[++i];
    else a.corpus = argv[i];
  }
  return a;
}

// Loads the corpus or prints why not (ending with the tally line).
inline bool load_or_report(const std::string& path, std::vector<Case>* cases) {
  std::string err;
  *cases = load_corpus(path, &err);
  if (!err.empty() || cases->empty()) {
    std::printf("cannot load corpus %s: %s\n0 passed, 1 failed\n", path.c_str(),
                err.empty() ? "no cases" : err.c_str());
    return false;
  }
  return true;
}

// Prints the tally last and gives the exit status.
inline int finish(size_t cases) {
  std::printf("%zu corpus cases\n%d passed, %d failed\n", cases, tally().passed, tally().failed);
  return tally().failed == 0 ? 0 : 1;
}

}  // namespace farad_test
