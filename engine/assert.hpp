// Assertions that guard invariants. They stay on in release builds: a broken invariant in a
// payment engine must stop it, never be carried on with. Client errors are result codes,
// never assertions.
#pragma once

namespace remit::detail {
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line) noexcept;
}  // namespace remit::detail

#define REMIT_ASSERT(expr)                                          \
  do {                                                              \
    if (!(expr)) [[unlikely]]                                       \
      ::remit::detail::assertion_failed(#expr, __FILE__, __LINE__); \
  } while (false)
