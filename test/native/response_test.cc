// Native response parser tests: every case of test/fixtures/responses.txt is
// fed whole, split in two at every byte position, and one byte at a time,
// through ResponseScanner -> parse_response_head (again after each 1xx) ->
// Content-Length / ChunkedDecoder / read-to-close; every run must give the
// same result and the whole run must match the case's expectations. A few
// API contracts that the corpus cannot express are checked below it.
//
//   response_test [corpus]                    run (default: the repo's corpus)
//   response_test --write-seeds DIR [corpus]  write fuzzer seeds and exit
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "corpus.h"
#include "response_pipeline.h"
#include "runner.h"

#ifndef FARAD_RESPONSE_CORPUS
#define FARAD_RESPONSE_CORPUS "test/fixtures/responses.txt"
#endif

using namespace farad_test;

namespace {

// The methods the parser tells apart, and one it does not.
uint8_t method_enum(const std::string& m) {
  static const char* names[] = {"", "GET", "HEAD", "POST", "PUT", "DELETE",
                                "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (uint8_t i = 1; i < 10; ++i)
    if (m == names[i]) return i;
  return kOther;
}

bool config_for(const Case& c, ResponseConfig* cfg, std::string* err) {
  if (const std::string* m = c.get("request_method")) cfg->request_method = method_enum(*m);
  return for_each_limit(c, err, [&](const std::string& k, uint32_t v) {
    if (k == "header_bytes") cfg->limits.max_header_bytes = v;
    else if (k == "headers") cfg->limits.max_headers = v;
    else if (k == "trailer_bytes") cfg->max_trailer_bytes = v;
    else return false;
    return true;
  });
}

const char* boolean(bool b) { return b ? "true" : "false"; }

// Compares the whole run with the case's keys; returns "" when it matches.
std::string check_expectations(const Case& c, const ResponseResult& r) {
  const std::string* expect = c.get("expect");
  if (!expect) return "case has no expect: key";
  Expectations x(c);
  if (*expect == "incomplete") {
    if (r.kind != ResponseResult::kIncomplete) return "expected incomplete, got " + describe(r);
    x.want("informational", informational_list(r.informational), "");
    return x.errors();
  }
  if (*expect != "ok") {
    if (r.kind != ResponseResult::kError) return "expected error " + *expect + ", got " + describe(r);
    return r.error.code == *expect ? "" : "expected " + *expect + ", got " + describe(r);
  }
  if (r.kind != ResponseResult::kOk) return "expected ok, got " + describe(r);

  const ResponseHead& h = r.res;
  x.want("status", std::to_string(h.status), nullptr);
  x.want_bytes("reason", r.head.substr(h.reason_off, h.reason_len), nullptr);
  x.want("version", std::string("1.") + std::to_string(h.version_minor), nullptr);
  x.want("headers", std::to_string(h.header_count), nullptr);
  std::string body = response_body_name(h.body);
  if (h.body == ResponseBody::kLength) body += " " + std::to_string(h.content_length);
  x.want("body", body, nullptr);
  x.want("keep_alive", boolean(h.keep_alive), nullptr);
  x.want("close", boolean(h.connection_close), "false");
  x.want("tunnel", boolean(h.tunnel), "false");
  x.want("other_coding", boolean(h.other_coding), "false");
  x.want("keep_alive_timeout", std::to_string(h.keep_alive_timeout), "-1");
  x.want("informational", informational_list(r.informational), "");
  if (c.get("content_length"))
    x.want("content_length",
           h.has_content_length ? std::to_string(h.content_length) : std::string("none"), nullptr);
  x.want_bytes("body_data", r.body, "");
  x.want_bytes("rest", r.rest, "");
  x.want_headers(r.head, r.fields);
  return x.errors();
}

void run_case(const Case& c) {
  if (!c.error.empty()) return report_failure(c.name, "corpus format: " + c.error);
  ResponseConfig cfg;
  std::string err;
  if (!config_for(c, &cfg, &err)) return report_failure(c.name, err);

  const ResponseResult whole = run_response(c.raw, {}, cfg);
  std::string mismatch = check_expectations(c, whole);
  if (!mismatch.empty()) return report_failure(c.name, mismatch);

  const std::string expected = describe(whole);
  mismatch = split_mismatch(c.raw.size(), expected, [&](const std::vector<size_t>& cuts) {
    return describe(run_response(c.raw, cuts, cfg));
  });
  if (!mismatch.empty()) return report_failure(c.name, mismatch);
  ++tally().passed;
}

// --- contracts the corpus cannot express ------------------------------------

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

void api_tests() {
  const std::string two = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  ResponseScanner s;
  s.reset(ResponseLimits{});
  size_t consumed = 0;
  EXPECT("scanner: complete",
         s.feed(bytes(two), two.size(), &consumed) == ResponseScanner::State::kComplete);
  EXPECT("scanner: consumed stops at the head's end", consumed == 25);
  EXPECT("scanner: head_length", s.head_length() == 25);
  EXPECT("scanner: feed after complete",
         s.feed(bytes(two), two.size(), &consumed) == ResponseScanner::State::kComplete &&
             consumed == 0);
  s.reset(ResponseLimits{});
  EXPECT("scanner: reusable after reset (the head after a 1xx)",
         s.feed(bytes(two) + 25, two.size() - 25, &consumed) ==
                 ResponseScanner::State::kComplete &&
             consumed == two.size() - 25);

  ResponseScanner d;  // default-constructed: default limits
  const std::string ssh = "SSH-2.0-OpenSSH_9.6\r\n";
  EXPECT("scanner: not HTTP fails at the first byte",
         d.feed(bytes(ssh), ssh.size(), &consumed) == ResponseScanner::State::kError &&
             consumed == 0 && std::strcmp(d.error().code, "FARAD_ERR_BAD_STATUS_LINE") == 0 &&
             d.error().status == kResponseErrorStatus);
  EXPECT("scanner: error is sticky",
         d.feed(bytes(two), two.size(), &consumed) == ResponseScanner::State::kError &&
             consumed == 0);
  d.reset(ResponseLimits{});
  const std::string htt = "HTTX";
  EXPECT("scanner: wrong byte inside \"HTTP/\" across feeds",
         d.feed(bytes(htt), 3, &consumed) == ResponseScanner::State::kNeedMore && consumed == 3 &&
             d.feed(bytes(htt) + 3, 1, &consumed) == ResponseScanner::State::kError &&
             consumed == 0);

  // parse_response_head must refuse what the scanner would never hand it,
  // with the response-side status.
  ResponseHead h;
  std::vector<HeaderField> f(ResponseLimits{}.max_headers);
  const std::string no_end = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
  Error e = parse_response_head(bytes(no_end), no_end.size(), ResponseLimits{}, kGet, &h, f.data());
  EXPECT("parse: needs the empty line", e.status == kResponseErrorStatus &&
                                            std::strcmp(e.code, "FARAD_ERR_BAD_HEADER") == 0);
  const std::string extra = "HTTP/1.1 200 OK\r\n\r\nX: y\r\n\r\n";
  e = parse_response_head(bytes(extra), extra.size(), ResponseLimits{}, kGet, &h, f.data());
  EXPECT("parse: nothing after the empty line", e.status == kResponseErrorStatus);
  const std::string empty;
  e = parse_response_head(bytes(empty), 0, ResponseLimits{}, kGet, &h, f.data());
  EXPECT("parse: empty input", e.status == kResponseErrorStatus);

  // The same head framed by the request method.
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
  e = parse_response_head(bytes(ok), ok.size(), ResponseLimits{}, kGet, &h, f.data());
  EXPECT("parse: GET reads the body", !e && h.body == ResponseBody::kLength &&
                                          h.content_length == 12 && h.keep_alive);
  e = parse_response_head(bytes(ok), ok.size(), ResponseLimits{}, kHead, &h, f.data());
  EXPECT("parse: HEAD has none, keeps the length", !e && h.body == ResponseBody::kNone &&
                                                       h.has_content_length &&
                                                       h.content_length == 12 && h.keep_alive);
  e = parse_response_head(bytes(ok), ok.size(), ResponseLimits{}, kConnect, &h, f.data());
  EXPECT("parse: CONNECT 2xx is a tunnel",
         !e && h.tunnel && h.body == ResponseBody::kNone && !h.keep_alive);
  e = parse_response_head(bytes(ok), ok.size(), ResponseLimits{}, kOther, &h, f.data());
  EXPECT("parse: other methods read the body", !e && h.body == ResponseBody::kLength);

  // A failed parse leaves no stale success behind.
  const std::string bad = "HTTP/1.1 2000 OK\r\n\r\n";
  e = parse_response_head(bytes(bad), bad.size(), ResponseLimits{}, kGet, &h, f.data());
  EXPECT("parse: error resets the head",
         e && h.header_count == 0 && !h.has_content_length && h.body == ResponseBody::kNone);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv, FARAD_RESPONSE_CORPUS);
  std::vector<Case> cases;
  if (!load_or_report(args.corpus, &cases)) return 1;
  if (!args.seeds_dir.empty()) {
    // Fuzz input layout (fuzz_response.cc): byte 0 holds the limits (bits
    // 0-1), the split (bits 2-3) and the request method (bits 4-5: GET,
    // HEAD, CONNECT, POST); byte 1 seeds the split; then the stream.
    return write_seeds(args.seeds_dir, cases, [](const Case& c, int variant) {
      const std::string* m = c.get("request_method");
      int method = 0;
      if (m && *m == "HEAD") method = 1;
      else if (m && *m == "CONNECT") method = 2;
      else if (m && *m != "GET") method = 3;
      const int mode = (method << 4) | (variant ? 0x05 : 0);
      return std::string{static_cast<char>(mode), static_cast<char>(variant * 7)};
    });
  }
  for (const Case& c : cases) run_case(c);
  api_tests();
  return finish(cases.size());
}
