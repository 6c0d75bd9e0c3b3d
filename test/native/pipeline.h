// Test-side model of the connection layer's use of the parser: bytes arrive
// in pieces, HeadScanner finds the head, parse_head parses it, the body is
// framed by Content-Length or ChunkedDecoder. Shared by parser_test.cc and the
// fuzz target, which both check that every split gives the same Result.
// Checks the API contracts on the way and aborts (with a message, check.h)
// when one is broken, so the fuzzer reports it as a crash.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "http1/chunked.h"
#include "http1/request_parser.h"

namespace farad_test {

using namespace farad::http1;

struct Config {
  Limits limits;
  uint32_t max_trailer_bytes = 16384;
};

struct Result {
  enum Kind { kOk, kError, kIncomplete } kind = kIncomplete;
  Error error;
  std::string stage;  // where it stopped: scan, parse, body, done
  size_t skipped = 0;
  std::string head;   // the head bytes (without the skipped prefix)
  RequestHead req;
  std::vector<HeaderField> fields;
  std::string body;
  std::string rest;   // bytes after the message
};

inline const char* form_name(TargetForm f) {
  switch (f) {
    case TargetForm::kOrigin: return "origin";
    case TargetForm::kAbsolute: return "absolute";
    case TargetForm::kAuthority: return "authority";
    case TargetForm::kAsterisk: return "asterisk";
  }
  return "?";
}

inline const char* body_name(BodyKind b) {
  switch (b) {
    case BodyKind::kNone: return "none";
    case BodyKind::kLength: return "length";
    case BodyKind::kChunked: return "chunked";
  }
  return "?";
}

// Canonical text of a result; two runs agree iff their descriptions do.
inline std::string describe(const Result& r) {
  std::string s;
  char buf[256];
  if (r.kind == Result::kError) {
    std::snprintf(buf, sizeof buf, "error %u %s (%s) at %s", r.error.status, r.error.code,
                  r.error.reason, r.stage.c_str());
    return buf;
  }
  if (r.kind == Result::kIncomplete) s += "incomplete at " + r.stage + "\n";
  if (r.stage == "scan") return s;
  const RequestHead& q = r.req;
  std::snprintf(buf, sizeof buf,
                "skipped=%zu method=%s(%u) target=%s path_len=%u form=%s version=1.%u "
                "headers=%u body=%s cl=%llu keep_alive=%d close=%d expect=%d upgrade=%d\n",
                r.skipped, r.head.substr(0, q.method_len).c_str(), q.method,
                escape(r.head.substr(q.target_off, q.target_len)).c_str(), q.path_len,
                form_name(q.form), q.version_minor, q.header_count, body_name(q.body),
                static_cast<unsigned long long>(q.content_length), q.keep_alive,
                q.connection_close, q.expect_continue, q.upgrade);
  s += buf;
  for (const HeaderField& f : r.fields)
    s += "  " + r.head.substr(f.name_off, f.name_len) + ": " +
         escape(r.head.substr(f.value_off, f.value_len)) + "\n";
  s += "body=" + escape(r.body) + "\nrest=" + escape(r.rest) + "\n";
  return s;
}

inline void check_head_contracts(const std::string& head, const RequestHead& q,
                                 const std::vector<HeaderField>& fields, const Config& cfg) {
  FARAD_CHECK(head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0);
  FARAD_CHECK(head.size() <= cfg.limits.max_header_bytes);
  FARAD_CHECK(q.method_len > 0 && q.method_len < head.size());
  FARAD_CHECK(head[q.method_len] == ' ');
  FARAD_CHECK(q.target_off == q.method_len + 1);
  FARAD_CHECK(q.target_len > 0 && q.target_off + q.target_len < head.size());
  FARAD_CHECK(q.path_len <= q.target_len);
  FARAD_CHECK(q.version_minor <= 1);
  FARAD_CHECK(q.header_count <= cfg.limits.max_headers);
  check_field_contracts(head, fields);
  FARAD_CHECK(!(q.connection_close && q.keep_alive));
  FARAD_CHECK(q.body == BodyKind::kLength || q.content_length == 0);
}

// Runs `input` split at the given cut points (ascending, each in (0, size)).
inline Result run(const std::string& input, const std::vector<size_t>& cuts, const Config& cfg) {
  Result r;
  HeadScanner scanner;
  scanner.reset(cfg.limits);
  ChunkedDecoder decoder(cfg.max_trailer_bytes);
  std::string acc;
  uint64_t remaining = 0;
  enum { kHead, kLength, kChunked, kDone } phase = kHead;
  std::vector<HeaderField> fields(cfg.limits.max_headers + 1);
  r.stage = "scan";

  const uint8_t* base = reinterpret_cast<const uint8_t*>(input.data());
  size_t start = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t end = k < cuts.size() ? cuts[k] : input.size();
    FARAD_CHECK(end >= start && end <= input.size());
    const uint8_t* d = base + start;
    const size_t n = end - start;
    start = end;
    size_t off = 0;

    if (phase == kHead) {
      size_t consumed = ~size_t{0};
      HeadScanner::State st = scanner.feed(d, n, &consumed);
      FARAD_CHECK(consumed <= n);
      if (st == HeadScanner::State::kError) {
        FARAD_CHECK(scanner.error().status >= 400 && scanner.error().code && scanner.error().reason);
        r.kind = Result::kError;
        r.error = scanner.error();
        return r;
      }
      acc.append(reinterpret_cast<const char*>(d), consumed);
      off = consumed;
      if (st == HeadScanner::State::kNeedMore) {
        FARAD_CHECK(consumed == n);
        continue;
      }
      FARAD_CHECK(acc.size() == scanner.skipped() + scanner.head_length());
      FARAD_CHECK(scanner.skipped() <= HeadScanner::kMaxSkipped);
      r.skipped = scanner.skipped();
      r.head = acc.substr(scanner.skipped());
      r.stage = "parse";
      Error e = parse_head(reinterpret_cast<const uint8_t*>(r.head.data()), r.head.size(),
                           cfg.limits, &r.req, fields.data());
      if (e) {
        FARAD_CHECK(e.status >= 400 && e.code && e.reason);
        r.kind = Result::kError;
        r.error = e;
        return r;
      }
      r.fields.assign(fields.begin(), fields.begin() + r.req.header_count);
      check_head_contracts(r.head, r.req, r.fields, cfg);
      r.stage = "body";
      if (r.req.body == BodyKind::kLength && r.req.content_length > 0) {
        phase = kLength;
        remaining = r.req.content_length;
      } else if (r.req.body == BodyKind::kChunked) {
        phase = kChunked;
      } else {
        phase = kDone;
      }
    }
    if (phase == kLength && off < n) {
      size_t take = n - off;
      if (take > remaining) take = static_cast<size_t>(remaining);
      r.body.append(reinterpret_cast<const char*>(d + off), take);
      off += take;
      remaining -= take;
      if (remaining == 0) phase = kDone;
    }
    while (phase == kChunked && off < n) {
      ChunkedDecoder::Step s = decoder.decode(d + off, n - off);
      FARAD_CHECK(s.consumed <= n - off);
      if (s.error) {
        FARAD_CHECK(s.error.status >= 400 && s.error.code && s.error.reason);
        r.kind = Result::kError;
        r.error = s.error;
        return r;
      }
      FARAD_CHECK(s.data_len == 0 || s.data_off + s.data_len <= s.consumed);
      FARAD_CHECK(s.consumed > 0 || s.done);
      r.body.append(reinterpret_cast<const char*>(d + off + s.data_off), s.data_len);
      off += s.consumed;
      if (s.done) phase = kDone;
    }
    if (phase == kDone) {
      r.rest.append(reinterpret_cast<const char*>(d + off), n - off);
      r.stage = "done";
    }
  }
  r.kind = phase == kDone ? Result::kOk : Result::kIncomplete;
  return r;
}

}  // namespace farad_test
