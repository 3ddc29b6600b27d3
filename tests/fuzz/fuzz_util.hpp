#pragma once
// The parsers read files by path, so each fuzz input is written to one scratch file first.
#include <cstddef>
#include <cstdint>
#include <string>

namespace mnistnn::fuzz {

// Writes data to a per-process scratch file in /dev/shm (or /tmp) and returns its path.
const std::string& write_scratch(const std::uint8_t* data, std::size_t size, const char* suffix);

}  // namespace mnistnn::fuzz
