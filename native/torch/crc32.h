// CRC-32 as zip and zlib compute it (the reflected polynomial 0xEDB88320), fast: folding with carry-less
// multiplication where the CPU has it (VPCLMULQDQ on 512-bit registers, else PCLMULQDQ), eight table lookups per
// 8 bytes elsewhere.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lvm {

// The CRC of `size` bytes at `data` continuing from `crc` (0 to start), as zlib's crc32(crc, data, size).
uint32_t crc32(uint32_t crc, const void* data, size_t size);

}  // namespace lvm
