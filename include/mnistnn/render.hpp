#pragma once
// Drawing digits: in the terminal (ASCII or 256-colour half blocks) and to PNG/PGM files.
// Part of the mnistnn_render library.
#include <cstdint>
#include <string>
#include <vector>

namespace mnistnn {

// 28 lines of 28 characters (plus '\n'), darker glyphs for brighter pixels: " .:-=+*#%@".
std::string render_ascii(const std::uint8_t* pixels);

// 14 lines of 28 cells using the upper half block U+2580: foreground = top pixel row,
// background = bottom pixel row, 256-colour grey ramp (16 black, 232..255 greys, 231 white).
// Each line ends with a reset (ESC[0m) and '\n'.
std::string render_halfblock(const std::uint8_t* pixels);

// Writes one digit (784 bytes, 0 = black) scaled up `scale` times, as PNG or binary PGM
// chosen by the extension (.png / .pgm, case-insensitive); anything else is a UsageError.
// Written atomically.
void write_digit_image(const std::string& path, const std::uint8_t* pixels, int scale = 8);

struct LabelledDigit {
    const std::uint8_t* pixels = nullptr;  // 784 bytes
    int truth = 0;
    int predicted = 0;
};

// A grid of digits, each with a caption "t→p" drawn under it (DejaVu Sans Bold, anti-aliased, by
// cairo: red in a PNG, white in a PGM); PNG or PGM by extension. Throws Error if the font is not
// installed.
void write_digit_grid(const std::string& path, const std::vector<LabelledDigit>& digits);

}  // namespace mnistnn
