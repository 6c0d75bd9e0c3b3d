// Test-side model of the client connection's use of the response parser:
// bytes arrive in pieces, ResponseScanner finds a head, parse_response_head
// parses it; a 1xx head is noted and scanning starts again after it; the
// final head's body is read by Content-Length, ChunkedDecoder, or to the end
// of the input (which stands for the server closing). Shared by
// response_test.cc and fuzz_response.cc, which both check that every split
// gives the same ResponseResult, and that the API contracts hold on the way
// (FARAD_CHECK aborts otherwise).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "check.h"
#include "http1/chunked.h"
#include "http1/response_parser.h"

namespace farad_test {

using namespace farad::http1;

struct ResponseConfig {
  ResponseLimits limits;
  uint32_t max_trailer_bytes = 16384;
  uint8_t request_method = kGet;
};

struct ResponseResult {
  enum Kind { kOk, kError, kIncomplete } kind = kIncomplete;
  Error error;
  std::string stage;                    // where it stopped: scan, parse, body, done
  std::vector<uint16_t> informational;  // statuses of the 1xx heads before the final one
  std::string head;                     // the final head's bytes
  ResponseHead res;
  std::vector<HeaderField> fields;
  std::string body;
  std::string rest;                     // bytes after the message (or the tunnel's)
};

inline const char* response_body_name(ResponseBody b) {
  switch (b) {
    case ResponseBody::kNone: return "none";
    case ResponseBody::kLength: return "length";
    case ResponseBody::kChunked: return "chunked";
    case ResponseBody::kClose: return "close";
  }
  return "?";
}

inline std::string informational_list(const std::vector<uint16_t>& v) {
  std::string s;
  for (uint16_t st : v) s += (s.empty() ? "" : " ") + std::to_string(st);
  return s;
}

// Canonical text of a result; two runs agree iff their descriptions do.
inline std::string describe(const ResponseResult& r) {
  std::string s;
  char buf[320];
  if (r.kind == ResponseResult::kError) {
    std::snprintf(buf, sizeof buf, "error %u %s (%s) at %s after [%s]", r.error.status,
                  r.error.code, r.error.reason, r.stage.c_str(),
                  informational_list(r.informational).c_str());
    return buf;
  }
  if (r.kind == ResponseResult::kIncomplete) s += "incomplete at " + r.stage + "\n";
  s += "informational=[" + informational_list(r.informational) + "]\n";
  if (r.stage == "scan") return s;
  const ResponseHead& h = r.res;
  std::snprintf(buf, sizeof buf,
                "status=%u reason=%s version=1.%u headers=%u body=%s has_cl=%d cl=%llu "
                "informational=%d tunnel=%d other_coding=%d keep_alive=%d close=%d ka_timeout=%d\n",
                h.status, escape(r.head.substr(h.reason_off, h.reason_len)).c_str(),
                h.version_minor, h.header_count, response_body_name(h.body), h.has_content_length,
                static_cast<unsigned long long>(h.content_length), h.informational, h.tunnel,
                h.other_coding, h.keep_alive, h.connection_close, h.keep_alive_timeout);
  s += buf;
  for (const HeaderField& f : r.fields)
    s += "  " + r.head.substr(f.name_off, f.name_len) + ": " +
         escape(r.head.substr(f.value_off, f.value_len)) + "\n";
  s += "body=" + escape(r.body) + "\nrest=" + escape(r.rest) + "\n";
  return s;
}

inline void check_error_contract(const Error& e) {
  FARAD_CHECK(e.status == kResponseErrorStatus && e.code && e.reason);
}

inline void check_response_contracts(const std::string& head, const ResponseHead& h,
                                     const std::vector<HeaderField>& fields,
                                     const ResponseLimits& limits, uint8_t method) {
  FARAD_CHECK(head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0);
  FARAD_CHECK(head.size() <= limits.max_header_bytes);
  FARAD_CHECK(head.compare(0, 7, "HTTP/1.") == 0 && h.version_minor <= 1);
  FARAD_CHECK(head[7] == static_cast<char>('0' + h.version_minor) && head[8] == ' ');
  FARAD_CHECK(h.status >= 100 && h.status <= 999);
  FARAD_CHECK(head.compare(9, 3, std::to_string(h.status)) == 0);
  const size_t line_end = head.find("\r\n");
  if (h.reason_len == 0) FARAD_CHECK(h.reason_off == 12 || h.reason_off == 13);
  else FARAD_CHECK(h.reason_off == 13 && head[12] == ' ');
  FARAD_CHECK(h.reason_off + h.reason_len == line_end);
  for (uint32_t i = 0; i < h.reason_len; ++i) {
    unsigned char c = static_cast<unsigned char>(head[h.reason_off + i]);
    FARAD_CHECK(c == '\t' || (c >= 0x20 && c != 0x7F));
  }
  FARAD_CHECK(h.header_count <= limits.max_headers && h.header_count == fields.size());
  check_field_contracts(head, fields);

  // Framing follows from status and method alone where RFC 9112 §6.3 says so.
  const bool tunnel = h.status == 101 || (method == kConnect && h.status / 100 == 2);
  FARAD_CHECK(h.tunnel == tunnel);
  FARAD_CHECK(h.informational == (!tunnel && h.status < 200));
  if (tunnel || h.informational || method == kHead || h.status == 204 || h.status == 304)
    FARAD_CHECK(h.body == ResponseBody::kNone);
  else FARAD_CHECK(h.body != ResponseBody::kNone);
  if (h.body == ResponseBody::kLength) FARAD_CHECK(h.has_content_length);
  if (!h.has_content_length) FARAD_CHECK(h.content_length == 0);
  if (h.body == ResponseBody::kClose || h.tunnel || h.connection_close) FARAD_CHECK(!h.keep_alive);
  FARAD_CHECK(h.keep_alive_timeout >= -1);
}

// Runs `input` split at the given cut points (ascending, each in (0, size)).
inline ResponseResult run_response(const std::string& input, const std::vector<size_t>& cuts,
                                   const ResponseConfig& cfg) {
  ResponseResult r;
  ResponseScanner scanner;
  scanner.reset(cfg.limits);
  ChunkedDecoder decoder(cfg.max_trailer_bytes);
  std::string acc;
  uint64_t remaining = 0;
  enum { kHead, kLength, kChunked, kClose, kDone } phase = kHead;
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

    // One piece may hold the end of one head and several more (1xx).
    while (phase == kHead && off < n) {
      size_t consumed = ~size_t{0};
      ResponseScanner::State st = scanner.feed(d + off, n - off, &consumed);
      FARAD_CHECK(consumed <= n - off);
      if (st == ResponseScanner::State::kError) {
        check_error_contract(scanner.error());
        r.kind = ResponseResult::kError;
        r.error = scanner.error();
        return r;
      }
      acc.append(reinterpret_cast<const char*>(d + off), consumed);
      off += consumed;
      if (st == ResponseScanner::State::kNeedMore) {
        FARAD_CHECK(off == n);
        break;
      }
      FARAD_CHECK(acc.size() == scanner.head_length());
      r.head = acc;
      acc.clear();
      r.stage = "parse";
      Error e = parse_response_head(reinterpret_cast<const uint8_t*>(r.head.data()),
                                    r.head.size(), cfg.limits, cfg.request_method, &r.res,
                                    fields.data());
      if (e) {
        check_error_contract(e);
        r.kind = ResponseResult::kError;
        r.error = e;
        return r;
      }
      r.fields.assign(fields.begin(), fields.begin() + r.res.header_count);
      check_response_contracts(r.head, r.res, r.fields, cfg.limits, cfg.request_method);
      if (r.res.informational) {
        r.informational.push_back(r.res.status);
        scanner.reset(cfg.limits);
        r.stage = "scan";
        continue;
      }
      r.stage = "body";
      switch (r.res.body) {
        case ResponseBody::kLength:
          remaining = r.res.content_length;
          phase = remaining > 0 ? kLength : kDone;
          break;
        case ResponseBody::kChunked: phase = kChunked; break;
        case ResponseBody::kClose: phase = kClose; break;
        case ResponseBody::kNone: phase = kDone; break;
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
        r.kind = ResponseResult::kError;
        r.error = s.error;
        return r;
      }
      FARAD_CHECK(s.data_len == 0 || s.data_off + s.data_len <= s.consumed);
      FARAD_CHECK(s.consumed > 0 || s.done);
      r.body.append(reinterpret_cast<const char*>(d + off + s.data_off), s.data_len);
      off += s.consumed;
      if (s.done) phase = kDone;
    }
    if (phase == kClose) {
      r.body.append(reinterpret_cast<const char*>(d + off), n - off);
      off = n;
    }
    if (phase == kDone) {
      r.rest.append(reinterpret_cast<const char*>(d + off), n - off);
      r.stage = "done";
    }
  }
  // The end of the input is the server closing: it ends a close-delimited
  // body and leaves anything else unfinished.
  if (phase == kClose) {
    phase = kDone;
    r.stage = "done";
  }
  r.kind = phase == kDone ? ResponseResult::kOk : ResponseResult::kIncomplete;
  return r;
}

}  // namespace farad_test
