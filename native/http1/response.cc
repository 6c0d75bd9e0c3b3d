#include "http1/response.h"

#include <cstdio>
#include <cstring>

namespace farad::http1 {

const char* reason_phrase(uint16_t status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

size_t format_date_header(char* out, time_t now) {
  static const char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  if (!gmtime_r(&now, &tm)) return 0;
  int n = std::snprintf(out, 37, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                        tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                        tm.tm_min, tm.tm_sec);
  return n > 0 && n < 37 ? size_t(n) : 0;
}

size_t write_error_response(uint8_t* buf, size_t cap, uint16_t status, const char* code,
                            const char* detail, time_t now) {
  const char* phrase = reason_phrase(status);
  char body[320];
  int blen = std::snprintf(body, sizeof body, "%s: %s (%s)\n", phrase,
                           detail && *detail ? detail : phrase, code ? code : "FARAD_ERR");
  if (blen < 0) return 0;
  if (size_t(blen) >= sizeof body) blen = int(sizeof body - 1);
  char date[40];
  size_t dlen = format_date_header(date, now);
  if (dlen) {  // with its CRLF; a clock that fails leaves the line out
    date[dlen++] = '\r';
    date[dlen++] = '\n';
  }
  int n = std::snprintf(reinterpret_cast<char*>(buf), cap,
                        "HTTP/1.1 %u %s\r\n%.*sContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n\r\n%.*s",
                        unsigned(status), phrase, int(dlen), date, blen, blen, body);
  if (n < 0 || size_t(n) >= cap) return 0;
  return size_t(n);
}

}  // namespace farad::http1
