#pragma once
// The parsers read files by path, so each fuzz input is written to a scratch file first.
#include <cstddef>
#include <cstdint>
#include <string>

namespace mnistnn::fuzz {

// Writes data to a per-process scratch file named `name` in /dev/shm (or /tmp) and returns its
// path. The same name always gives the same path, so one process reuses a few files.
std::string write_scratch(const void* data, std::size_t size, const std::string& name);

// The same, gzip-compressed (as `gzip` would write it).
std::string write_scratch_gz(const void* data, std::size_t size, const std::string& name);

// When MNISTNN_FUZZ_DUMP names a folder, copies the scratch file there (under its base name)
// so a crashing input can be kept as the exact file the parser saw, for a regression test.
void dump_if_asked(const std::string& path);

}  // namespace mnistnn::fuzz
