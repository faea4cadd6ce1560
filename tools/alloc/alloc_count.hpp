// Reads the counting hook of alloc_count.cpp where it is linked in.
#pragma once

#include <cstdint>
#include <optional>

extern "C" std::uint64_t remit_allocations() __attribute__((weak));

namespace remit {

// C++ heap allocations of the process so far, or nothing when the hook is not linked in
// (sanitizer builds, remitd).
inline std::optional<std::uint64_t> allocations_so_far() {
  if (remit_allocations == nullptr) return std::nullopt;
  return remit_allocations();
}

}  // namespace remit
