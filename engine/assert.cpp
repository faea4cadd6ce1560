#include "engine/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace remit::detail {

void assertion_failed(const char* expr, const char* file, int line) noexcept {
  std::fprintf(stderr, "remit: assertion failed: %s (%s:%d)\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace remit::detail
