// Responses the native layer writes by itself: parser rejections, timeouts,
// and 100 Continue. Everything a handler answers is serialized in TypeScript.
#pragma once
#include <cstddef>
#include <cstdint>

namespace farad::http1 {

const char* reason_phrase(uint16_t status);

// Writes a complete `Connection: close` response with a short text/plain
// body into buf. Returns the length, or 0 if cap is too small.
size_t write_error_response(uint8_t* buf, size_t cap, uint16_t status, const char* detail);

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kContinueLen = sizeof(kContinue) - 1;

}  // namespace farad::http1
