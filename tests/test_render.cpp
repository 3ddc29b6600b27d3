#include "mnistnn/render.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/images.hpp"
#include "test_util.hpp"

namespace {

using mnistnn::kImageSide;
using mnistnn::kPixels;
using mnistnn::test::read_text;
using mnistnn::test::source_path;
using mnistnn::test::TempDir;

using Digit = std::array<std::uint8_t, kPixels>;

// tests/fixtures/render/digit.txt: 28 rows of 28 decimal values, a "7" with soft edges
// and a 0..255 gradient on the last row (so every ASCII level and grey step appears).
Digit fixture_digit() {
    std::istringstream in(read_text(source_path("tests/fixtures/render/digit.txt")));
    Digit d{};
    for (auto& px : d) {
        int v = -1;
        in >> v;
        if (v < 0 || v > 255) throw std::runtime_error("bad digit.txt fixture");
        px = static_cast<std::uint8_t>(v);
    }
    return d;
}

// Pixel (x, y) of the fixture digit.
std::uint8_t at(const Digit& d, int x, int y) {
    return d[static_cast<std::size_t>(y * kImageSide + x)];
}

using Decoded = mnistnn::test::DecodedPng;

// Decodes a PNG file, keeping its own channel count.
Decoded decode_png(const std::string& path) { return mnistnn::test::decode_png(read_text(path)); }

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        lines.push_back(text.substr(start, nl - start));
    }
    if (start != text.size()) lines.push_back(text.substr(start));  // unterminated tail
    return lines;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + needle.size())) {
        ++n;
    }
    return n;
}

// ---- terminal renderings ---------------------------------------------------------------

TEST(RenderAscii, MatchesFrozenFixture) {
    const Digit d = fixture_digit();
    EXPECT_EQ(mnistnn::render_ascii(d.data()),
              read_text(source_path("tests/fixtures/render/digit_ascii.txt")));
}

TEST(RenderAscii, Has28LinesOf28CharsEachEndingInNewline) {
    const Digit d = fixture_digit();
    const std::string text = mnistnn::render_ascii(d.data());
    ASSERT_EQ(text.size(), 28u * 29u);
    ASSERT_EQ(text.back(), '\n');
    const auto lines = split_lines(text);
    ASSERT_EQ(lines.size(), 28u);
    for (const auto& line : lines) EXPECT_EQ(line.size(), 28u);
}

TEST(RenderAscii, RampIndexIsPixelTimesTenOver256) {
    // 0..25 → ' ', 26..51 → '.', ..., 231..255 → '@' (index = v * 10 / 256).
    const std::string ramp = " .:-=+*#%@";
    for (int v = 0; v < 256; ++v) {
        Digit d{};
        d[0] = static_cast<std::uint8_t>(v);
        EXPECT_EQ(mnistnn::render_ascii(d.data())[0], ramp[static_cast<std::size_t>(v * 10 / 256)])
            << "pixel " << v;
    }
    Digit blank{};
    EXPECT_EQ(mnistnn::render_ascii(blank.data()).find_first_not_of(" \n"), std::string::npos);
}

TEST(RenderHalfblock, MatchesFrozenFixture) {
    const Digit d = fixture_digit();
    EXPECT_EQ(mnistnn::render_halfblock(d.data()),
              read_text(source_path("tests/fixtures/render/digit_halfblock.txt")));
}

TEST(RenderHalfblock, Has14LinesOf28CellsEndingWithReset) {
    const Digit d = fixture_digit();
    const auto lines = split_lines(mnistnn::render_halfblock(d.data()));
    ASSERT_EQ(lines.size(), 14u);
    for (const auto& line : lines) {
        EXPECT_EQ(count_of(line, "\xE2\x96\x80"), 28u);
        ASSERT_GE(line.size(), 4u);
        EXPECT_EQ(line.substr(line.size() - 4), "\x1b[0m");
        // Each line sets both colours before its first cell, since the previous line reset them.
        EXPECT_EQ(line.rfind("\x1b[38;5;", 0), 0u);
    }
}

TEST(RenderHalfblock, GreyMappingAndTopBottomOrder) {
    // Column 0: top pixel white, bottom black. Column 1: a grey top (128 → 232 + 12 = 244) over
    // a dim bottom (1 → 232 + round(23/255) = 232). Column 2 repeats column 1's colours,
    // so no escape is emitted for it.
    Digit d{};
    d[0] = 255;
    d[1] = 128;
    d[28 + 1] = 1;
    d[2] = 128;
    d[28 + 2] = 1;
    const std::string first = split_lines(mnistnn::render_halfblock(d.data()))[0];
    const std::string block = "\xE2\x96\x80";
    const std::string expected_start = "\x1b[38;5;231m\x1b[48;5;16m" + block +
                                       "\x1b[38;5;244m\x1b[48;5;232m" + block + block +
                                       "\x1b[38;5;16m\x1b[48;5;16m" + block;
    EXPECT_EQ(first.substr(0, expected_start.size()), expected_start);

    // 254 is the brightest non-white grey: 232 + round(254 * 23 / 255) = 232 + 23 = 255.
    Digit bright{};
    bright[0] = 254;
    EXPECT_EQ(mnistnn::render_halfblock(bright.data()).rfind("\x1b[38;5;255m", 0), 0u);
}

// ---- single-digit images -------------------------------------------------------------

TEST(WriteDigitImage, PgmHasHeaderAndScaledPixels) {
    TempDir dir;
    const Digit d = fixture_digit();
    const std::string path = dir.file("digit.pgm");
    mnistnn::write_digit_image(path, d.data(), 2);

    const std::string bytes = read_text(path);
    const std::string header = "P5\n56 56\n255\n";
    ASSERT_EQ(bytes.size(), header.size() + 56u * 56u);
    EXPECT_EQ(bytes.substr(0, header.size()), header);
    const auto px = [&](int x, int y) {
        return static_cast<std::uint8_t>(bytes[header.size() + static_cast<std::size_t>(y * 56 + x)]);
    };
    // Source (x=6, y=5) is 255 (top bar), so output pixels (12..13, 10..11) are all 255.
    EXPECT_EQ(px(12, 10), 255);
    EXPECT_EQ(px(13, 11), 255);
    // Source (6, 4) is 40, (5, 5) is background 0.
    EXPECT_EQ(px(12, 8), 40);
    EXPECT_EQ(px(13, 9), 40);
    EXPECT_EQ(px(11, 10), 0);
    // Source row 27 is the gradient: (1, 27) = 9, (27, 27) = 255.
    EXPECT_EQ(px(2, 54), 9);
    EXPECT_EQ(px(3, 55), 9);
    EXPECT_EQ(px(55, 55), 255);
    EXPECT_EQ(px(0, 0), 0);
    // And the whole image is the nearest-neighbour 2× upscale.
    for (int y = 0; y < 56; ++y) {
        for (int x = 0; x < 56; ++x) ASSERT_EQ(px(x, y), at(d, x / 2, y / 2)) << x << "," << y;
    }
}

TEST(WriteDigitImage, PngDecodesToScaledSource) {
    TempDir dir;
    const Digit d = fixture_digit();
    const std::string path = dir.file("digit.png");
    mnistnn::write_digit_image(path, d.data(), 3);

    const std::string bytes = read_text(path);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

    const Decoded img = decode_png(path);
    ASSERT_EQ(img.width, 84);
    ASSERT_EQ(img.height, 84);
    ASSERT_EQ(img.channels, 1);
    for (int y = 0; y < 84; ++y) {
        for (int x = 0; x < 84; ++x) {
            ASSERT_EQ(img.pixels[static_cast<std::size_t>(y * 84 + x)], at(d, x / 3, y / 3))
                << x << "," << y;
        }
    }
}

TEST(WriteDigitImage, DefaultScaleIsEightAndExtensionIsCaseInsensitive) {
    TempDir dir;
    const Digit d = fixture_digit();
    mnistnn::write_digit_image(dir.file("a.PNG"), d.data());
    const Decoded img = decode_png(dir.file("a.PNG"));
    EXPECT_EQ(img.width, 224);
    EXPECT_EQ(img.height, 224);

    mnistnn::write_digit_image(dir.file("b.Pgm"), d.data(), 1);
    EXPECT_EQ(read_text(dir.file("b.Pgm")).substr(0, 13), "P5\n28 28\n255\n");
}

TEST(WriteDigitImage, RejectsUnsupportedExtension) {
    TempDir dir;
    const Digit d = fixture_digit();
    try {
        mnistnn::write_digit_image(dir.file("digit.jpg"), d.data());
        FAIL() << "expected UsageError";
    } catch (const mnistnn::UsageError& e) {
        EXPECT_EQ(std::string(e.what()), "unsupported image format '.jpg': use .png or .pgm");
    }
    EXPECT_THROW(mnistnn::write_digit_image(dir.file("digit"), d.data()), mnistnn::UsageError);
    EXPECT_THROW(mnistnn::write_digit_grid(dir.file("grid.bmp"), {}), mnistnn::UsageError);
    // Nothing was created.
    EXPECT_FALSE(std::ifstream(dir.file("digit.jpg")).good());
}

TEST(WriteDigitImage, RejectsScaleBelowOne) {
    TempDir dir;
    const Digit d = fixture_digit();
    EXPECT_THROW(mnistnn::write_digit_image(dir.file("d.png"), d.data(), 0), mnistnn::UsageError);
    EXPECT_THROW(mnistnn::write_digit_image(dir.file("d.pgm"), d.data(), -3), mnistnn::UsageError);
    EXPECT_FALSE(std::ifstream(dir.file("d.png")).good());
}

TEST(WriteDigitImage, MissingDirectoryIsIoError) {
    TempDir dir;
    const Digit d = fixture_digit();
    EXPECT_THROW(mnistnn::write_digit_image(dir.file("no/such/dir/d.png"), d.data()),
                 mnistnn::IoError);
    EXPECT_THROW(mnistnn::write_digit_image(dir.file("no/such/dir/d.pgm"), d.data()),
                 mnistnn::IoError);
    const std::vector<mnistnn::LabelledDigit> one{{d.data(), 7, 1}};
    EXPECT_THROW(mnistnn::write_digit_grid(dir.file("missing/grid.png"), one), mnistnn::IoError);
}

// ---- grids -----------------------------------------------------------------------------

// Layout constants of the grid (see render.cpp): 84×84 tiles (3×), 2 px gaps, an 18 px caption
// strip under each tile, 10 tiles per row.
constexpr int kTile = 84;
constexpr int kGap = 2;
constexpr int kCell = kTile + 18;

// True if p is background (48, 48, 48) covered by a fraction a of red (255, 0, 0): the same a,
// to within rounding, in the red channel as in green and blue.
bool is_caption_blend(const std::array<int, 3>& p) {
    const double a_red = (p[0] - 48) / 207.0;
    const double a_green = (48 - p[1]) / 48.0;
    return p[1] == p[2] && a_red > 0 && a_red < 1 && std::fabs(a_red - a_green) <= 1.5 / 48;
}

std::vector<mnistnn::LabelledDigit> labelled(const Digit& d, int count) {
    std::vector<mnistnn::LabelledDigit> out;
    for (int i = 0; i < count; ++i) out.push_back({d.data(), i % 10, (i * 3) % 10});
    return out;
}

TEST(WriteDigitGrid, PngOfThirteenDigitsHasExpectedSizeTilesAndRedCaptions) {
    TempDir dir;
    const Digit d = fixture_digit();
    const std::string path = dir.file("grid.png");
    mnistnn::write_digit_grid(path, labelled(d, 13));

    const Decoded img = decode_png(path);
    // 10 columns, 2 rows: 10*84 + 11*2 = 862 wide, 2*102 + 3*2 = 210 high.
    ASSERT_EQ(img.width, 862);
    ASSERT_EQ(img.height, 210);
    ASSERT_EQ(img.channels, 3);
    const auto px = [&](int x, int y) {
        const std::size_t i = (static_cast<std::size_t>(y) * 862 + static_cast<std::size_t>(x)) * 3;
        return std::array<int, 3>{img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]};
    };
    // Tile 12 (row 1, column 2) holds the digit scaled 3×, as grey.
    const int x0 = kGap + 2 * (kTile + kGap);
    const int y0 = kGap + 1 * (kCell + kGap);
    for (int y = 0; y < kTile; y += 5) {
        for (int x = 0; x < kTile; x += 5) {
            const int v = at(d, x / 3, y / 3);
            ASSERT_EQ(px(x0 + x, y0 + y), (std::array<int, 3>{v, v, v})) << x << "," << y;
        }
    }
    // The caption strip under each tile has red ink, and nothing but red, background, or (at the
    // anti-aliased edges of the glyphs) a blend of the two.
    for (int tile = 0; tile < 13; ++tile) {
        const int cx = kGap + (tile % 10) * (kTile + kGap);
        const int cy = kGap + (tile / 10) * (kCell + kGap) + kTile;
        int red = 0;
        int blended = 0;
        for (int y = cy; y < cy + 18; ++y) {
            for (int x = cx; x < cx + kTile; ++x) {
                const auto p = px(x, y);
                if (p == std::array<int, 3>{255, 0, 0}) {
                    ++red;
                } else if (p != std::array<int, 3>{48, 48, 48}) {
                    ASSERT_TRUE(is_caption_blend(p)) << "tile " << tile << " pixel " << p[0] << "," << p[1] << "," << p[2];
                    ++blended;
                }
            }
        }
        EXPECT_GT(red, 50) << "tile " << tile;
        EXPECT_GT(blended, 20) << "tile " << tile;
    }
    // Unused slots of the last row stay background.
    EXPECT_EQ(px(kGap + 5 * (kTile + kGap) + 40, y0 + 40), (std::array<int, 3>{48, 48, 48}));
}

TEST(WriteDigitGrid, CaptionsDifferForDifferentLabels) {
    TempDir dir;
    const Digit d = fixture_digit();
    mnistnn::write_digit_grid(dir.file("g.png"), {{d.data(), 1, 7}, {d.data(), 8, 3}, {d.data(), 1, 7}});
    const Decoded img = decode_png(dir.file("g.png"));
    ASSERT_EQ(img.width, 3 * kTile + 4 * kGap);
    ASSERT_EQ(img.height, kCell + 2 * kGap);
    const auto caption = [&](int tile) {
        std::vector<std::uint8_t> strip;
        const int cx = kGap + tile * (kTile + kGap);
        for (int y = kGap + kTile; y < kGap + kCell; ++y) {
            const std::size_t row = static_cast<std::size_t>(y * img.width + cx) * 3;
            strip.insert(strip.end(), img.pixels.begin() + static_cast<std::ptrdiff_t>(row),
                         img.pixels.begin() + static_cast<std::ptrdiff_t>(row + kTile * 3));
        }
        return strip;
    };
    EXPECT_EQ(caption(0), caption(2));
    EXPECT_NE(caption(0), caption(1));
}

// The captions are text in a real, anti-aliased font: grey levels between the background and the
// ink, in both formats, and the ink of a caption depends on its characters' shapes.
TEST(WriteDigitGrid, CaptionsAreAntiAliasedGlyphs) {
    TempDir dir;
    const Digit d = fixture_digit();
    const std::vector<mnistnn::LabelledDigit> digits{{d.data(), 1, 1}, {d.data(), 8, 8}};
    mnistnn::write_digit_grid(dir.file("g.pgm"), digits);
    const std::string bytes = read_text(dir.file("g.pgm"));
    const int width = 2 * kTile + 3 * kGap;
    const std::string header = "P5\n" + std::to_string(width) + " " + std::to_string(kCell + 2 * kGap) + "\n255\n";
    ASSERT_EQ(bytes.substr(0, header.size()), header);
    // Per caption: pixels of full ink (255), of partial ink (strictly between 48 and 255), and the
    // total ink (sum of coverage), over its strip.
    const auto caption = [&](int tile) {
        std::array<double, 3> ink{};
        for (int y = kGap + kTile; y < kGap + kCell; ++y) {
            for (int x = kGap + tile * (kTile + kGap); x < (tile + 1) * (kTile + kGap); ++x) {
                const int v = static_cast<std::uint8_t>(bytes[header.size() + static_cast<std::size_t>(y * width + x)]);
                EXPECT_GE(v, 48);
                if (v == 255) ink[0] += 1;
                if (v > 48 && v < 255) ink[1] += 1;
                ink[2] += (v - 48) / 207.0;
            }
        }
        return ink;
    };
    const auto ones = caption(0);
    const auto eights = caption(1);
    EXPECT_GT(ones[0], 20);
    EXPECT_GT(ones[1], 20);   // anti-aliased edges
    EXPECT_GT(eights[1], 20);
    EXPECT_GT(eights[2], ones[2] * 1.3);  // "8→8" carries more ink than "1→1"
}

TEST(WriteDigitGrid, PgmGridIsGreyWithSameLayout) {
    TempDir dir;
    const Digit d = fixture_digit();
    mnistnn::write_digit_grid(dir.file("grid.pgm"), labelled(d, 13));
    const std::string bytes = read_text(dir.file("grid.pgm"));
    const std::string header = "P5\n862 210\n255\n";
    ASSERT_EQ(bytes.size(), header.size() + 862u * 210u);
    EXPECT_EQ(bytes.substr(0, header.size()), header);
    // Top-left corner is gap background, then the first tile's first pixel.
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[header.size()]), 48);
    const std::size_t first = header.size() + 2u * 862u + 2u;
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[first]), at(d, 0, 0));
}

TEST(WriteDigitGrid, EmptyListGivesOneBlankCell) {
    TempDir dir;
    mnistnn::write_digit_grid(dir.file("empty.png"), {});
    const Decoded img = decode_png(dir.file("empty.png"));
    EXPECT_EQ(img.width, kTile + 2 * kGap);
    EXPECT_EQ(img.height, kCell + 2 * kGap);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) ASSERT_EQ(img.pixels[i], 48);
}

TEST(WriteDigitGrid, RejectsBadCaptionsAndMissingPixels) {
    TempDir dir;
    const Digit d = fixture_digit();
    EXPECT_THROW(mnistnn::write_digit_grid(dir.file("g.png"), {{d.data(), 10, 1}}),
                 mnistnn::UsageError);
    EXPECT_THROW(mnistnn::write_digit_grid(dir.file("g.png"), {{d.data(), 1, -1}}),
                 mnistnn::UsageError);
    EXPECT_THROW(mnistnn::write_digit_grid(dir.file("g.png"), {{nullptr, 1, 1}}),
                 mnistnn::UsageError);
    EXPECT_FALSE(std::ifstream(dir.file("g.png")).good());
}

TEST(WriteDigitImage, OverwritesExistingFile) {
    TempDir dir;
    const Digit d = fixture_digit();
    const std::string path = dir.file("d.pgm");
    mnistnn::test::write_text(path, "old contents");
    mnistnn::write_digit_image(path, d.data(), 1);
    EXPECT_EQ(read_text(path).size(), 13u + 784u);
}

}  // namespace
