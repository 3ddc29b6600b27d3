// Writes fuzz_image's seed corpus, tests/fuzz/corpus/image/: small valid pictures of every accepted
// form (PNG grey/RGB/RGBA/palette/16-bit/interlaced, JPEG grey/RGB, PGM/PPM plain and raw, 8- and
// 16-bit) and a few broken ones. Deterministic. Built by hand from the test helpers:
//   g++ -std=c++17 -Iinclude -Itests tests/fuzz/make_image_corpus.cpp build/libmnistnn_test_images.a \
//       -lpng -lz -o /tmp/make_image_corpus && /tmp/make_image_corpus tests/fuzz/corpus/image
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "image_maker.hpp"

using namespace mnistnn::test;

namespace {

// A 24×20 "1": a vertical bar with a flag, dark ink (0) on white (255), channel-replicated.
std::vector<std::uint8_t> digit(int channels, bool alpha_ink) {
    const int w = 24, h = 20;
    std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * channels));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const bool ink = (x >= 10 && x < 14 && y >= 2 && y < 18) || (y >= 2 && y < 5 && x >= 6 && x < 14);
            for (int c = 0; c < channels; ++c) {
                std::uint8_t v = ink ? 0 : 255;
                if (alpha_ink) v = c == channels - 1 ? (ink ? 255 : 0) : 0;
                px[static_cast<std::size_t>((y * w + x) * channels + c)] = v;
            }
        }
    return px;
}

void write(const std::string& dir, const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/image";
    write(dir, "grey.png", stb_png(24, 20, 1, digit(1, false)));
    write(dir, "rgb.png", stb_png(24, 20, 3, digit(3, false)));
    write(dir, "rgba-transparent.png", stb_png(24, 20, 4, digit(4, true)));
    write(dir, "interlaced.png", libpng_interlaced(24, 20, 1, digit(1, false)));
    std::vector<std::uint8_t> g16;
    for (std::uint8_t v : digit(1, false)) {
        g16.push_back(v);
        g16.push_back(v);
    }
    write(dir, "grey16.png", png_file(24, 20, 0, 16, png_scanlines(g16, 20, 48)));
    write(dir, "palette-trns.png",
          png_file(4, 2, 3, 8, png_scanlines({0, 1, 1, 0, 1, 0, 0, 1}, 2, 4),
                   png_chunk("PLTE", std::string("\x00\x00\x00\xff\xff\xff", 6)) + png_chunk("tRNS", std::string("\x80", 1))));
    write(dir, "mnist-28x28.png", stb_png(28, 28, 1, std::vector<std::uint8_t>(28 * 28, 0)));
    write(dir, "grey.jpg", stb_jpeg(24, 20, 1, digit(1, false), 85));
    write(dir, "rgb.jpg", stb_jpeg(24, 20, 3, digit(3, false), 85));
    write(dir, "plain.pgm", "P2\n# comment\n3 2\n255\n0 128 255\n255 0 255\n");
    write(dir, "plain16.pgm", "P2 2 2 65535 0 65535 1000 30000\n");
    write(dir, "plain.ppm", "P3 2 1 255 255 0 0 0 0 255\n");
    write(dir, "raw.pgm", std::string("P5 2 2 255\n\x00\xff\x80\x10", 15));
    write(dir, "raw16.pgm", std::string("P5 2 1 65535\n\x80\x80\xff\xff", 17));
    write(dir, "raw.ppm", std::string("P6 1 2 255\n\xff\x00\x00\x00\x00\xff", 17));
    write(dir, "raw16.ppm", std::string("P6 1 1 1023\n\x03\xff\x00\x00\x01\x00", 18));
    write(dir, "truncated.png", stb_png(24, 20, 1, digit(1, false)).substr(0, 60));
    write(dir, "not-an-image.txt", "label,pixel0\n1,0\n");
    return 0;
}
