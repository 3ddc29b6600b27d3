#pragma once
// A person's picture of a digit → one MNIST-style 28×28 sample (background 0, ink 255):
// decode (PNG, JPEG, PGM/PPM), composite alpha onto white, decide polarity, crop the ink,
// fit its longest side to 20 px by area averaging, centre its mass at (14, 14).
// Interface agreed between the image (predict FILE) and serve work; the implementation lives
// in src/digit_image.cpp.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "mnistnn/error.hpp"
#include "mnistnn/images.hpp"

namespace mnistnn {

// A picture that cannot be used: not an image, truncated or corrupt, zero-size, over the pixel
// limit, a decompression bomb, or blank ("no ink found"). The message names the source.
class ImageError : public Error {
public:
    using Error::Error;
};

enum class Invert { Auto, Yes, No };  // Auto: dark ink on a light background is inverted

struct DigitImageOptions {
    Invert invert = Invert::Auto;
    std::uint64_t max_pixels = 50'000'000;  // refuse images whose header claims more (width × height)
};

// One normalised sample, row-major 28×28, as a row of Images::pixels.
using DigitPixels = std::array<std::uint8_t, kPixels>;

// Decodes `size` bytes of an image file held in memory and normalises it. `name` (a file name,
// "-" or "request body") is used in error messages. Throws ImageError.
DigitPixels normalize_digit_image(const std::uint8_t* data, std::size_t size, const std::string& name,
                                  const DigitImageOptions& options = {});

// Reads the file at `path` (IoError if it cannot be read) and normalises it.
DigitPixels load_digit_image(const std::string& path, const DigitImageOptions& options = {});

}  // namespace mnistnn
