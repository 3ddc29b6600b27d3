#pragma once
// PNG encoding through stb_image_write (a Debian library), for render.cpp and plot.cpp.
#include <cstdint>
#include <string>

namespace mnistnn {

// The PNG file bytes for a width×height image with 1 (grey) or 3 (RGB) channels, rows top to
// bottom, no padding. Throws Error if encoding fails.
std::string encode_png(int width, int height, int channels, const std::uint8_t* pixels);

}  // namespace mnistnn
