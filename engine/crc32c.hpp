// CRC-32C (Castagnoli), with the SSE4.2 instruction. Used by the journal and the wire.
// Does not allocate.
#pragma once

#include <cstddef>
#include <cstdint>

namespace remit {

// Continues a CRC over more bytes: crc32c(crc32c(0, a), b) == crc32c(0, a || b).
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size);

inline std::uint32_t crc32c(const void* data, std::size_t size) {
  return crc32c(0, data, size);
}

}  // namespace remit
