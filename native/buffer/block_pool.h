// Fixed-size, reference-counted memory blocks with a free list (Netpoll's
// LinkBuffer nodes). A block is owned by whoever holds a reference: the
// LinkBuffer it was read into and, later, any view handed out of it. It goes
// back to the free list when the last reference is dropped. The pool keeps at
// most `max_free` idle blocks and frees the rest, so a burst does not pin
// memory for ever.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace farad {

struct Block {
  Block* next;        // chain in a LinkBuffer, or the free list
  uint32_t refs;
  uint32_t len;       // bytes written into data
  uint8_t data[1];    // block_size bytes follow (allocated with the header)
};

class BlockPool {
 public:
  explicit BlockPool(uint32_t block_size = 16384, uint32_t max_free = 256)
      : block_size_(block_size), max_free_(max_free) {}
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {
    while (free_) {
      Block* b = free_;
      free_ = b->next;
      std::free(b);
    }
  }

  uint32_t block_size() const { return block_size_; }
  // Bytes held by blocks that are in use (not on the free list).
  size_t bytes_in_use() const { return size_t(in_use_) * block_size_; }
  uint32_t blocks_in_use() const { return in_use_; }

  Block* acquire() {
    Block* b = free_;
    if (b) {
      free_ = b->next;
      --free_count_;
    } else {
      b = static_cast<Block*>(std::malloc(offsetof(Block, data) + block_size_));
      if (!b) throw std::bad_alloc();
    }
    b->next = nullptr;
    b->refs = 1;
    b->len = 0;
    ++in_use_;
    return b;
  }

  void retain(Block* b) { ++b->refs; }

  void release(Block* b) {
    if (--b->refs != 0) return;
    --in_use_;
    if (free_count_ < max_free_) {
      b->next = free_;
      free_ = b;
      ++free_count_;
    } else {
      std::free(b);
    }
  }

 private:
  uint32_t block_size_;
  uint32_t max_free_;
  Block* free_ = nullptr;
  uint32_t free_count_ = 0;
  uint32_t in_use_ = 0;
};

}  // namespace farad
