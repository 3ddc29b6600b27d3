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
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/image_decode.hpp"
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
    std::uint64_t max_file_bytes = 512ull << 20;  // load_digit_image refuses larger files
    // Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale while the shorter side stays ≥ this.
    int decode_min_side = 256;
};

// One normalised sample, row-major 28×28, as a row of Images::pixels.
using DigitPixels = std::array<std::uint8_t, kPixels>;

// Decodes `size` bytes of an image file held in memory and normalises it. `name` (a file name,
// "-" or "request body") is used in error messages. Throws ImageError.
DigitPixels normalize_digit_image(const std::uint8_t* data, std::size_t size, const std::string& name,
                                  const DigitImageOptions& options = {});

// Reads the file at `path` (IoError if it cannot be read) and normalises it.
DigitPixels load_digit_image(const std::string& path, const DigitImageOptions& options = {});

// ---- The normalisation steps, each usable (and tested) on its own ------------------------------

constexpr int kDigitBox = 20;  // the ink's longest side in the 28×28 field
// Ink below this fraction of the ink's range (background → strongest ink) is paper noise: it is
// cleared and does not count for the bounding box.
constexpr float kNoiseFloor = 0.12f;
// The box that is fitted to 20 pixels holds the ink at least this strong (half the range): the
// stroke's edge, as in MNIST, whose digits measure exactly 20 pixels at any threshold up to half.
// Fainter ink outside it (anti-aliasing, blur) is kept around the box, not counted in its size.
constexpr float kBoxInk = 127.5f;
// A picture whose ink is weaker than this (in grey levels, of 255) has no ink.
constexpr int kMinContrast = 24;

// How grey levels map to ink, decided once per picture.
struct InkLevels {
    bool inverted = false;     // dark ink on a light background
    int background = 0;        // median grey level of the picture's border
    std::array<float, 256> ink{};  // grey level → ink in [0, 255]: background 0, strongest ink 255
};

// Polarity: dark ink on a light background, judged by the border's median grey level: it is a
// light background when that level is nearer the picture's lightest level than its darkest.
bool dark_ink_on_light(const GreyImage& image);

// Decides polarity (`invert`, or dark_ink_on_light for Auto) and levels: background (the border's
// median) → 0, strongest ink → 255, linear in between, with the bottom kNoiseFloor of that range
// cleared. Throws ImageError "no ink found" when the ink's range is under kMinContrast.
InkLevels ink_levels(const GreyImage& image, Invert invert, const std::string& name);

// Half-open box [x, x + width) × [y, y + height) in pixels.
struct InkBox {
    int x = 0;
    int y = 0;
    int width = 0;
    int height = 0;
};

// The smallest box holding every pixel with ink > min_ink (after levels). width = height = 0 when none.
InkBox ink_bounding_box(const GreyImage& image, const InkLevels& levels, float min_ink = 0.0f);

// A small float picture of ink values (0 … 255), row-major.
struct InkImage {
    int width = 0;
    int height = 0;
    std::vector<float> ink;

    float at(int x, int y) const { return ink[static_cast<std::size_t>(y * width + x)]; }
};

// Area averaging of the picture's ink onto a width×height grid of pixels `scale` source pixels
// wide, whose top-left corner is at source position (x, y): output pixel (i, j) is the mean ink
// over the source area [x + i·scale, x + (i+1)·scale) × [y + j·scale, y + (j+1)·scale), partly
// covered source pixels weighted by the covered fraction, outside the picture 0. The position is
// continuous: a sub-pixel shift is part of the one resampling.
struct Resampling {
    double scale = 1.0;  // source pixels per output pixel, the same on both axes (aspect kept)
    double x = 0.0;
    double y = 0.0;
    int width = 0;
    int height = 0;
};
InkImage area_resample(const GreyImage& image, const InkLevels& levels, const Resampling& r);

// The box fitted so its longer side is `side` pixels: area_resample from the box's corner with scale
// s = max(box.width, box.height) / side, output ⌈box.width / s⌉ × ⌈box.height / s⌉.
InkImage fit_ink(const GreyImage& image, const InkLevels& levels, const InkBox& box, int side = kDigitBox);

// Centre of mass (x, y) in pixel indices: (Σ x·v / Σ v, Σ y·v / Σ v). (0, 0) for an image with no ink.
std::array<double, 2> centre_of_mass(const InkImage& image);

// The 28×28 field resampled at r's scale, from r's position moved until the field's centre of mass
// is at (14, 14) within 0.01 px: each correction moves it by the residual, up to four times (two or
// three reach 0.01 px). r.width and r.height must be 28.
InkImage centred_field(const GreyImage& image, const InkLevels& levels, Resampling r);

// A 28×28 field as a sample: the strongest ink scaled to 255, values rounded (all 0 when it has no ink).
DigitPixels field_pixels(const InkImage& field);

// The box fitted to 20 pixels (scale as fit_ink) and placed in the 28×28 field with its centre of
// mass at (14, 14), ink around the box included: the picture is resampled at the sub-pixel
// position that puts it there (found from fit_ink's centre of mass, then corrected until the
// field's is within 0.01 px), so the fraction is neither rounded away nor blurred by a second
// resampling. Then the strongest ink is scaled to 255 and values are rounded. Ink beyond the
// field's edge is lost.
DigitPixels centre_in_field(const GreyImage& image, const InkLevels& levels, const InkBox& box);

// Every step after decoding: a picture of exactly 28×28 is taken as an MNIST sample already and
// only its polarity is applied (so MNIST's own digits round-trip exactly); any other size is
// levelled (ink_levels), boxed (ink_bounding_box at kBoxInk), fitted and centred (centre_in_field). Throws ImageError "no ink found" for a blank picture.
DigitPixels normalize_grey_image(const GreyImage& image, const std::string& name, const DigitImageOptions& options = {});

}  // namespace mnistnn
