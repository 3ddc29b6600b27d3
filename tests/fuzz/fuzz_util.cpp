#include "fuzz_util.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace mnistnn::fuzz {

const std::string& write_scratch(const std::uint8_t* data, std::size_t size, const char* suffix) {
    static const std::string path = [suffix] {
        const char* dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
        return std::string(dir) + "/mnistnn-fuzz-" + std::to_string(::getpid()) + suffix;
    }();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path;
}

}  // namespace mnistnn::fuzz
