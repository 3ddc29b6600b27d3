#pragma once
// Crash-safe file replacement: write a temporary file beside the target, fsync, rename.
#include <functional>
#include <iosfwd>
#include <string>

namespace mnistnn {

// Calls `write` with a stream on a temporary file in the target's directory, flushes and
// fsyncs it, then renames it over `path` and fsyncs the directory. If `write` throws or any
// step fails, the temporary file is removed and an existing `path` is left untouched.
// Throws IoError naming the path (e.g. the folder does not exist or is not writable).
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace mnistnn
