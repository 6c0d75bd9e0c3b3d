// The registry of parser errors: one status and one stable code per kind, so
// users can match on `code`. The list is documented on `Error` in
// request_parser.h and, for responses, above kResponseErrorStatus in
// response_parser.h; keep them in step. The statuses are the request side's
// answers; the response parser replaces them with 502. Internal to
// native/http1.
#pragma once
#include <cstdint>
#include "http1/request_parser.h"

namespace farad::http1::detail {

struct ErrorKind {
  uint16_t status;
  const char* code;
};

inline constexpr ErrorKind kBadMethod{400, "FARAD_ERR_BAD_METHOD"};
inline constexpr ErrorKind kBadTarget{400, "FARAD_ERR_BAD_TARGET"};
inline constexpr ErrorKind kBadVersion{400, "FARAD_ERR_BAD_VERSION"};
inline constexpr ErrorKind kVersionNotSupported{505, "FARAD_ERR_VERSION_NOT_SUPPORTED"};
inline constexpr ErrorKind kUriTooLong{414, "FARAD_ERR_URI_TOO_LONG"};
inline constexpr ErrorKind kHeadersTooLarge{431, "FARAD_ERR_HEADERS_TOO_LARGE"};
inline constexpr ErrorKind kTooManyHeaders{431, "FARAD_ERR_TOO_MANY_HEADERS"};
inline constexpr ErrorKind kBadHeader{400, "FARAD_ERR_BAD_HEADER"};
inline constexpr ErrorKind kBareLf{400, "FARAD_ERR_BARE_LF"};
inline constexpr ErrorKind kBareCr{400, "FARAD_ERR_BARE_CR"};
inline constexpr ErrorKind kObsFold{400, "FARAD_ERR_OBS_FOLD"};
inline constexpr ErrorKind kEmptyLines{400, "FARAD_ERR_EMPTY_LINES"};
inline constexpr ErrorKind kHost{400, "FARAD_ERR_HOST"};
inline constexpr ErrorKind kContentLength{400, "FARAD_ERR_CONTENT_LENGTH"};
inline constexpr ErrorKind kTeWithCl{400, "FARAD_ERR_TE_WITH_CL"};
inline constexpr ErrorKind kTransferEncoding{400, "FARAD_ERR_TRANSFER_ENCODING"};
inline constexpr ErrorKind kUnsupportedCoding{501, "FARAD_ERR_UNSUPPORTED_CODING"};
inline constexpr ErrorKind kExpectation{417, "FARAD_ERR_EXPECTATION"};
inline constexpr ErrorKind kChunkSize{400, "FARAD_ERR_CHUNK_SIZE"};
inline constexpr ErrorKind kChunkExtension{400, "FARAD_ERR_CHUNK_EXTENSION"};
inline constexpr ErrorKind kChunkFraming{400, "FARAD_ERR_CHUNK_FRAMING"};
inline constexpr ErrorKind kBadTrailer{400, "FARAD_ERR_BAD_TRAILER"};
inline constexpr ErrorKind kTrailersTooLarge{431, "FARAD_ERR_TRAILERS_TOO_LARGE"};
// Response side only.
inline constexpr ErrorKind kBadStatusLine{502, "FARAD_ERR_BAD_STATUS_LINE"};
inline constexpr ErrorKind kBadStatus{502, "FARAD_ERR_BAD_STATUS"};

inline Error fail(ErrorKind kind, const char* reason) {
  Error e;
  e.status = kind.status;
  e.code = kind.code;
  e.reason = reason;
  return e;
}

}  // namespace farad::http1::detail
