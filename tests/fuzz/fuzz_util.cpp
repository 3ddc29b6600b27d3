#include "fuzz_util.hpp"

#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace mnistnn::fuzz {
namespace {

// Every scratch file this process made, removed at a normal exit (a crash keeps them).
std::set<std::string>& scratch_files() {
    static std::set<std::string> files;
    return files;
}

void remove_scratch_files() {
    for (const std::string& path : scratch_files()) std::remove(path.c_str());
}

std::string scratch_path(const std::string& name) {
    static const std::string dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string path = dir + "/mnistnn-fuzz-" + std::to_string(::getpid()) + "-" + name;
    if (scratch_files().insert(path).second && scratch_files().size() == 1) std::atexit(remove_scratch_files);
    return path;
}

}  // namespace

std::string write_scratch(const void* data, std::size_t size, const std::string& name) {
    const std::string path = scratch_path(name);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    if (std::fclose(f) != 0) std::abort();
    return path;
}

std::string write_scratch_gz(const void* data, std::size_t size, const std::string& name) {
    const std::string path = scratch_path(name);
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && gzwrite(f, data, static_cast<unsigned>(size)) != static_cast<int>(size)) std::abort();
    if (gzclose(f) != Z_OK) std::abort();
    return path;
}

void dump_if_asked(const std::string& path) {
    const char* dir = std::getenv("MNISTNN_FUZZ_DUMP");
    if (dir == nullptr || *dir == '\0') return;
    std::error_code ec;
    std::filesystem::copy_file(path, std::filesystem::path(dir) / std::filesystem::path(path).filename(),
                               std::filesystem::copy_options::overwrite_existing, ec);
}

}  // namespace mnistnn::fuzz
