#include "png_encoder.hpp"

#include "mnistnn/error.hpp"

// stb_image_write is third-party code: compile its implementation here only, with static
// linkage (so it cannot clash with another copy, e.g. Debian's libstb), and without our
// warning flags.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace mnistnn {
namespace {

void append_bytes(void* context, void* bytes, int size) {
    auto* out = static_cast<std::string*>(context);
    out->append(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
}

}  // namespace

std::string encode_png(int width, int height, int channels, const std::uint8_t* pixels) {
    std::string out;
    if (stbi_write_png_to_func(append_bytes, &out, width, height, channels, pixels, width * channels) == 0) {
        throw Error("could not encode a " + std::to_string(width) + "x" + std::to_string(height) + " PNG image");
    }
    return out;
}

}  // namespace mnistnn
