#include "mnistnn/render.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <ostream>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/images.hpp"

#include "png_encoder.hpp"

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

// ---- raster images -------------------------------------------------------------------

enum class Format { Png, Pgm };

struct Rgb {
    std::uint8_t r, g, b;
};

// Row-major raster with 1 (grey) or 3 (RGB) bytes per pixel.
struct Canvas {
    int width = 0;
    int height = 0;
    int channels = 1;
    std::vector<std::uint8_t> data;

    Canvas(int w, int h, int ch, Rgb fill) : width(w), height(h), channels(ch) {
        data.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) *
                    static_cast<std::size_t>(ch));
        for (int y = 0; y < h; ++y) {
            for (int x = 0; x < w; ++x) set(x, y, fill);
        }
    }

    void set(int x, int y, Rgb c) {
        const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                                static_cast<std::size_t>(x)) *
                               static_cast<std::size_t>(channels);
        if (channels == 1) {
            // Luma (BT.601), used only for the grey rendering of coloured captions.
            data[at] = static_cast<std::uint8_t>((299 * c.r + 587 * c.g + 114 * c.b + 500) / 1000);
        } else {
            data[at] = c.r;
            data[at + 1] = c.g;
            data[at + 2] = c.b;
        }
    }

    void fill_rect(int x0, int y0, int w, int h, Rgb c) {
        for (int y = y0; y < y0 + h; ++y) {
            for (int x = x0; x < x0 + w; ++x) set(x, y, c);
        }
    }

    // Draws a 28×28 digit with its top-left corner at (x0, y0), each pixel scale×scale.
    void draw_digit(int x0, int y0, const std::uint8_t* pixels, int scale) {
        for (int r = 0; r < kImageSide; ++r) {
            for (int c = 0; c < kImageSide; ++c) {
                const std::uint8_t v = pixels[r * kImageSide + c];
                fill_rect(x0 + c * scale, y0 + r * scale, scale, scale, Rgb{v, v, v});
            }
        }
    }
};

Format format_for(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::string lower = ext;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (lower == ".png") return Format::Png;
    if (lower == ".pgm") return Format::Pgm;
    throw UsageError("unsupported image format '" + (ext.empty() ? std::string("(none)") : ext) +
                     "': use .png or .pgm");
}

std::string encode(const Canvas& canvas, Format format) {
    std::string out;
    if (format == Format::Pgm) {
        // PGM carries grey only; callers build a 1-channel canvas for it.
        out = "P5\n" + std::to_string(canvas.width) + " " + std::to_string(canvas.height) +
              "\n255\n";
        out.append(canvas.data.begin(), canvas.data.end());
        return out;
    }
    return encode_png(canvas.width, canvas.height, canvas.channels, canvas.data.data());
}

void save(const std::string& path, const Canvas& canvas, Format format) {
    const std::string bytes = encode(canvas, format);
    write_file_atomically(path, [&bytes](std::ostream& out) {
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    });
}

// ---- caption font --------------------------------------------------------------------

// 5×7 bitmap glyphs, one string per row, '#' = ink. Index 0..9 digits, 10 the arrow.
constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;
constexpr int kArrowGlyph = 10;
using Glyph = std::array<const char*, kGlyphHeight>;
constexpr std::array<Glyph, 11> kFont = {{
    {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},  // 0
    {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},  // 1
    {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},  // 2
    {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},  // 3
    {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},  // 4
    {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},  // 5
    {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},  // 6
    {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},  // 7
    {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},  // 8
    {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},  // 9
    {".....", "..#..", "...#.", "#####", "...#.", "..#..", "....."},  // →
}};

// ---- grid layout ---------------------------------------------------------------------

constexpr int kTileScale = 3;                            // each digit drawn 84×84
constexpr int kTileSide = kImageSide * kTileScale;
constexpr int kGap = 2;                                  // background between tiles
constexpr int kGridColumns = 10;
constexpr int kFontScale = 2;                            // glyphs drawn 10×14
constexpr int kGlyphSpacing = 1;                         // in font pixels
constexpr int kCaptionPad = 2;                           // above and below the caption
constexpr int kCaptionHeight = kGlyphHeight * kFontScale + 2 * kCaptionPad;
constexpr int kCellHeight = kTileSide + kCaptionHeight;
// Dark grey background so the black tiles stand out from each other and from the gaps.
constexpr Rgb kBackground{48, 48, 48};
constexpr Rgb kCaptionRgb{255, 0, 0};     // PNG: red, unlike any digit pixel
constexpr Rgb kCaptionGrey{255, 255, 255};  // PGM: white on the dark background

void draw_glyph(Canvas& canvas, int x0, int y0, int glyph, Rgb colour) {
    const Glyph& rows = kFont[static_cast<std::size_t>(glyph)];
    for (int gy = 0; gy < kGlyphHeight; ++gy) {
        for (int gx = 0; gx < kGlyphWidth; ++gx) {
            if (rows[static_cast<std::size_t>(gy)][gx] == '#') {
                canvas.fill_rect(x0 + gx * kFontScale, y0 + gy * kFontScale, kFontScale,
                                 kFontScale, colour);
            }
        }
    }
}

// Draws "t→p" centred in a strip kTileSide wide starting at (x0, y0).
void draw_caption(Canvas& canvas, int x0, int y0, int truth, int predicted, Rgb colour) {
    const std::array<int, 3> glyphs{truth, kArrowGlyph, predicted};
    constexpr int advance = (kGlyphWidth + kGlyphSpacing) * kFontScale;
    constexpr int text_width = 3 * advance - kGlyphSpacing * kFontScale;
    int x = x0 + (kTileSide - text_width) / 2;
    for (int glyph : glyphs) {
        draw_glyph(canvas, x, y0 + kCaptionPad, glyph, colour);
        x += advance;
    }
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
    Canvas canvas(side, side, 1, Rgb{0, 0, 0});
    canvas.draw_digit(0, 0, pixels, scale);
    save(path, canvas, format);
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
    Canvas canvas(width, height, rgb ? 3 : 1, kBackground);
    const Rgb caption = rgb ? kCaptionRgb : kCaptionGrey;
    for (int i = 0; i < count; ++i) {
        const LabelledDigit& d = digits[static_cast<std::size_t>(i)];
        const int x = kGap + (i % kGridColumns) * (kTileSide + kGap);
        const int y = kGap + (i / kGridColumns) * (kCellHeight + kGap);
        canvas.draw_digit(x, y, d.pixels, kTileScale);
        draw_caption(canvas, x, y + kTileSide, d.truth, d.predicted, caption);
    }
    save(path, canvas, format);
}

}  // namespace mnistnn
