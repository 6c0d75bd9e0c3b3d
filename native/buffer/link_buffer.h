// A byte queue over a chain of pooled blocks: the reactor reads into the
// tail's free space (reserve/commit, no copy), the parser reads from the head
// (peek/next/skip, no copy), and fully consumed blocks go back to the pool at
// once. Only the head block may be partly consumed and only the tail partly
// filled.
#pragma once
#include <sys/uio.h>
#include <cstring>
#include "buffer/block_pool.h"

namespace farad {

class LinkBuffer {
 public:
  explicit LinkBuffer(BlockPool* pool) : pool_(pool) {}
  LinkBuffer(const LinkBuffer&) = delete;
  LinkBuffer& operator=(const LinkBuffer&) = delete;
  ~LinkBuffer() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Blocks this buffer holds (for memory accounting).
  uint32_t blocks() const { return blocks_; }

  // Fills up to `max_iov` iovecs with writable space: the tail's free part,
  // then fresh blocks, `want` bytes at least. commit(n) makes n of them
  // readable; blocks left unused are returned by commit.
  int reserve(struct iovec* iov, int max_iov, size_t want) {
    int n = 0;
    size_t got = 0;
    const uint32_t bs = pool_->block_size();
    if (tail_ && tail_->len < bs) {
      iov[n].iov_base = tail_->data + tail_->len;
      iov[n].iov_len = bs - tail_->len;
      got += iov[n].iov_len;
      ++n;
    }
    while (got < want && n < max_iov) {
      Block* b = pool_->acquire();
      spare_[spare_count_++] = b;
      iov[n].iov_base = b->data;
      iov[n].iov_len = bs;
      got += bs;
      ++n;
    }
    return n;
  }

  void commit(size_t n) {
    const uint32_t bs = pool_->block_size();
    if (tail_ && tail_->len < bs) {
      size_t room = bs - tail_->len;
      size_t k = n < room ? n : room;
      tail_->len += uint32_t(k);
      size_ += k;
      n -= k;
    }
    int used = 0;
    for (; used < spare_count_ && n > 0; ++used) {
      Block* b = spare_[used];
      size_t k = n < bs ? n : bs;
      b->len = uint32_t(k);
      append_block(b);
      size_ += k;
      n -= k;
    }
    for (int i = used; i < spare_count_; ++i) pool_->release(spare_[i]);
    spare_count_ = 0;
  }

  // Copies bytes in (used for data that did not come from a read).
  void append(const uint8_t* p, size_t n) {
    while (n > 0) {
      struct iovec iov[1];
      reserve(iov, 1, 1);
      size_t k = n < iov[0].iov_len ? n : iov[0].iov_len;
      std::memcpy(iov[0].iov_base, p, k);
      commit(k);
      p += k;
      n -= k;
    }
  }

  // The readable bytes of the head block (a contiguous piece of the queue).
  const uint8_t* peek(size_t* len) const {
    if (!head_) {
      *len = 0;
      return nullptr;
    }
    *len = head_->len - rpos_;
    return head_->data + rpos_;
  }

  // Walks the chain without consuming: call with *it == nullptr to start;
  // returns the next contiguous piece, or nullptr at the end.
  const uint8_t* next(const Block** it, size_t* len) const {
    const Block* b = *it ? (*it)->next : head_;
    *it = b;
    if (!b) {
      *len = 0;
      return nullptr;
    }
    size_t start = b == head_ ? rpos_ : 0;
    *len = b->len - start;
    return b->data + start;
  }

  // Copies n bytes from the front into dst without consuming them.
  void copy_out(uint8_t* dst, size_t n) const {
    const Block* it = nullptr;
    size_t len;
    while (n > 0) {
      const uint8_t* p = next(&it, &len);
      size_t k = n < len ? n : len;
      std::memcpy(dst, p, k);
      dst += k;
      n -= k;
    }
  }

  // Consumes n bytes (n <= size()).
  void skip(size_t n) {
    size_ -= n;
    while (n > 0) {
      size_t avail = head_->len - rpos_;
      if (n < avail) {
        rpos_ += uint32_t(n);
        return;
      }
      n -= avail;
      pop_head();
    }
    // An empty buffer keeps no block: idle connections hold no memory.
    if (size_ == 0 && head_) pop_head();
  }

  void clear() {
    while (head_) pop_head();
    size_ = 0;
  }

 private:
  void append_block(Block* b) {
    b->next = nullptr;
    if (tail_) tail_->next = b; else head_ = b;
    tail_ = b;
    ++blocks_;
  }
  void pop_head() {
    Block* b = head_;
    head_ = b->next;
    if (!head_) tail_ = nullptr;
    rpos_ = 0;
    --blocks_;
    pool_->release(b);
  }

  BlockPool* pool_;
  Block* head_ = nullptr;
  Block* tail_ = nullptr;
  uint32_t rpos_ = 0;
  uint32_t blocks_ = 0;
  size_t size_ = 0;
  Block* spare_[16];
  int spare_count_ = 0;
};

}  // namespace farad
