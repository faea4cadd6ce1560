// A counting hook on the global operator new, linked into remit-load and the engine
// benchmark (not into remitd, nor into sanitizer builds, which bring allocators of their
// own). Every C++ allocation of the process (CAF's messages and actors, remit's vectors)
// counts one; malloc itself (mimalloc in these executables) does the work.
//
// The count is striped over cache lines by thread, so that two threads allocating at once
// do not share a line; remit_allocations() sums the stripes. Readers find it through a weak
// declaration: where this file is not linked, remit_allocations is null and nothing counts.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t stripes = 16;
struct alignas(64) stripe {
  std::atomic<std::uint64_t> n{0};
};
stripe counts[stripes];
std::atomic<std::size_t> next_stripe{0};

void counted() noexcept {
  thread_local const std::size_t mine =
      next_stripe.fetch_add(1, std::memory_order_relaxed) % stripes;
  counts[mine].n.fetch_add(1, std::memory_order_relaxed);
}

void* allocate(std::size_t n) {
  counted();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

void* allocate_aligned(std::size_t n, std::align_val_t al) {
  counted();
  const std::size_t a = static_cast<std::size_t>(al);
  const std::size_t size = (n + a - 1) / a * a;  // aligned_alloc wants a multiple
  if (void* p = std::aligned_alloc(a, size == 0 ? a : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

extern "C" std::uint64_t remit_allocations() {
  std::uint64_t sum = 0;
  for (const stripe& s : counts) sum += s.n.load(std::memory_order_relaxed);
  return sum;
}

void* operator new(std::size_t n) {
  return allocate(n);
}
void* operator new[](std::size_t n) {
  return allocate(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_aligned(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
