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
#include <string>
#include <vector>

#include "corpus.h"
#include "pipeline.h"
#include "runner.h"

#ifndef FARAD_CORPUS
#define FARAD_CORPUS "test/fixtures/requests.txt"
#endif

using namespace farad_test;

namespace {

bool config_for(const Case& c, Config* cfg, std::string* err) {
  return for_each_limit(c, err, [&](const std::string& k, uint32_t v) {
    if (k == "request_line") cfg->limits.max_request_line = v;
    else if (k == "header_bytes") cfg->limits.max_header_bytes = v;
    else if (k == "headers") cfg->limits.max_headers = v;
    else if (k == "trailer_bytes") cfg->max_trailer_bytes = v;
    else return false;
    return true;
  });
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
  Expectations x(c);
  const std::string method = r.head.substr(0, q.method_len);
  x.want("method", method, nullptr);
  if (q.method != standard_method(method)) x.add("method enum does not match its text; ");
  x.want("target", r.head.substr(q.target_off, q.target_len), nullptr);
  x.want("version", std::string("1.") + std::to_string(q.version_minor), nullptr);
  x.want("headers", std::to_string(q.header_count), nullptr);
  std::string body = body_name(q.body);
  if (q.body == BodyKind::kLength) body += " " + std::to_string(q.content_length);
  x.want("body", body, nullptr);
  x.want("keep_alive", q.keep_alive ? "true" : "false", nullptr);
  x.want("close", q.connection_close ? "true" : "false", "false");
  x.want("expect_continue", q.expect_continue ? "true" : "false", "false");
  x.want("upgrade", q.upgrade ? "true" : "false", "false");
  x.want("skipped", std::to_string(r.skipped), "0");
  x.want_bytes("body_data", r.body, "");
  x.want_bytes("rest", r.rest, "");
  if (c.get("form")) x.want("form", form_name(q.form), nullptr);
  if (c.get("path_len")) x.want("path_len", std::to_string(q.path_len), nullptr);
  x.want_headers(r.head, r.fields);
  return x.errors();
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
  mismatch = split_mismatch(c.raw.size(), expected, [&](const std::vector<size_t>& cuts) {
    return describe(run(c.raw, cuts, cfg));
  });
  if (!mismatch.empty()) return report_failure(c.name, mismatch);
  ++tally().passed;
}

// --- contracts the corpus cannot express ------------------------------------

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

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv, FARAD_CORPUS);
  std::vector<Case> cases;
  if (!load_or_report(args.corpus, &cases)) return 1;
  if (!args.seeds_dir.empty()) {
    // Fuzz input layout (fuzz_request.cc): two control bytes, then the
    // stream. 0x00 0x00 = default limits, first split mode.
    return write_seeds(args.seeds_dir, cases, [](const Case&, int variant) {
      return std::string{static_cast<char>(variant * 0x11), static_cast<char>(variant * 7)};
    });
  }
  for (const Case& c : cases) run_case(c);
  api_tests();
  return finish(cases.size());
}
