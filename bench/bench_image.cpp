// Pictures in, predictions out: images per second for decode + normalise + predict
// (normalize_digit_image then predict_one, the work of `predict FILE` and `serve` per picture),
// on a 300×300 RGB PNG drawing and a 2000×1500 JPEG photo of a digit, both made in memory with
// stb_image_write. References in the same run: the decode alone (libspng / libjpeg-turbo) and
// stb_image's decode of the same bytes, so the ratio, not the absolute figure, is the result.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "image_maker.hpp"
#include "mnistnn/digit_image.hpp"
#include "mnistnn/image_decode.hpp"
#include "mnistnn/network.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace {

using mnistnn::test::bytes_of;

// A "7" drawn with a round pen of radius r: ink darkness 0…1 at (x, y) for a w×h picture whose
// digit spans `size` pixels from (x0, y0). Anti-aliased over one pixel.
double seven(double x, double y, double x0, double y0, double size, double r) {
    const auto segment = [&](double ax, double ay, double bx, double by) {
        ax = x0 + ax * size, ay = y0 + ay * size, bx = x0 + bx * size, by = y0 + by * size;
        const double dx = bx - ax, dy = by - ay;
        const double t = std::clamp(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
        return std::hypot(x - (ax + t * dx), y - (ay + t * dy));
    };
    const double d = std::min(segment(0.1, 0.1, 0.7, 0.1), segment(0.7, 0.1, 0.35, 0.95));
    return std::clamp(r + 0.5 - d, 0.0, 1.0);
}

// A 300×300 RGB drawing: black pen on white, digit off-centre.
std::string drawing_png() {
    const int w = 300, h = 300;
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w * h * 3));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const auto v = static_cast<std::uint8_t>(std::lround(255 * (1 - seven(x, y, 60, 40, 200, 9))));
            for (int c = 0; c < 3; ++c) rgb[static_cast<std::size_t>((y * w + x) * 3 + c)] = v;
        }
    return mnistnn::test::stb_png(w, h, 3, rgb);
}

// A 2000×1500 photo: grey-blue paper lit unevenly, grain, a dark-blue pen digit 900 px tall.
std::string photo_jpeg() {
    const int w = 2000, h = 1500;
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * h * 3);
    std::uint64_t state = 88172645463325252ull;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            const double grain = static_cast<double>(state % 17) - 8.0;
            const double light = 200 + 30 * (x / static_cast<double>(w)) - 20 * (y / static_cast<double>(h));
            const double ink = seven(x, y, 700, 300, 900, 28);
            const double paper[3] = {light + grain, light + grain + 3, light + grain + 8};
            const double pen[3] = {30, 35, 90};
            for (int c = 0; c < 3; ++c) {
                const double v = paper[c] * (1 - ink) + pen[c] * ink;
                rgb[(static_cast<std::size_t>(y) * w + x) * 3 + static_cast<std::size_t>(c)] =
                    static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
            }
        }
    return mnistnn::test::stb_jpeg(w, h, 3, rgb, 90);
}

const std::string& png_file() {
    static const std::string file = drawing_png();
    return file;
}

const std::string& jpeg_file() {
    static const std::string file = photo_jpeg();
    return file;
}

const mnistnn::Params& model() {
    static const mnistnn::Params params = mnistnn::init_params(10, mnistnn::Activation::ReLU, mnistnn::Init::Uniform, 0);
    return params;
}

// decode + normalise + predict, one picture per iteration.
void picture_to_prediction(benchmark::State& state, const std::string& file, int min_side) {
    mnistnn::DigitImageOptions options;
    options.decode_min_side = min_side;
    for (auto _ : state) {
        const mnistnn::DigitPixels sample = mnistnn::normalize_digit_image(bytes_of(file), file.size(), "bench", options);
        const Eigen::VectorXf p = mnistnn::predict_one(model(), sample.data());
        benchmark::DoNotOptimize(p.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["bytes"] = static_cast<double>(file.size());
}

void decode_only(benchmark::State& state, const std::string& file, int min_side) {
    mnistnn::DecodeOptions options;
    options.min_side = min_side;
    for (auto _ : state) {
        const mnistnn::GreyImage g = mnistnn::decode_image(bytes_of(file), file.size(), "bench", options);
        benchmark::DoNotOptimize(g.pixels.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void stb_decode(benchmark::State& state, const std::string& file) {
    for (auto _ : state) {
        int w = 0, h = 0, n = 0;
        stbi_uc* px = stbi_load_from_memory(bytes_of(file), static_cast<int>(file.size()), &w, &h, &n, 1);
        benchmark::DoNotOptimize(px);
        stbi_image_free(px);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_Png300_DecodeNormalisePredict(benchmark::State& s) { picture_to_prediction(s, png_file(), 256); }
void BM_Png300_DecodeOnly(benchmark::State& s) { decode_only(s, png_file(), 256); }
void BM_Png300_StbDecodeReference(benchmark::State& s) { stb_decode(s, png_file()); }
void BM_Jpeg2000x1500_DecodeNormalisePredict(benchmark::State& s) { picture_to_prediction(s, jpeg_file(), 256); }
void BM_Jpeg2000x1500_FullSize_DecodeNormalisePredict(benchmark::State& s) { picture_to_prediction(s, jpeg_file(), 0); }
void BM_Jpeg2000x1500_DecodeOnly(benchmark::State& s) { decode_only(s, jpeg_file(), 256); }
void BM_Jpeg2000x1500_StbDecodeReference(benchmark::State& s) { stb_decode(s, jpeg_file()); }

BENCHMARK(BM_Png300_DecodeNormalisePredict)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Png300_DecodeOnly)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Png300_StbDecodeReference)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Jpeg2000x1500_DecodeNormalisePredict)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Jpeg2000x1500_FullSize_DecodeNormalisePredict)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Jpeg2000x1500_DecodeOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Jpeg2000x1500_StbDecodeReference)->Unit(benchmark::kMillisecond);

}  // namespace
