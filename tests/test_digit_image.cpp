// digit_image and image_decode: each normalisation step against hand-computed answers, every
// decoder (PNG colour types and bit depths, JPEG, PGM/PPM plain and raw, maxval > 255), and every
// hostile input (truncated, not an image, zero-size, over the pixel limit, decompression bombs).
#include "mnistnn/digit_image.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "image_maker.hpp"
#include "mnistnn/image_decode.hpp"
#include "test_util.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define MNISTNN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MNISTNN_ASAN 1
#endif
#endif
#ifdef MNISTNN_ASAN
// Under ASan an address-space rlimit cannot be used (the shadow memory needs terabytes): cap single
// allocations instead, so a decoder that allocates what a header claims fails the tests here too.
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=1024"; }
#endif

namespace {

using namespace mnistnn;
using mnistnn::test::bytes_of;
using mnistnn::test::png_chunk;
using mnistnn::test::png_file;
using mnistnn::test::png_scanlines;
using mnistnn::test::stb_jpeg;
using mnistnn::test::stb_png;

GreyImage grey(int width, int height, std::uint8_t fill) {
    GreyImage g;
    g.width = width;
    g.height = height;
    g.pixels.assign(static_cast<std::size_t>(width * height), fill);
    return g;
}

void fill_rect(GreyImage& g, int x, int y, int w, int h, std::uint8_t value) {
    for (int j = y; j < y + h; ++j)
        for (int i = x; i < x + w; ++i) g.pixels[static_cast<std::size_t>(j * g.width + i)] = value;
}

GreyImage decode(const std::string& file, std::uint64_t max_pixels = 50'000'000, int min_side = 0) {
    DecodeOptions options;
    options.max_pixels = max_pixels;
    options.min_side = min_side;
    return decode_image(bytes_of(file), file.size(), "pic", options);
}

// The ImageError message of decoding `file` (empty if it decoded).
std::string decode_error(const std::string& file, std::uint64_t max_pixels = 50'000'000) {
    try {
        decode(file, max_pixels);
    } catch (const ImageError& e) {
        return e.what();
    }
    return "";
}

std::array<double, 2> com(const DigitPixels& d) {
    InkImage image;
    image.width = image.height = kImageSide;
    image.ink.assign(d.begin(), d.end());
    return centre_of_mass(image);
}

// ---- polarity ---------------------------------------------------------------------------------

TEST(Polarity, DarkInkOnWhitePaperIsInverted) {
    GreyImage g = grey(60, 40, 255);
    fill_rect(g, 20, 10, 8, 20, 0);
    EXPECT_TRUE(dark_ink_on_light(g));
    EXPECT_TRUE(ink_levels(g, Invert::Auto, "pic").inverted);
}

TEST(Polarity, LightInkOnBlackIsNotInverted) {
    GreyImage g = grey(60, 40, 0);
    fill_rect(g, 20, 10, 8, 20, 255);
    EXPECT_FALSE(dark_ink_on_light(g));
}

TEST(Polarity, GreyPaperDarkerThanMidGreyStillCountsAsLight) {
    // Paper 110, pencil 30: the background is nearer the lightest level (110) than the darkest (30).
    GreyImage g = grey(50, 50, 110);
    fill_rect(g, 10, 10, 5, 30, 30);
    EXPECT_TRUE(dark_ink_on_light(g));
    const InkLevels levels = ink_levels(g, Invert::Auto, "pic");
    EXPECT_EQ(levels.background, 110);
    EXPECT_FLOAT_EQ(levels.ink[110], 0.0f);  // paper → 0
    EXPECT_FLOAT_EQ(levels.ink[30], 255.0f);  // strongest ink → 255
}

TEST(Polarity, InkTouchingTheBorderDoesNotFlipTheDecision) {
    GreyImage g = grey(40, 40, 255);
    fill_rect(g, 0, 0, 40, 6, 0);  // a thick bar along the top edge: 46 of 156 border pixels
    EXPECT_TRUE(dark_ink_on_light(g));
}

TEST(Polarity, OverrideWins) {
    GreyImage g = grey(60, 40, 0);
    fill_rect(g, 20, 10, 8, 20, 255);
    // Forced inversion of light-on-dark: the "background" becomes white, nothing stands out.
    EXPECT_THROW(ink_levels(g, Invert::Yes, "pic"), ImageError);
    EXPECT_FALSE(ink_levels(g, Invert::No, "pic").inverted);
    GreyImage paper = grey(60, 40, 255);
    fill_rect(paper, 20, 10, 8, 20, 0);
    EXPECT_TRUE(ink_levels(paper, Invert::Yes, "pic").inverted);
}

TEST(Levels, NoiseFloorClearsFaintPaperTexture) {
    GreyImage g = grey(50, 50, 255);
    fill_rect(g, 10, 10, 5, 30, 0);
    const InkLevels levels = ink_levels(g, Invert::Auto, "pic");
    // Range 255: everything within 12 % (30.6 levels) of the paper is paper.
    EXPECT_EQ(levels.ink[255 - 30], 0.0f);
    EXPECT_GT(levels.ink[255 - 31], 0.0f);
    EXPECT_NEAR(levels.ink[255 - 143], 255.0 * (143 - 30.6) / (255 - 30.6), 1e-3);
}

// ---- bounding box -----------------------------------------------------------------------------

TEST(BoundingBox, IsTheInksExtentIgnoringFaintNoise) {
    GreyImage g = grey(100, 80, 255);
    fill_rect(g, 30, 12, 9, 41, 0);  // the digit: x 30..38, y 12..52
    fill_rect(g, 70, 70, 2, 2, 240);  // faint smudge: 15 levels, under the noise floor
    fill_rect(g, 5, 5, 1, 1, 250);
    const InkLevels levels = ink_levels(g, Invert::Auto, "pic");
    const InkBox box = ink_bounding_box(g, levels);
    EXPECT_EQ(box.x, 30);
    EXPECT_EQ(box.y, 12);
    EXPECT_EQ(box.width, 9);
    EXPECT_EQ(box.height, 41);
}

TEST(BoundingBox, EmptyWhenNoInk) {
    const GreyImage g = grey(10, 10, 0);
    InkLevels levels;  // all zero
    const InkBox box = ink_bounding_box(g, levels);
    EXPECT_EQ(box.width, 0);
    EXPECT_EQ(box.height, 0);
}

// ---- fit into 20 px ---------------------------------------------------------------------------

InkLevels identity_levels() {
    InkLevels levels;
    for (int v = 0; v < 256; ++v) levels.ink[static_cast<std::size_t>(v)] = static_cast<float>(v);
    return levels;
}

TEST(Fit, LongestSideBecomes20AndAspectIsKept) {
    GreyImage g = grey(40, 20, 255);  // 40×20 solid ink → 20×10 solid ink (s = 2)
    const InkImage out = fit_ink(g, identity_levels(), InkBox{0, 0, 40, 20});
    ASSERT_EQ(out.width, 20);
    ASSERT_EQ(out.height, 10);
    for (float v : out.ink) EXPECT_FLOAT_EQ(v, 255.0f);

    GreyImage tall = grey(10, 50, 255);  // 10×50 → s = 2.5 → 4×20
    const InkImage t = fit_ink(tall, identity_levels(), InkBox{0, 0, 10, 50});
    EXPECT_EQ(t.width, 4);
    EXPECT_EQ(t.height, 20);
}

TEST(Fit, PartlyCoveredEdgePixelsAreWeightedByCoverage) {
    // 30×10 solid: s = 1.5, 20 × ⌈6.67⌉ = 20×7. Row 6 covers source rows [9, 10.5) of which only
    // [9, 10) exists: ink 255 · 1/1.5 = 170.
    GreyImage g = grey(30, 10, 255);
    const InkImage out = fit_ink(g, identity_levels(), InkBox{0, 0, 30, 10});
    ASSERT_EQ(out.width, 20);
    ASSERT_EQ(out.height, 7);
    EXPECT_FLOAT_EQ(out.at(5, 0), 255.0f);
    EXPECT_NEAR(out.at(5, 6), 170.0f, 1e-3);
}

TEST(Fit, AveragesAreaNotNearestNeighbour) {
    // Alternate columns 255/0 over 40 px → each output pixel covers one of each: 127.5.
    GreyImage g = grey(40, 40, 0);
    for (int x = 0; x < 40; x += 2) fill_rect(g, x, 0, 1, 40, 255);
    const InkImage out = fit_ink(g, identity_levels(), InkBox{0, 0, 40, 40});
    ASSERT_EQ(out.width, 20);
    for (float v : out.ink) EXPECT_FLOAT_EQ(v, 127.5f);
    // s = 1.5: output 0 covers columns 0 (255, full) and 1 (0, half) → 255/1.5 = 170.
    GreyImage h = grey(30, 30, 0);
    for (int x = 0; x < 30; x += 2) fill_rect(h, x, 0, 1, 30, 255);
    const InkImage o = fit_ink(h, identity_levels(), InkBox{0, 0, 30, 30});
    EXPECT_NEAR(o.at(0, 3), 170.0f, 1e-3);
    EXPECT_NEAR(o.at(1, 3), 170.0f, 1e-3);  // [1.5, 3): column 1 (0) half, column 2 (255) whole
    EXPECT_NEAR(o.at(2, 3), 85.0f, 1e-3);   // [3, 4.5): column 3 (0) whole, column 4 (255) half
}

TEST(Fit, CropsToTheBoxOnly) {
    GreyImage g = grey(100, 100, 0);
    fill_rect(g, 50, 50, 20, 40, 200);  // box 20×40 → 10×20
    fill_rect(g, 0, 0, 10, 10, 255);    // outside the box: ignored
    const InkImage out = fit_ink(g, identity_levels(), InkBox{50, 50, 20, 40});
    ASSERT_EQ(out.width, 10);
    ASSERT_EQ(out.height, 20);
    for (float v : out.ink) EXPECT_FLOAT_EQ(v, 200.0f);
}

// ---- centre of mass ---------------------------------------------------------------------------

TEST(CentreOfMass, HandComputed) {
    InkImage image;
    image.width = 3;
    image.height = 2;
    image.ink = {0, 0, 100, 0, 0, 300};  // x = 2, y = (0·100 + 1·300)/400 = 0.75
    const auto c = centre_of_mass(image);
    EXPECT_DOUBLE_EQ(c[0], 2.0);
    EXPECT_DOUBLE_EQ(c[1], 0.75);
}

TEST(CentreOfMass, SubPixelShiftIsResampledNotRounded) {
    // Two pixels (ink 255, 255): centre x 0.5 → shift 13.5 → split between columns 13, 14, 15.
    InkImage image;
    image.width = 2;
    image.height = 1;
    image.ink = {255, 255};
    const DigitPixels d = place_in_field(image);
    EXPECT_EQ(d[14 * 28 + 13], 128);  // 127.5 → scaled so the peak (255 at column 14) is 255
    EXPECT_EQ(d[14 * 28 + 14], 255);
    EXPECT_EQ(d[14 * 28 + 15], 128);
    const auto c = com(d);
    EXPECT_NEAR(c[0], 14.0, 1e-9);
    EXPECT_NEAR(c[1], 14.0, 1e-9);
}

TEST(CentreOfMass, WholePipelinePutsItAt14And14) {
    // An L-shaped stroke far off-centre in a 300×200 picture, dark on white.
    GreyImage g = grey(300, 200, 250);
    fill_rect(g, 200, 20, 12, 90, 10);
    fill_rect(g, 200, 98, 60, 12, 10);
    const DigitPixels d = normalize_grey_image(g, "pic");
    const auto c = com(d);
    EXPECT_NEAR(c[0], 14.0, 0.5);
    EXPECT_NEAR(c[1], 14.0, 0.5);
    EXPECT_LT(std::abs(c[0] - 14.0), 0.05);
    // Longest side (90 px tall) → 20 rows of ink; 60 px wide → 13.33 columns.
    int top = 28, bottom = -1, left = 28, right = -1;
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x)
            if (d[static_cast<std::size_t>(y * 28 + x)] > 0) {
                top = std::min(top, y), bottom = std::max(bottom, y);
                left = std::min(left, x), right = std::max(right, x);
            }
    EXPECT_EQ(bottom - top + 1, 21);  // 20 rows plus one from the sub-pixel split
    EXPECT_GE(right - left + 1, 14);
    EXPECT_LE(right - left + 1, 15);
    EXPECT_EQ(*std::max_element(d.begin(), d.end()), 255);
    EXPECT_EQ(d[0], 0);  // background 0
}

// ---- special cases ----------------------------------------------------------------------------

TEST(Special, MnistSizedPicturePassesThroughUnchanged) {
    GreyImage g = grey(28, 28, 0);
    for (int i = 0; i < kPixels; ++i) {
        if (i % 28 > 8 && i % 28 < 15 && i / 28 > 3 && i / 28 < 24) g.pixels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i % 251);
    }
    const DigitPixels d = normalize_grey_image(g, "pic");
    EXPECT_TRUE(std::equal(d.begin(), d.end(), g.pixels.begin()));
    // Dark on light at 28×28: inverted, not re-cropped.
    GreyImage inv = g;
    for (auto& p : inv.pixels) p = static_cast<std::uint8_t>(255 - p);
    const DigitPixels e = normalize_grey_image(inv, "pic");
    EXPECT_TRUE(std::equal(e.begin(), e.end(), g.pixels.begin()));
}

TEST(Special, BlankPictureIsAnErrorNamingTheFile) {
    for (std::uint8_t fill : {std::uint8_t{0}, std::uint8_t{128}, std::uint8_t{255}}) {
        for (int side : {28, 300}) {
            try {
                normalize_grey_image(grey(side, side, fill), "blank.png");
                ADD_FAILURE() << "blank " << side << " fill " << int(fill) << " was accepted";
            } catch (const ImageError& e) {
                EXPECT_NE(std::string(e.what()).find("blank.png: no ink found"), std::string::npos) << e.what();
            }
        }
    }
    // Faint noise only (under kMinContrast) is blank too.
    GreyImage g = grey(100, 100, 250);
    fill_rect(g, 40, 40, 5, 5, 235);
    EXPECT_THROW(normalize_grey_image(g, "pic"), ImageError);
}

// ---- PNG decoding -----------------------------------------------------------------------------

TEST(Png, GreyRgbRgbaAndAlphaOnWhite) {
    // 8-bit grey
    EXPECT_EQ(decode(stb_png(3, 1, 1, {0, 100, 255})).pixels, (std::vector<std::uint8_t>{0, 100, 255}));
    // RGB: luma 0.299 R + 0.587 G + 0.114 B
    const GreyImage rgb = decode(stb_png(3, 1, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255}));
    EXPECT_EQ(rgb.pixels, (std::vector<std::uint8_t>{76, 150, 29}));
    // RGBA: opaque black, transparent black (→ white paper), half-transparent black
    const GreyImage rgba = decode(stb_png(3, 1, 4, {0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128}));
    EXPECT_EQ(rgba.pixels, (std::vector<std::uint8_t>{0, 255, 127}));
    // grey + alpha
    const GreyImage ga = decode(stb_png(2, 1, 2, {50, 255, 50, 0}));
    EXPECT_EQ(ga.pixels, (std::vector<std::uint8_t>{50, 255}));
}

TEST(Png, SixteenBitGreyAndRgba) {
    // Grey 16-bit: 0x8080 / 257 = 128, 0xFFFF → 255, 0x0000 → 0.
    const std::vector<std::uint8_t> grey16 = {0x80, 0x80, 0xFF, 0xFF, 0x00, 0x00};
    EXPECT_EQ(decode(png_file(3, 1, 0, 16, png_scanlines(grey16, 1, 6))).pixels,
              (std::vector<std::uint8_t>{128, 255, 0}));
    // RGBA 16-bit: opaque red, transparent black (white), 50 % grey 0x6666 at alpha 0x8000.
    const std::vector<std::uint8_t> rgba16 = {0xFF, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF,  //
                                              0, 0, 0, 0, 0, 0, 0, 0,              //
                                              0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x80, 0x00};
    const GreyImage d = decode(png_file(3, 1, 6, 16, png_scanlines(rgba16, 1, 24)));
    const double a = 0x8000 / 65535.0;
    EXPECT_EQ(d.pixels[0], 76);
    EXPECT_EQ(d.pixels[1], 255);
    EXPECT_EQ(d.pixels[2], std::lround((0.4 * a + (1 - a)) * 255));
}

TEST(Png, LowBitDepthGrey) {
    // 1-bit grey: bits 1010 0000 → white, black, white, black, …; 4-bit: 0xF0 → 255, 0.
    EXPECT_EQ(decode(png_file(8, 1, 0, 1, png_scanlines({0xA0}, 1, 1))).pixels,
              (std::vector<std::uint8_t>{255, 0, 255, 0, 0, 0, 0, 0}));
    EXPECT_EQ(decode(png_file(2, 1, 0, 4, png_scanlines({0xF0}, 1, 1))).pixels, (std::vector<std::uint8_t>{255, 0}));
    // Grey with a tRNS key: grey level 0 is transparent (→ white paper).
    EXPECT_EQ(decode(png_file(2, 1, 0, 8, png_scanlines({0, 9}, 1, 2), png_chunk("tRNS", std::string("\0\0", 2)))).pixels,
              (std::vector<std::uint8_t>{255, 9}));
}

TEST(Png, PaletteWithTransparency) {
    const std::string plte = png_chunk("PLTE", std::string("\x00\x00\x00\xff\xff\xff", 6));
    const std::string trns = png_chunk("tRNS", std::string("\x00", 1));  // entry 0 transparent
    const GreyImage d = decode(png_file(2, 1, 3, 8, png_scanlines({0, 1}, 1, 2), plte + trns));
    EXPECT_EQ(d.pixels, (std::vector<std::uint8_t>{255, 255}));
    const GreyImage e = decode(png_file(2, 1, 3, 8, png_scanlines({0, 1}, 1, 2), plte));
    EXPECT_EQ(e.pixels, (std::vector<std::uint8_t>{0, 255}));
}

TEST(Png, InterlacedMatchesPlain) {
    // 13×11 (not a multiple of 8, so every Adam7 pass has partial rows and columns), RGBA.
    const int w = 13, h = 11;
    std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * 4));
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 53 + i / 7) % 256);
    const GreyImage interlaced = decode(mnistnn::test::libpng_interlaced(w, h, 4, px));
    const GreyImage plain = decode(stb_png(w, h, 4, px));
    ASSERT_EQ(interlaced.width, w);
    ASSERT_EQ(interlaced.height, h);
    EXPECT_EQ(interlaced.pixels, plain.pixels);
    std::vector<std::uint8_t> g(static_cast<std::size_t>(w * h));
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<std::uint8_t>(i * 11);
    EXPECT_EQ(decode(mnistnn::test::libpng_interlaced(w, h, 1, g)).pixels, g);
}

TEST(Png, TruncatedOrCorruptIsRefused) {
    std::vector<std::uint8_t> px(64 * 64);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 7);
    const std::string file = stb_png(64, 64, 1, px);
    for (std::size_t keep : {std::size_t{8}, std::size_t{20}, std::size_t{40}, file.size() / 2, file.size() - 13}) {
        const std::string msg = decode_error(file.substr(0, keep));
        EXPECT_NE(msg.find("pic: truncated or corrupt PNG"), std::string::npos) << keep << ": " << msg;
    }
    std::string flipped = file;
    flipped[file.size() / 2] = static_cast<char>(flipped[file.size() / 2] ^ 0x55);
    EXPECT_NE(decode_error(flipped).find("corrupt PNG"), std::string::npos);
}

TEST(Png, ZeroSizeIsRefused) {
    const std::string msg = decode_error(png_file(0, 10, 0, 8, ""));
    EXPECT_NE(msg.find("pic: zero-size PNG image"), std::string::npos) << msg;
}

// Runs `body` in a child process that cannot get more than 1 GiB in one go (address-space limit,
// or ASan's allocation cap): returns its exit status (0 = body returned true).
int in_memory_capped_child(const std::function<bool()>& body) {
    const pid_t pid = fork();
    if (pid == 0) {
#ifndef MNISTNN_ASAN
        const rlimit limit{std::uint64_t{1} << 30, std::uint64_t{1} << 30};
        setrlimit(RLIMIT_AS, &limit);
#endif
        int code = 3;
        try {
            code = body() ? 0 : 1;
        } catch (const std::bad_alloc&) {
            code = 2;
        } catch (...) {
            code = 3;
        }
        _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(Png, HeaderClaiming100000x100000IsRefusedWithoutAllocating) {
    // 10^10 pixels claimed; the data is one row. Refused from the header, inside a 1 GiB cap.
    const std::string file = png_file(100000, 100000, 0, 8, png_scanlines(std::vector<std::uint8_t>(100000), 1, 100000));
    EXPECT_EQ(in_memory_capped_child([&] {
                  const std::string msg = decode_error(file);
                  return msg.find("100000×100000 = 10000000000 pixels, over the limit of 50000000") != std::string::npos;
              }),
              0);
    // Even with the limit lifted, a truncated claim fails on the data, not by allocating 10 GB.
    EXPECT_EQ(in_memory_capped_child([&] {
                  const std::string msg = decode_error(file, std::uint64_t{1} << 40);
                  return !msg.empty();
              }),
              0)
        << "(a child exit 2 means the decoder tried to allocate what the header claims)";
}

TEST(Png, DecompressionBombIsRefused) {
    // 8000×8000 grey: 64 MB of zero pixels deflate to ~62 kB.
    const std::uint32_t side = 8000;
    std::string scanlines(static_cast<std::size_t>(side + 1) * side, '\0');
    const std::string bomb = png_file(side, side, 0, 8, scanlines);
    scanlines.clear();
    scanlines.shrink_to_fit();
    EXPECT_LT(bomb.size(), 100'000u);
    EXPECT_EQ(in_memory_capped_child([&] {
                  return decode_error(bomb).find("over the limit of 50000000") != std::string::npos;
              }),
              0);
    // A text chunk that inflates to 16 MB beside a valid little image: the chunk limit stops it.
    const std::string ztxt =
        png_chunk("zTXt", std::string("Comment\0\0", 9) + mnistnn::test::zlib_compress(std::string(16 << 20, 'a')));
    const std::string text_bomb = png_file(2, 1, 0, 8, png_scanlines({0, 255}, 1, 2), ztxt);
    EXPECT_NE(decode_error(text_bomb).find("pic: PNG refused as a decompression bomb"), std::string::npos);
    const std::string iccp =
        png_chunk("iCCP", std::string("icc\0\0", 5) + mnistnn::test::zlib_compress(std::string(16 << 20, 'a')));
    EXPECT_NE(decode_error(png_file(2, 1, 0, 8, png_scanlines({0, 255}, 1, 2), iccp)).find("decompression bomb"),
              std::string::npos);
    // The same chunk at 1 MiB is within the limits: the image decodes.
    const std::string small_text =
        png_chunk("zTXt", std::string("Comment\0\0", 9) + mnistnn::test::zlib_compress(std::string(1 << 20, 'a')));
    EXPECT_EQ(decode(png_file(2, 1, 0, 8, png_scanlines({0, 255}, 1, 2), small_text)).pixels,
              (std::vector<std::uint8_t>{0, 255}));
}

TEST(NotAnImage, IsRefusedByName) {
    EXPECT_NE(decode_error("label,pixel0\n1,2\n").find("pic: not an image"), std::string::npos);
    EXPECT_NE(decode_error("").find("pic: empty file"), std::string::npos);
    EXPECT_NE(decode_error(std::string("GIF89a\x01\x00", 8)).find("not an image"), std::string::npos);
    EXPECT_NE(decode_error("P4\n1 1\n\x80").find("PBM"), std::string::npos);
}

// ---- JPEG -------------------------------------------------------------------------------------

TEST(Jpeg, GreyAndRgbDecodeCloseToTheirPixels) {
    std::vector<std::uint8_t> px(32 * 32);
    for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) px[static_cast<std::size_t>(y * 32 + x)] = x < 16 ? 30 : 220;
    const GreyImage g = decode(stb_jpeg(32, 32, 1, px, 95));
    ASSERT_EQ(g.width, 32);
    ASSERT_EQ(g.height, 32);
    EXPECT_NEAR(g.at(4, 4), 30, 4);
    EXPECT_NEAR(g.at(28, 4), 220, 4);
    std::vector<std::uint8_t> rgb(16 * 16 * 3);
    for (std::size_t i = 0; i < rgb.size(); i += 3) rgb[i] = 255;  // pure red → luma 76
    EXPECT_NEAR(decode(stb_jpeg(16, 16, 3, rgb, 95)).at(8, 8), 76, 3);
}

TEST(Jpeg, LargePhotoIsDecodedAtAReducedScale) {
    std::vector<std::uint8_t> px(2000 * 1500, 200);
    const std::string file = stb_jpeg(2000, 1500, 1, px, 85);
    const GreyImage g = decode(file, 50'000'000, 256);
    EXPECT_EQ(g.width, 500);  // 1/4: the shorter side 375 ≥ 256, 1/8 would give 188
    EXPECT_EQ(g.height, 375);
    EXPECT_EQ(decode(file, 50'000'000, 0).width, 2000);
}

TEST(Jpeg, TruncatedOrCorruptIsRefused) {
    std::vector<std::uint8_t> px(64 * 64);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 37) % 251);
    const std::string file = stb_jpeg(64, 64, 1, px, 85);
    for (std::size_t keep : {std::size_t{3}, std::size_t{30}, file.size() / 2, file.size() - 2}) {
        const std::string msg = decode_error(file.substr(0, keep));
        EXPECT_NE(msg.find("pic: truncated or corrupt JPEG"), std::string::npos) << keep << ": " << msg;
    }
}

TEST(Jpeg, OverTheLimitIsRefusedFromTheHeader) {
    const std::string file = stb_jpeg(300, 200, 1, std::vector<std::uint8_t>(300 * 200, 9), 85);
    const std::string msg = decode_error(file, 50'000);
    EXPECT_NE(msg.find("pic: JPEG image is 300×200 = 60000 pixels, over the limit of 50000"), std::string::npos) << msg;
}

// ---- PGM / PPM --------------------------------------------------------------------------------

TEST(Pnm, PlainAndRawGreyAndColour) {
    EXPECT_EQ(decode("P2\n# a comment\n3 1\n255\n0 100 255\n").pixels, (std::vector<std::uint8_t>{0, 100, 255}));
    EXPECT_EQ(decode(std::string("P5 3 1 255\n\x00\x64\xff", 14)).pixels, (std::vector<std::uint8_t>{0, 100, 255}));
    EXPECT_EQ(decode("P3\n2 1\n255\n255 0 0  0 0 255\n").pixels, (std::vector<std::uint8_t>{76, 29}));
    EXPECT_EQ(decode(std::string("P6\n2 1\n255\n\xff\x00\x00\x00\xff\x00", 17)).pixels,
              (std::vector<std::uint8_t>{76, 150}));
}

TEST(Pnm, MaxvalAbove255) {
    // Plain maxval 1023: 1023 → 255, 512 → 128 (127.6 rounds up). Raw 16-bit is big-endian.
    EXPECT_EQ(decode("P2 2 1 1023 1023 512").pixels, (std::vector<std::uint8_t>{255, 128}));
    EXPECT_EQ(decode(std::string("P5 2 1 65535\n\x80\x80\xff\xff", 17)).pixels, (std::vector<std::uint8_t>{128, 255}));
    EXPECT_EQ(decode(std::string("P6 1 1 65535\n\xff\xff\x00\x00\x00\x00", 19)).pixels,
              (std::vector<std::uint8_t>{76}));
    // maxval 1: a two-level PGM.
    EXPECT_EQ(decode("P2 2 1 1 0 1").pixels, (std::vector<std::uint8_t>{0, 255}));
}

TEST(Pnm, BrokenFilesAreRefused) {
    EXPECT_NE(decode_error(std::string("P5 4 4 255\n\x01\x02", 13)).find("pic: corrupt PGM/PPM: the file is truncated"),
              std::string::npos);
    EXPECT_NE(decode_error("P2 2 1 255 0").find("truncated"), std::string::npos);
    EXPECT_NE(decode_error("P2 2 1 255 0 300").find("above maxval"), std::string::npos);
    EXPECT_NE(decode_error("P2 2 1 0 0 0").find("maxval 0"), std::string::npos);
    EXPECT_NE(decode_error("P2 2 1 70000 0 0").find("maxval 70000"), std::string::npos);
    EXPECT_NE(decode_error("P2 2 x 255 0 0").find("'x'"), std::string::npos);
    EXPECT_NE(decode_error("P2 2 1 255 0 0 junk").find("unexpected bytes"), std::string::npos);
    EXPECT_NE(decode_error("P5 0 5 255\n").find("pic: zero-size PGM image"), std::string::npos);
    EXPECT_NE(decode_error("P6 100000 100000 255\n").find("over the limit"), std::string::npos);
    EXPECT_NE(decode_error("P2 99999999999 1 255").find("too large"), std::string::npos);
}

// ---- files ------------------------------------------------------------------------------------

TEST(LoadFile, ReadsAFileAndNamesItInErrors) {
    mnistnn::test::TempDir dir;
    std::vector<std::uint8_t> px(80 * 60, 255);
    for (int y = 10; y < 50; ++y)
        for (int x = 30; x < 40; ++x) px[static_cast<std::size_t>(y * 80 + x)] = 0;
    mnistnn::test::write_text(dir.file("one.png"), stb_png(80, 60, 1, px));
    const DigitPixels d = load_digit_image(dir.file("one.png"));
    EXPECT_EQ(*std::max_element(d.begin(), d.end()), 255);
    EXPECT_THROW(load_digit_image(dir.file("missing.png")), IoError);
    EXPECT_THROW(load_digit_image(dir.path()), IoError);
    mnistnn::test::write_text(dir.file("text.png"), "hello");
    try {
        load_digit_image(dir.file("text.png"));
        FAIL();
    } catch (const ImageError& e) {
        EXPECT_NE(std::string(e.what()).find(dir.file("text.png") + ": not an image"), std::string::npos);
    }
}

}  // namespace
