#pragma once
// Image files → one grey plane: PNG (libspng), JPEG (libjpeg-turbo) and PGM/PPM (P2, P3, P5, P6),
// any size up to a pixel limit, grey, RGB, RGBA or palette, 8- or 16-bit. Colour is reduced to
// luminance (Rec. 601: 0.299 R + 0.587 G + 0.114 B) and alpha is composited onto white, so the
// result is what the picture looks like on white paper. Decoding only: no normalisation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mnistnn {

// Row-major luminance, 0 = black … 255 = white.
struct GreyImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;  // width × height

    std::uint8_t at(int x, int y) const {
        return pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)];
    }
};

struct DecodeOptions {
    // Refuse images whose header claims more pixels (width × height) than this, before any
    // pixel memory is allocated.
    std::uint64_t max_pixels = 50'000'000;
    // JPEG only: decode at 1/2, 1/4 or 1/8 scale (libjpeg-turbo's DCT scaling, an anti-aliased
    // reduction) while the shorter side stays at least this long. 0: always full size.
    int min_side = 0;
};

enum class ImageFormat { Png, Jpeg, Pnm, Unknown };

// The format the first bytes announce (PNG signature, JPEG SOI marker, "P2"/"P3"/"P5"/"P6").
ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size);

// Decodes a whole image file held in memory. `name` is used in error messages. Throws ImageError
// (include/mnistnn/digit_image.hpp) for anything but a complete, valid image within the limit;
// never returns a partly decoded picture.
GreyImage decode_image(const std::uint8_t* data, std::size_t size, const std::string& name,
                       const DecodeOptions& options = {});

}  // namespace mnistnn
