// id_map: an open-addressing hash map from a u128 id to a small value.
//
// Design: linear probing over a power-of-two table, kept at most 7/8 full; id 0 marks an
// empty slot (0 is never a valid account, transfer or pending id, docs/PROTOCOL.md section 4).
// Erase shifts the following cluster back, so there are no tombstones and lookups never
// slow down after many erases. Lookups and inserts do not allocate except when the table
// grows. Not thread-safe: it has one owner, like every piece of engine state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/assert.hpp"
#include "engine/types.hpp"

namespace remit {

inline std::uint64_t hash_id(u128 id) {
  // Fold the halves, then a 64-bit finalizer (from splitmix64): ids that differ in any bit
  // spread over the whole table, sequential ids included.
  std::uint64_t x = u128_lo(id) ^ (u128_hi(id) * 0x9e3779b97f4a7c15ull);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

template <class V>
class id_map {
 public:
  id_map() { rehash(16); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap - cap / 8 < n) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
  }

  V* find(u128 id) {
    REMIT_ASSERT(id != 0);
    for (std::size_t i = index(id);; i = (i + 1) & mask_) {
      if (slots_[i].key == id) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
  }
  const V* find(u128 id) const { return const_cast<id_map*>(this)->find(id); }
  // The value of an id that must be present (asserted).
  V& at(u128 id) {
    V* v = find(id);
    REMIT_ASSERT(v != nullptr);
    return *v;
  }
  const V& at(u128 id) const { return const_cast<id_map*>(this)->at(id); }
  bool contains(u128 id) const { return find(id) != nullptr; }

  // Inserts id -> value; returns false (and changes nothing) if id is present.
  bool insert(u128 id, V value) {
    REMIT_ASSERT(id != 0);
    if (size_ + 1 > slots_.size() - slots_.size() / 8) rehash(slots_.size() * 2);
    for (std::size_t i = index(id);; i = (i + 1) & mask_) {
      if (slots_[i].key == id) return false;
      if (slots_[i].key == 0) {
        slots_[i].key = id;
        slots_[i].value = std::move(value);
        ++size_;
        return true;
      }
    }
  }

  // Returns the value for id, inserting a default one first if absent.
  V& operator[](u128 id) {
    if (V* v = find(id)) return *v;
    insert(id, V{});
    return *find(id);
  }

  bool erase(u128 id) {
    REMIT_ASSERT(id != 0);
    std::size_t i = index(id);
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].key == 0) return false;
      if (slots_[i].key == id) break;
    }
    // Backward-shift deletion: move later members of the cluster into the hole when their
    // home slot does not lie cyclically in (hole, j].
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask_; slots_[j].key != 0; j = (j + 1) & mask_) {
      const std::size_t home = index(slots_[j].key);
      const bool home_in_range =
          hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!home_in_range) {
        slots_[hole] = std::move(slots_[j]);
        hole = j;
      }
    }
    slots_[hole].key = 0;
    slots_[hole].value = V{};
    --size_;
    return true;
  }

  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : slots_)
      if (s.key != 0) f(s.key, s.value);
  }

  void clear() {
    slots_.clear();
    size_ = 0;
    rehash(16);
  }

  // Empties the map but keeps its table, for maps refilled to a similar size again and
  // again (no allocation, no regrowth).
  void reset() {
    for (auto& s : slots_) s = slot{};
    size_ = 0;
  }

  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(slot); }

 private:
  struct slot {
    u128 key = 0;
    V value{};
  };

  std::size_t index(u128 id) const { return hash_id(id) & mask_; }

  void rehash(std::size_t capacity) {
    REMIT_ASSERT((capacity & (capacity - 1)) == 0);
    REMIT_ASSERT(capacity > size_);
    std::vector<slot> old = std::move(slots_);
    slots_.assign(capacity, slot{});
    mask_ = capacity - 1;
    for (auto& s : old) {
      if (s.key == 0) continue;
      std::size_t i = index(s.key);
      while (slots_[i].key != 0) i = (i + 1) & mask_;
      slots_[i] = std::move(s);
    }
  }

  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace remit
