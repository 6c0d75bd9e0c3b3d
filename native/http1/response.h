// Responses the native layer writes by itself: parser rejections, timeouts,
// and 100 Continue. Everything a handler answers is serialized in TypeScript.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ctime>

namespace farad::http1 {

const char* reason_phrase(uint16_t status);

// Writes a complete `Connection: close` response with a short text/plain
// body naming the error code into buf, dated `now` (RFC 9110 §6.6.1: a
// server with a clock dates every 2xx-5xx response). Returns the length, or
// 0 if cap is too small.
size_t write_error_response(uint8_t* buf, size_t cap, uint16_t status, const char* code,
                            const char* detail, time_t now);

// "Date: Sat, 21 Nov 2026 08:00:00 GMT" (IMF-fixdate, no CRLF) into out;
// out must have room for 36 bytes. Independent of the C locale.
size_t format_date_header(char* out, time_t now);

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kContinueLen = sizeof(kContinue) - 1;

}  // namespace farad::http1
