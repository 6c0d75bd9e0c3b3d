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

size_t write_error_response(uint8_t* buf, size_t cap, uint16_t status, const char* detail) {
  const char* phrase = reason_phrase(status);
  char body[256];
  int blen = detail && *detail ? std::snprintf(body, sizeof body, "%s: %s\n", phrase, detail)
                               : std::snprintf(body, sizeof body, "%s\n", phrase);
  if (blen < 0) return 0;
  if (size_t(blen) >= sizeof body) blen = int(sizeof body - 1);
  int n = std::snprintf(reinterpret_cast<char*>(buf), cap,
                        "HTTP/1.1 %u %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n\r\n%.*s",
                        unsigned(status), phrase, blen, blen, body);
  if (n < 0 || size_t(n) >= cap) return 0;
  return size_t(n);
}

}  // namespace farad::http1
