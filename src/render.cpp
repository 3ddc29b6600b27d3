#include "mnistnn/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <ostream>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/images.hpp"

#include "cairo_canvas.hpp"
#include "png_encoder.hpp"
#include "text.hpp"

namespace mnistnn {

namespace {

constexpr char kAsciiRamp[] = " .:-=+*#%@";
constexpr int kRampLevels = 10;

// xterm 256-colour greys: 16 is pure black, 231 pure white, and 232..255 a 24-step ramp
// from #080808 to #eeeeee. Exact black and white keep their exact colours; every other
// value v maps to 232 + round(v * 23 / 255), so the mapping is monotone in brightness.
int grey_colour(std::uint8_t v) {
    if (v == 0) return 16;
    if (v == 255) return 231;
    const int step = (v * 23 + 127) / 255;
    return 232 + std::clamp(step, 0, 23);
}

// ---- image files -----------------------------------------------------------------------

enum class Format { Png, Pgm };

Format format_for(const std::string& path) {
    const std::string ext = std::filesystem::path(path).extension().string();
    const std::string lower = ascii_lower(ext);
    if (lower == ".png") return Format::Png;
    if (lower == ".pgm") return Format::Pgm;
    throw UsageError("unsupported image format '" + (ext.empty() ? std::string("(none)") : ext) +
                     "': use .png or .pgm");
}

// Writes width×height pixels of `channels` bytes (1 grey, 3 RGB; PGM takes grey only).
void save(const std::string& path, Format format, int width, int height, int channels,
          const std::vector<std::uint8_t>& pixels) {
    std::string bytes;
    if (format == Format::Pgm) {
        bytes = "P5\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
        bytes.append(pixels.begin(), pixels.end());
    } else {
        bytes = encode_png(width, height, channels, pixels.data());
    }
    write_file_atomically(path, [&bytes](std::ostream& out) {
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    });
}

// ---- grid layout ---------------------------------------------------------------------

constexpr int kTileScale = 3;                            // each digit drawn 84×84
constexpr int kTileSide = kImageSide * kTileScale;
constexpr int kGap = 2;                                  // background between tiles
constexpr int kGridColumns = 10;
constexpr int kCaptionHeight = 18;                       // the strip under each tile
constexpr int kCaptionBaseline = 15;                     // from the top of the strip
constexpr double kCaptionSize = 17;                      // DejaVu Sans Bold, pixels (digits 12 px tall)
constexpr int kCellHeight = kTileSide + kCaptionHeight;
// Dark grey background so the black tiles stand out from each other and from the gaps.
constexpr std::uint8_t kBackground = 48;
struct Rgb {
    std::uint8_t r, g, b;
};
constexpr Rgb kCaptionRgb{255, 0, 0};       // PNG: red, unlike any digit pixel
constexpr Rgb kCaptionGrey{255, 255, 255};  // PGM: white on the dark background

// Draws "t→p" centred under the tile whose top-left corner is (x0, y0).
void draw_caption(const CairoCanvas& canvas, int x0, int y0, int truth, int predicted) {
    cairo_t* cr = canvas.cr();
    const std::string text = std::to_string(truth) + "\xE2\x86\x92" + std::to_string(predicted);  // U+2192 →
    const double width = text_advance(cr, text);
    cairo_move_to(cr, x0 + std::round((kTileSide - width) / 2), y0 + kTileSide + kCaptionBaseline);
    show_text(cr, text);
}

void check_digit(const LabelledDigit& d, std::size_t index) {
    if (d.pixels == nullptr) {
        throw UsageError("grid digit " + std::to_string(index) + " has no pixels");
    }
    if (d.truth < 0 || d.truth >= kClasses || d.predicted < 0 || d.predicted >= kClasses) {
        throw UsageError("grid digit " + std::to_string(index) + " has caption " +
                         std::to_string(d.truth) + "->" + std::to_string(d.predicted) +
                         ": both must be digits 0..9");
    }
}

}  // namespace

std::string render_ascii(const std::uint8_t* pixels) {
    std::string out;
    out.reserve(static_cast<std::size_t>(kImageSide * (kImageSide + 1)));
    for (int r = 0; r < kImageSide; ++r) {
        for (int c = 0; c < kImageSide; ++c) {
            const int v = pixels[r * kImageSide + c];
            out += kAsciiRamp[v * kRampLevels / 256];
        }
        out += '\n';
    }
    return out;
}

std::string render_halfblock(const std::uint8_t* pixels) {
    static constexpr const char* kUpperHalf = "\xE2\x96\x80";  // U+2580 ▀
    std::string out;
    for (int r = 0; r < kImageSide; r += 2) {
        // Colours are emitted only when they change; each line ends with a reset, so every
        // line starts from scratch and can be printed on its own.
        int fg = -1;
        int bg = -1;
        for (int c = 0; c < kImageSide; ++c) {
            const int top = grey_colour(pixels[r * kImageSide + c]);
            const int bottom = grey_colour(pixels[(r + 1) * kImageSide + c]);
            if (top != fg) {
                out += "\x1b[38;5;" + std::to_string(top) + "m";
                fg = top;
            }
            if (bottom != bg) {
                out += "\x1b[48;5;" + std::to_string(bottom) + "m";
                bg = bottom;
            }
            out += kUpperHalf;
        }
        out += "\x1b[0m\n";
    }
    return out;
}

void write_digit_image(const std::string& path, const std::uint8_t* pixels, int scale) {
    const Format format = format_for(path);
    // The upper bound only guards against absurd sizes (100× is already 2800×2800).
    constexpr int kMaxScale = 100;
    if (scale < 1 || scale > kMaxScale) {
        throw UsageError("image scale must be between 1 and " + std::to_string(kMaxScale) +
                         ", got " + std::to_string(scale));
    }
    if (pixels == nullptr) throw UsageError("no pixels to draw");
    const int side = kImageSide * scale;
    std::vector<std::uint8_t> image(static_cast<std::size_t>(side) * static_cast<std::size_t>(side));
    for (int y = 0; y < side; ++y) {
        for (int x = 0; x < side; ++x) {
            image[static_cast<std::size_t>(y * side + x)] = pixels[(y / scale) * kImageSide + x / scale];
        }
    }
    save(path, format, side, side, 1, image);
}

void write_digit_grid(const std::string& path, const std::vector<LabelledDigit>& digits) {
    const Format format = format_for(path);
    // 1000 digits is 100 rows, already a 862×10802 image; more is surely a caller's mistake.
    constexpr std::size_t kMaxDigits = 1000;
    if (digits.size() > kMaxDigits) {
        throw UsageError("cannot draw " + std::to_string(digits.size()) +
                         " digits in one grid (at most " + std::to_string(kMaxDigits) + ")");
    }
    for (std::size_t i = 0; i < digits.size(); ++i) check_digit(digits[i], i);

    // An empty list still yields a valid image (one blank cell) so callers that draw, say,
    // "all misclassified digits" need no special case when there are none.
    const int count = static_cast<int>(digits.size());
    const int columns = std::clamp(count, 1, kGridColumns);
    const int rows = std::max(1, (count + kGridColumns - 1) / kGridColumns);
    const int width = columns * kTileSide + (columns + 1) * kGap;
    const int height = rows * kCellHeight + (rows + 1) * kGap;

    const bool rgb = format == Format::Png;
    const FontFace font(true);
    CairoCanvas canvas(width, height, kBackground, kBackground, kBackground);
    const Rgb caption = rgb ? kCaptionRgb : kCaptionGrey;
    canvas.set_colour(caption.r, caption.g, caption.b);
    cairo_set_font_face(canvas.cr(), font.get());
    cairo_set_font_size(canvas.cr(), kCaptionSize);
    for (int i = 0; i < count; ++i) {
        const LabelledDigit& d = digits[static_cast<std::size_t>(i)];
        const int x = kGap + (i % kGridColumns) * (kTileSide + kGap);
        const int y = kGap + (i / kGridColumns) * (kCellHeight + kGap);
        canvas.put_grey_image(x, y, d.pixels, kImageSide, kTileScale);
        draw_caption(canvas, x, y, d.truth, d.predicted);
    }
    canvas.check();
    save(path, format, width, height, rgb ? 3 : 1, rgb ? canvas.rgb() : canvas.grey());
}

}  // namespace mnistnn
