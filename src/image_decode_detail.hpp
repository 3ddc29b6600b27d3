#pragma once
// Shared by the decoders in src/image_decode.cpp and src/pnm_decode.cpp (not a public header).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "mnistnn/image_decode.hpp"

namespace mnistnn::detail {

// Rec. 601 luma of an RGB triple, in the triple's own units.
inline double luminance(double r, double g, double b) { return 0.299 * r + 0.587 * g + 0.114 * b; }

// Grey level y ∈ [0, 1] with opacity a ∈ [0, 1] over white paper, as a byte (0 black … 255 white).
inline std::uint8_t composite_on_white(double y, double a) {
    const double v = (y * a + (1.0 - a)) * 255.0;
    return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

// Throws ImageError for a zero-size image or one over max_pixels (names the file and format).
void check_dimensions(std::uint64_t width, std::uint64_t height, const std::string& name, const char* format,
                      std::uint64_t max_pixels);

// PGM/PPM, plain (P2, P3) or raw (P5, P6), maxval 1 … 65535.
GreyImage decode_pnm(const std::uint8_t* data, std::size_t size, const std::string& name,
                     const DecodeOptions& options);

}  // namespace mnistnn::detail
