// Chunked transfer coding decoder (RFC 9112 §7.1). One state per grammar
// position, one byte at a time except for chunk data, which is handed back
// as a span of the caller's input without copying.
#include "http1/chunked.h"

#include "http1/chars.h"
#include "http1/errors.h"

namespace farad::http1 {

using namespace detail;

ChunkedDecoder::ChunkedDecoder(uint32_t max_trailer_bytes)
    : max_trailer_bytes_(max_trailer_bytes) {}

void ChunkedDecoder::reset() {
  state_ = S::kSize;
  size_digits_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
  size_ = 0;
  remaining_ = 0;
  error_ = Error{};
}

namespace {

int hex_value(uint8_t c) {
  if (c <= '9') return c - '0';
  return (c | 0x20) - 'a' + 10;
}

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::decode(const uint8_t* input, size_t len) {
  Step step;
  if (state_ == S::kDone) {
    step.done = true;
    return step;
  }
  if (state_ == S::kError) {
    step.error = error_;
    return step;
  }
  auto reject = [&](ErrorKind kind, const char* reason, size_t at) {
    error_ = fail(kind, reason);
    state_ = S::kError;
    step.error = error_;
    step.consumed = at;
    return step;
  };

  size_t i = 0;
  for (; i < len; ++i) {
    const uint8_t c = input[i];
    // Bytes of the chunk-size line, before its CR, are counted against the
    // line limit; the data and trailer states return or count elsewhere.
    if (state_ <= S::kExtAfterVal && c != '\r') {
      if (++line_bytes_ > kMaxChunkLine)
        return reject(kChunkExtension, "chunk-size line too long", i);
    }
    switch (state_) {
      case S::kSize:
        if (has(c, kHex)) {
          // RFC 9112 §7.1: recipients MUST anticipate large sizes and guard
          // against overflow; a wrapped size desynchronises the framing.
          if (++size_digits_ > 16) return reject(kChunkSize, "chunk size too large", i);
          size_ = (size_ << 4) | static_cast<uint64_t>(hex_value(c));
          if (size_ > static_cast<uint64_t>(INT64_MAX))
            return reject(kChunkSize, "chunk size too large", i);
          break;
        }
        if (size_digits_ == 0) {
          if (c == '\n') return reject(kBareLf, "bare LF in chunked body", i);
          return reject(kChunkSize, "missing chunk size", i);
        }
        if (c == '\r') state_ = S::kSizeLf;
        else if (c == ';') state_ = S::kExtName0;
        else if (has(c, kOws)) state_ = S::kSizeBws;
        else if (c == '\n') return reject(kBareLf, "bare LF in chunked body", i);
        else return reject(kChunkSize, "invalid chunk size", i);
        break;

      // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ),
      // RFC 9112 §7.1.1. Validated so that an invalid line cannot be read
      // as something else downstream, then dropped.
      case S::kSizeBws:
      case S::kExtAfterVal:
        if (c == ';') state_ = S::kExtName0;
        else if (!has(c, kOws)) goto bad_ext;
        break;
      case S::kExtName0:
        if (has(c, kTchar)) state_ = S::kExtName;
        else if (!has(c, kOws)) goto bad_ext;
        break;
      case S::kExtName:
        if (has(c, kTchar)) break;
        if (c == '\r') state_ = S::kSizeLf;
        else if (c == ';') state_ = S::kExtName0;
        else if (c == '=') state_ = S::kExtVal0;
        else if (has(c, kOws)) state_ = S::kExtNameBws;
        else goto bad_ext;
        break;
      case S::kExtNameBws:
        if (c == ';') state_ = S::kExtName0;
        else if (c == '=') state_ = S::kExtVal0;
        else if (!has(c, kOws)) goto bad_ext;
        break;
      case S::kExtVal0:
        if (c == '"') state_ = S::kExtQuoted;
        else if (has(c, kTchar)) state_ = S::kExtValToken;
        else if (!has(c, kOws)) goto bad_ext;
        break;
      case S::kExtValToken:
      case S::kExtValEnd:
        if (state_ == S::kExtValToken && has(c, kTchar)) break;
        if (c == '\r') state_ = S::kSizeLf;
        else if (c == ';') state_ = S::kExtName0;
        else if (has(c, kOws)) state_ = S::kExtAfterVal;
        else goto bad_ext;
        break;
      case S::kExtQuoted:
        if (c == '"') state_ = S::kExtValEnd;
        else if (c == '\\') state_ = S::kExtQuotedPair;
        else if (!has(c, kQdtext)) goto bad_ext;
        break;
      case S::kExtQuotedPair:
        if (!has(c, kFieldByte)) goto bad_ext;
        state_ = S::kExtQuoted;
        break;

      case S::kSizeLf:
        if (c != '\n') return reject(kBareCr, "CR not followed by LF", i);
        line_bytes_ = 0;
        size_digits_ = 0;
        if (size_ == 0) {
          state_ = S::kTrailerStart;
        } else {
          remaining_ = size_;
          state_ = S::kData;
        }
        size_ = 0;
        break;

      case S::kData: {
        const size_t avail = len - i;
        const size_t n = remaining_ < avail ? static_cast<size_t>(remaining_) : avail;
        remaining_ -= n;
        if (remaining_ == 0) state_ = S::kDataCr;
        step.data_off = i;
        step.data_len = n;
        step.consumed = i + n;
        return step;
      }
      // RFC 9112 §7.1: chunk data is followed by exactly CRLF. Anything else
      // means the size lied, and guessing where the next chunk starts is how
      // smuggling through chunk sizes works.
      case S::kDataCr:
        if (c == '\r') state_ = S::kDataLf;
        else if (c == '\n') return reject(kBareLf, "bare LF after chunk data", i);
        else return reject(kChunkFraming, "chunk data not followed by CRLF", i);
        break;
      case S::kDataLf:
        if (c != '\n') return reject(kChunkFraming, "chunk data not followed by CRLF", i);
        state_ = S::kSize;
        break;

      // trailer-section = *( field-line CRLF ), RFC 9112 §7.1.2; validated
      // like header fields (§5), counted, discarded.
      case S::kTrailerStart:
        if (c == '\r') {
          state_ = S::kFinalLf;
          break;
        }
        if (c == '\n') return reject(kBareLf, "bare LF in trailer section", i);
        if (has(c, kOws)) return reject(kObsFold, "obsolete line folding in trailers", i);
        if (!has(c, kTchar)) return reject(kBadTrailer, "invalid trailer field name", i);
        state_ = S::kTrailerName;
        goto count_trailer;
      case S::kTrailerName:
        if (c == ':') state_ = S::kTrailerValue;
        else if (has(c, kOws)) return reject(kBadTrailer, "whitespace before colon", i);
        else if (!has(c, kTchar)) return reject(kBadTrailer, "invalid trailer field name", i);
        goto count_trailer;
      case S::kTrailerValue:
        if (c == '\r') state_ = S::kTrailerLf;
        else if (c == '\n') return reject(kBareLf, "bare LF in trailer section", i);
        else if (!has(c, kFieldByte)) return reject(kBadTrailer, "invalid trailer field value", i);
        goto count_trailer;
      case S::kTrailerLf:
        if (c != '\n') return reject(kBareCr, "CR not followed by LF", i);
        state_ = S::kTrailerStart;
        goto count_trailer;
      case S::kFinalLf:
        if (c != '\n') return reject(kBareCr, "CR not followed by LF", i);
        state_ = S::kDone;
        step.done = true;
        step.consumed = i + 1;
        return step;

      case S::kDone:
      case S::kError:
        break;  // handled before the loop
    }
    continue;

  count_trailer:
    if (++trailer_bytes_ > max_trailer_bytes_)
      return reject(kTrailersTooLarge, "trailer section too large", i);
    continue;

  bad_ext:
    if (c == '\n') return reject(kBareLf, "bare LF in chunked body", i);
    return reject(kChunkExtension, "invalid chunk extension", i);
  }
  step.consumed = len;
  return step;
}

}  // namespace farad::http1
