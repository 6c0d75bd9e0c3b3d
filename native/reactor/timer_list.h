// Deadlines for one fixed timeout (say, keep-alive idle). Every entry in a
// list has the same duration, so appending at the tail keeps the list sorted
// by deadline: arming, re-arming and cancelling are O(1), and expiry only
// looks at the head. This is the timer wheel's job done with less machinery
// for the case HTTP servers have, a handful of fixed durations.
#pragma once
#include <cstdint>

namespace farad {

struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  int64_t deadline_ms = 0;
  uint8_t list = 0;  // which TimerList holds it; 0 = none
};

class TimerList {
 public:
  TimerList(uint8_t id, uint32_t duration_ms) : id_(id), duration_ms_(duration_ms) {}
  uint8_t id() const { return id_; }
  uint32_t duration_ms() const { return duration_ms_; }
  void set_duration(uint32_t ms) { duration_ms_ = ms; }
  bool empty() const { return head_ == nullptr; }
  const TimerNode* front() const { return head_; }

  void arm(TimerNode* n, int64_t now_ms) {
    if (n->list) return;  // caller unlinks from any other list first
    n->deadline_ms = now_ms + duration_ms_;
    n->list = id_;
    n->next = nullptr;
    n->prev = tail_;
    if (tail_) tail_->next = n; else head_ = n;
    tail_ = n;
  }

  void unlink(TimerNode* n) {
    if (n->list != id_) return;
    if (n->prev) n->prev->next = n->next; else head_ = n->next;
    if (n->next) n->next->prev = n->prev; else tail_ = n->prev;
    n->prev = n->next = nullptr;
    n->list = 0;
  }

  // Removes and returns the first expired entry, or nullptr.
  TimerNode* pop_expired(int64_t now_ms) {
    TimerNode* n = head_;
    if (!n || n->deadline_ms > now_ms) return nullptr;
    unlink(n);
    return n;
  }

 private:
  uint8_t id_;
  uint32_t duration_ms_;
  TimerNode* head_ = nullptr;
  TimerNode* tail_ = nullptr;
};

}  // namespace farad
