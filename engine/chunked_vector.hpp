// chunked_vector: a growing array in fixed chunks that never move.
//
// For the large append-only tables of an owner (stored transfers, their history links): a
// std::vector that doubles copies every element and holds the old and the new array at once
// (three times the live size at the peak, and every page of the new one cleared by the
// kernel), where this allocates one chunk at a time and never copies. Indexing is a shift
// and a mask. Not thread-safe: it has one owner, like every piece of engine state.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/assert.hpp"

namespace remit {

template <class T, std::size_t ChunkBits = 14>
class chunked_vector {
 public:
  static constexpr std::size_t chunk_size = std::size_t{1} << ChunkBits;

  chunked_vector() = default;
  // A copy holds the elements in chunks of its own (an owner that is copied whole, as tests
  // copy a reference ledger, gets state it can change alone).
  chunked_vector(const chunked_vector& other) : size_(other.size_) {
    chunks_.reserve(other.chunks_.size());
    for (std::size_t c = 0; c * chunk_size < size_; ++c) {
      chunks_.push_back(std::make_unique<T[]>(chunk_size));
      const std::size_t n = std::min(chunk_size, size_ - c * chunk_size);
      std::copy_n(other.chunks_[c].get(), n, chunks_[c].get());
    }
  }
  chunked_vector& operator=(const chunked_vector& other) {
    if (this != &other) *this = chunked_vector(other);
    return *this;
  }
  chunked_vector(chunked_vector&&) noexcept = default;
  chunked_vector& operator=(chunked_vector&&) noexcept = default;
  ~chunked_vector() = default;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](std::size_t i) {
    REMIT_ASSERT(i < size_);
    return chunks_[i >> ChunkBits][i & (chunk_size - 1)];
  }
  const T& operator[](std::size_t i) const {
    return const_cast<chunked_vector*>(this)->operator[](i);
  }

  T& push_back(const T& v) {
    T& slot = grow();
    slot = v;
    return slot;
  }
  // Appends a value-initialized element.
  T& emplace_back() { return grow(); }

  // Removes the last element. Its slot is value-initialized again, because a later append
  // reuses it and emplace_back promises a fresh element; the chunk stays allocated (an
  // owner that pops, as a rolled-back chain does, usually grows again right away).
  void pop_back() {
    REMIT_ASSERT(size_ > 0);
    (*this)[size_ - 1] = T{};
    --size_;
  }

 private:
  T& grow() {
    const std::size_t c = size_ >> ChunkBits;
    if (c == chunks_.size()) chunks_.push_back(std::make_unique<T[]>(chunk_size));
    return chunks_[c][size_++ & (chunk_size - 1)];
  }

  std::vector<std::unique_ptr<T[]>> chunks_;
  std::size_t size_ = 0;
};

}  // namespace remit
