// Native parser tests: every case of test/fixtures/requests.txt is fed whole,
// split in two at every byte position, and one byte at a time, through
// HeadScanner -> parse_head -> ChunkedDecoder; every run must give the same
// result and the whole run must match the case's expectations. A few API
// contracts that the corpus cannot express are checked below it.
//
//   parser_test [corpus]                 run (default: the repo's corpus)
//   parser_test --write-seeds DIR [corpus]  write fuzzer seeds and exit
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "corpus.h"
#include "pipeline.h"

#ifndef FARAD_CORPUS
#define FARAD_CORPUS "test/fixtures/requests.txt"
#endif

using namespace farad_test;

namespace {

int passed = 0;
int failed = 0;

void report_failure(const std::string& name, const std::string& what) {
  ++failed;
  std::printf("FAIL %s\n  %s\n", name.c_str(), what.c_str());
}

bool parse_u32(const std::string& s, uint32_t* out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = static_cast<uint32_t>(std::stoul(s));
  return true;
}

bool config_for(const Case& c, Config* cfg, std::string* err) {
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
    std::string k = item.substr(0, eq);
    if (k == "request_line") cfg->limits.max_request_line = v;
    else if (k == "header_bytes") cfg->limits.max_header_bytes = v;
    else if (k == "headers") cfg->limits.max_headers = v;
    else if (k == "trailer_bytes") cfg->max_trailer_bytes = v;
    else {
      *err = "unknown limit " + k;
      return false;
    }
  }
  return true;
}

uint8_t standard_method(const std::string& m) {
  static const char* names[] = {"", "GET", "HEAD", "POST", "PUT", "DELETE",
                                "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (uint8_t i = 1; i < 10; ++i)
    if (m == names[i]) return i;
  return kOther;
}

// Compares the whole run with the case's keys; returns "" when it matches.
std::string check_expectations(const Case& c, const Result& r) {
  const std::string* expect = c.get("expect");
  if (!expect) return "case has no expect: key";
  if (*expect == "incomplete")
    return r.kind == Result::kIncomplete ? "" : "expected incomplete, got " + describe(r);
  if (*expect != "ok") {
    if (r.kind != Result::kError) return "expected error " + *expect + ", got " + describe(r);
    std::string got = std::to_string(r.error.status) + " " + r.error.code;
    return got == *expect ? "" : "expected " + *expect + ", got " + describe(r);
  }
  if (r.kind != Result::kOk) return "expected ok, got " + describe(r);

  const RequestHead& q = r.req;
  std::string errs;
  auto want = [&](const char* key, const std::string& got, const char* dflt) {
    const std::string* v = c.get(key);
    if (!v && !dflt) {
      errs += std::string("missing key ") + key + "; ";
      return;
    }
    std::string expected = v ? *v : dflt;
    if (std::strcmp(key, "rest") == 0 || std::strcmp(key, "body_data") == 0) {
      std::string decoded, e;
      if (!unescape(expected, &decoded, &e)) {
        errs += std::string(key) + ": " + e + "; ";
        return;
      }
      expected = escape(decoded);
    }
    if (got != expected) errs += std::string(key) + ": expected '" + expected + "' got '" + got + "'; ";
  };
  const std::string method = r.head.substr(0, q.method_len);
  want("method", method, nullptr);
  if (q.method != standard_method(method)) errs += "method enum does not match its text; ";
  want("target", r.head.substr(q.target_off, q.target_len), nullptr);
  want("version", std::string("1.") + std::to_string(q.version_minor), nullptr);
  want("headers", std::to_string(q.header_count), nullptr);
  std::string body = body_name(q.body);
  if (q.body == BodyKind::kLength) body += " " + std::to_string(q.content_length);
  want("body", body, nullptr);
  want("keep_alive", q.keep_alive ? "true" : "false", nullptr);
  want("close", q.connection_close ? "true" : "false", "false");
  want("expect_continue", q.expect_continue ? "true" : "false", "false");
  want("upgrade", q.upgrade ? "true" : "false", "false");
  want("skipped", std::to_string(r.skipped), "0");
  want("body_data", escape(r.body), "");
  want("rest", escape(r.rest), "");
  if (c.get("form")) want("form", form_name(q.form), nullptr);
  if (c.get("path_len")) want("path_len", std::to_string(q.path_len), nullptr);

  std::vector<std::string> headers;
  for (const auto& kv : c.keys)
    if (kv.first == "header") headers.push_back(kv.second);
  if (!headers.empty()) {
    if (headers.size() != r.fields.size()) errs += "header: count differs from header: lines; ";
    for (size_t i = 0; i < headers.size() && i < r.fields.size(); ++i) {
      const HeaderField& f = r.fields[i];
      std::string got = r.head.substr(f.name_off, f.name_len) + ":";
      if (f.value_len > 0) got += " " + escape(r.head.substr(f.value_off, f.value_len));
      std::string decoded, e;
      unescape(headers[i], &decoded, &e);
      if (got != escape(decoded)) errs += "header " + std::to_string(i) + ": got '" + got + "'; ";
    }
  }
  return errs;
}

void run_case(const Case& c) {
  if (!c.error.empty()) return report_failure(c.name, "corpus format: " + c.error);
  Config cfg;
  std::string err;
  if (!config_for(c, &cfg, &err)) return report_failure(c.name, err);

  const Result whole = run(c.raw, {}, cfg);
  std::string mismatch = check_expectations(c, whole);
  if (!mismatch.empty()) return report_failure(c.name, mismatch);

  const std::string expected = describe(whole);
  for (size_t k = 1; k < c.raw.size(); ++k) {
    std::string got = describe(run(c.raw, {k}, cfg));
    if (got != expected)
      return report_failure(c.name, "split at " + std::to_string(k) + " gives\n" + got +
                                        "\n  whole gives\n" + expected);
  }
  std::vector<size_t> bytewise;
  for (size_t k = 1; k < c.raw.size(); ++k) bytewise.push_back(k);
  std::string got = describe(run(c.raw, bytewise, cfg));
  if (got != expected)
    return report_failure(c.name, "byte at a time gives\n" + got + "\n  whole gives\n" + expected);
  ++passed;
}

// --- contracts the corpus cannot express ------------------------------------

#define EXPECT(name, cond) \
  ((cond) ? (void)++passed : report_failure(name, "expected " #cond))

void api_tests() {
  const std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n";
  const uint8_t* p = reinterpret_cast<const uint8_t*>(two.data());
  HeadScanner s;
  s.reset(Limits{});
  size_t consumed = 0;
  EXPECT("scanner: complete", s.feed(p, two.size(), &consumed) == HeadScanner::State::kComplete);
  EXPECT("scanner: consumed stops at the head's end", consumed == 28);
  EXPECT("scanner: head_length", s.head_length() == 28);
  EXPECT("scanner: feed after complete",
         s.feed(p, two.size(), &consumed) == HeadScanner::State::kComplete && consumed == 0);
  s.reset(Limits{});
  EXPECT("scanner: reusable after reset",
         s.feed(p + 28, two.size() - 28, &consumed) == HeadScanner::State::kNeedMore &&
             consumed == two.size() - 28);

  HeadScanner d;  // default-constructed: default limits
  const std::string crlf = "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT("scanner: skipped prefix",
         d.feed(reinterpret_cast<const uint8_t*>(crlf.data()), crlf.size(), &consumed) ==
                 HeadScanner::State::kComplete &&
             d.skipped() == 4 && consumed == crlf.size() && d.head_length() == crlf.size() - 4);

  ChunkedDecoder dec;
  const std::string body = "3\r\nabc\r\n0\r\n\r\nNEXT";
  const uint8_t* b = reinterpret_cast<const uint8_t*>(body.data());
  ChunkedDecoder::Step st = dec.decode(b, body.size());
  EXPECT("chunked: one span", st.data_off == 3 && st.data_len == 3 && st.consumed == 6 && !st.done);
  st = dec.decode(b + 6, body.size() - 6);
  EXPECT("chunked: done leaves the next request", st.done && st.consumed == 7 && st.data_len == 0);
  st = dec.decode(b + 13, body.size() - 13);
  EXPECT("chunked: decode after done", st.done && st.consumed == 0);
  dec.reset();
  st = dec.decode(b, 0);
  EXPECT("chunked: empty input", st.consumed == 0 && !st.done && !st.error);

  // parse_head must refuse what HeadScanner would never hand it.
  RequestHead q;
  std::vector<HeaderField> f(100);
  const std::string no_end = "GET / HTTP/1.1\r\nHost: x\r\n";
  EXPECT("parse_head: needs the empty line",
         parse_head(reinterpret_cast<const uint8_t*>(no_end.data()), no_end.size(), Limits{}, &q,
                    f.data())
             .status == 400);
  const std::string extra = "GET / HTTP/1.1\r\nHost: x\r\n\r\nX: y\r\n\r\n";
  EXPECT("parse_head: nothing after the empty line",
         parse_head(reinterpret_cast<const uint8_t*>(extra.data()), extra.size(), Limits{}, &q,
                    f.data())
             .status == 400);
}

int write_seeds(const std::string& dir, const std::vector<Case>& cases) {
  int n = 0;
  for (const Case& c : cases) {
    // Fuzz input layout (fuzz_request.cc): two control bytes, then the
    // stream. 0x00 0x00 = default limits, first split mode.
    for (int variant = 0; variant < 2; ++variant) {
      std::string path = dir + "/seed-" + std::to_string(n++);
      std::ofstream out(path, std::ios::binary);
      out << static_cast<char>(variant * 0x11) << static_cast<char>(variant * 7) << c.raw;
      if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return 1;
      }
    }
  }
  std::printf("wrote %d seeds to %s\n", n, dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string corpus = FARAD_CORPUS;
  std::string seeds_dir;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc) seeds_dir = argv[++i];
    else corpus = argv[i];
  }
  std::string err;
  std::vector<Case> cases = load_corpus(corpus, &err);
  if (!err.empty() || cases.empty()) {
    std::printf("cannot load corpus %s: %s\n0 passed, 1 failed\n", corpus.c_str(),
                err.empty() ? "no cases" : err.c_str());
    return 1;
  }
  if (!seeds_dir.empty()) return write_seeds(seeds_dir, cases);

  for (const Case& c : cases) run_case(c);
  api_tests();
  std::printf("%zu corpus cases\n%d passed, %d failed\n", cases.size(), passed, failed);
  return failed == 0 ? 0 : 1;
}
