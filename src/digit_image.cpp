// A decoded picture → one MNIST-style 28×28 sample, the way MNIST's digits were made: ink levels
// (background 0, ink 255), crop to the ink, fit the longest side to 20 px by area averaging,
// centre of mass at (14, 14) with sub-pixel shifts resampled. Math only (decoding is
// src/image_decode.cpp).
#include "mnistnn/digit_image.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

namespace mnistnn {
namespace {

[[noreturn]] void no_ink(const std::string& name) {
    throw ImageError(name + ": no ink found (the picture is blank: nothing stands out from its background)");
}

// Median of a 256-bin histogram holding `count` values.
int histogram_median(const std::array<std::uint64_t, 256>& histogram, std::uint64_t count) {
    std::uint64_t seen = 0;
    for (int v = 0; v < 256; ++v) {
        seen += histogram[static_cast<std::size_t>(v)];
        if (2 * seen >= count) return v;
    }
    return 255;
}

// The border's median grey level: outermost rows and columns, each pixel once.
int border_median(const GreyImage& image) {
    std::array<std::uint64_t, 256> histogram{};
    std::uint64_t count = 0;
    const auto add = [&](int x, int y) {
        ++histogram[image.at(x, y)];
        ++count;
    };
    for (int x = 0; x < image.width; ++x) {
        add(x, 0);
        if (image.height > 1) add(x, image.height - 1);
    }
    for (int y = 1; y + 1 < image.height; ++y) {
        add(0, y);
        if (image.width > 1) add(image.width - 1, y);
    }
    return histogram_median(histogram, count);
}

struct Extremes {
    int darkest = 255;
    int lightest = 0;
};

Extremes grey_extremes(const GreyImage& image) {
    std::uint8_t lo = 255, hi = 0;
    for (const std::uint8_t v : image.pixels) {  // a plain loop: the compiler vectorises it
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    return {lo, hi};
}

// Grey levels with ink > 0 form one run at the dark end (inverted) or the light end: [lo, hi].
struct InkRun {
    int lo = 256;
    int hi = -1;
};

InkRun ink_run(const InkLevels& levels) {
    InkRun run;
    for (int g = 0; g < 256; ++g) {
        if (levels.ink[static_cast<std::size_t>(g)] > 0.0f) {
            run.lo = std::min(run.lo, g);
            run.hi = g;
        }
    }
    return run;
}

bool decide_inversion(int background, const Extremes& e) { return background - e.darkest > e.lightest - background; }

// Linear area-averaging taps: output i covers source [i·s, (i+1)·s) clipped to [0, length).
struct Taps {
    std::vector<int> first;             // per output: index into src/weight
    std::vector<int> src;
    std::vector<float> weight;          // covered fraction / s: the taps of an interior output sum to 1
};

Taps area_taps(int length, int outputs, double s) {
    Taps taps;
    taps.first.reserve(static_cast<std::size_t>(outputs) + 1);
    for (int i = 0; i < outputs; ++i) {
        taps.first.push_back(static_cast<int>(taps.src.size()));
        const double lo = i * s;
        const double hi = std::min((i + 1) * s, static_cast<double>(length));
        for (int k = static_cast<int>(std::floor(lo)); k < length && k < hi; ++k) {
            const double overlap = std::min(k + 1.0, hi) - std::max(static_cast<double>(k), lo);
            if (overlap <= 0) continue;
            taps.src.push_back(k);
            taps.weight.push_back(static_cast<float>(overlap / s));
        }
    }
    taps.first.push_back(static_cast<int>(taps.src.size()));
    return taps;
}

}  // namespace

bool dark_ink_on_light(const GreyImage& image) {
    return decide_inversion(border_median(image), grey_extremes(image));
}

InkLevels ink_levels(const GreyImage& image, Invert invert, const std::string& name) {
    InkLevels levels;
    levels.background = border_median(image);
    const Extremes e = grey_extremes(image);
    levels.inverted = invert == Invert::Auto ? decide_inversion(levels.background, e) : invert == Invert::Yes;

    const auto ink_of = [&](int grey) { return levels.inverted ? 255 - grey : grey; };
    const int background = ink_of(levels.background);
    const int peak = levels.inverted ? 255 - e.darkest : e.lightest;
    if (peak - background < kMinContrast) no_ink(name);

    const double floor = background + static_cast<double>(kNoiseFloor) * (peak - background);
    for (int g = 0; g < 256; ++g) {
        const double v = (ink_of(g) - floor) / (peak - floor);
        levels.ink[static_cast<std::size_t>(g)] = static_cast<float>(std::clamp(v, 0.0, 1.0) * 255.0);
    }
    return levels;
}

InkBox ink_bounding_box(const GreyImage& image, const InkLevels& levels) {
    const InkRun run = ink_run(levels);
    const auto is_ink = [&](std::uint8_t g) { return g >= run.lo && g <= run.hi; };
    int x0 = image.width, y0 = image.height, x1 = -1, y1 = -1;
    for (int y = 0; y < image.height; ++y) {
        const std::uint8_t* row = image.pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(image.width);
        bool any = false;
        for (int x = 0; x < image.width; ++x) any |= is_ink(row[x]);  // vectorised; most rows are paper
        if (!any) continue;
        int first = 0, last = image.width - 1;
        while (!is_ink(row[first])) ++first;
        while (!is_ink(row[last])) --last;
        x0 = std::min(x0, first);
        x1 = std::max(x1, last);
        y0 = std::min(y0, y);
        y1 = y;
    }
    if (x1 < 0) return {};
    return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

InkImage fit_ink(const GreyImage& image, const InkLevels& levels, const InkBox& box, int side) {
    const double s = static_cast<double>(std::max(box.width, box.height)) / side;
    InkImage out;
    out.width = std::clamp(static_cast<int>(std::ceil(box.width / s - 1e-9)), 1, side);
    out.height = std::clamp(static_cast<int>(std::ceil(box.height / s - 1e-9)), 1, side);
    const Taps across = area_taps(box.width, out.width, s);
    const Taps down = area_taps(box.height, out.height, s);

    // Horizontal pass: every row of the box → out.width averages.
    std::vector<float> rows(static_cast<std::size_t>(box.height) * static_cast<std::size_t>(out.width));
    for (int y = 0; y < box.height; ++y) {
        const std::uint8_t* src = image.pixels.data() +
                                  static_cast<std::size_t>(box.y + y) * static_cast<std::size_t>(image.width) +
                                  static_cast<std::size_t>(box.x);
        float* dst = rows.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(out.width);
        for (int i = 0; i < out.width; ++i) {
            float sum = 0.0f;
            for (int t = across.first[static_cast<std::size_t>(i)]; t < across.first[static_cast<std::size_t>(i) + 1]; ++t) {
                sum += across.weight[static_cast<std::size_t>(t)] * levels.ink[src[across.src[static_cast<std::size_t>(t)]]];
            }
            dst[i] = sum;
        }
    }
    // Vertical pass.
    out.ink.assign(static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height), 0.0f);
    for (int j = 0; j < out.height; ++j) {
        float* dst = out.ink.data() + static_cast<std::size_t>(j) * static_cast<std::size_t>(out.width);
        for (int t = down.first[static_cast<std::size_t>(j)]; t < down.first[static_cast<std::size_t>(j) + 1]; ++t) {
            const float w = down.weight[static_cast<std::size_t>(t)];
            const float* src = rows.data() + static_cast<std::size_t>(down.src[static_cast<std::size_t>(t)]) * static_cast<std::size_t>(out.width);
            for (int i = 0; i < out.width; ++i) dst[i] += w * src[i];
        }
    }
    return out;
}

std::array<double, 2> centre_of_mass(const InkImage& image) {
    double total = 0, sx = 0, sy = 0;
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < image.width; ++x) {
            const double v = image.at(x, y);
            total += v;
            sx += x * v;
            sy += y * v;
        }
    }
    if (total <= 0) return {0.0, 0.0};
    return {sx / total, sy / total};
}

DigitPixels place_in_field(const InkImage& fitted) {
    const auto [cx, cy] = centre_of_mass(fitted);
    const double centre = kImageSide / 2;  // 14, where MNIST puts its centres of mass
    const double dx = centre - cx, dy = centre - cy;
    const int kx = static_cast<int>(std::floor(dx)), ky = static_cast<int>(std::floor(dy));
    const double tx = dx - kx, ty = dy - ky;

    std::array<double, kPixels> field{};
    const auto add = [&](int x, int y, double v) {
        if (x >= 0 && x < kImageSide && y >= 0 && y < kImageSide) field[static_cast<std::size_t>(y * kImageSide + x)] += v;
    };
    for (int y = 0; y < fitted.height; ++y) {
        for (int x = 0; x < fitted.width; ++x) {
            const double v = fitted.at(x, y);
            if (v == 0.0) continue;
            add(x + kx, y + ky, v * (1 - tx) * (1 - ty));
            add(x + kx + 1, y + ky, v * tx * (1 - ty));
            add(x + kx, y + ky + 1, v * (1 - tx) * ty);
            add(x + kx + 1, y + ky + 1, v * tx * ty);
        }
    }
    const double peak = *std::max_element(field.begin(), field.end());
    DigitPixels out{};
    const double gain = peak > 0 ? 255.0 / peak : 0.0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<std::uint8_t>(std::clamp(std::lround(field[i] * gain), 0L, 255L));
    }
    return out;
}

DigitPixels normalize_grey_image(const GreyImage& image, const std::string& name, const DigitImageOptions& options) {
    if (image.width == kImageSide && image.height == kImageSide) {
        // Already MNIST-sized: taken as a sample as it is, only turned light-on-dark if needed.
        const Extremes e = grey_extremes(image);
        if (e.lightest - e.darkest < kMinContrast) no_ink(name);
        const bool invert = options.invert == Invert::Auto ? decide_inversion(border_median(image), e)
                                                           : options.invert == Invert::Yes;
        DigitPixels out{};
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i] = invert ? static_cast<std::uint8_t>(255 - image.pixels[i]) : image.pixels[i];
        }
        if (*std::max_element(out.begin(), out.end()) == 0) no_ink(name);
        return out;
    }
    const InkLevels levels = ink_levels(image, options.invert, name);
    const InkBox box = ink_bounding_box(image, levels);
    if (box.width == 0) no_ink(name);
    return place_in_field(fit_ink(image, levels, box));
}

DigitPixels normalize_digit_image(const std::uint8_t* data, std::size_t size, const std::string& name,
                                  const DigitImageOptions& options) {
    DecodeOptions decode;
    decode.max_pixels = options.max_pixels;
    decode.min_side = options.decode_min_side;
    return normalize_grey_image(decode_image(data, size, name, decode), name, options);
}

DigitPixels load_digit_image(const std::string& path, const DigitImageOptions& options) {
    struct Closer {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) throw IoError("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fileno(file.get()), &st) != 0) throw IoError("cannot read " + path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw IoError("cannot read " + path + ": " + std::strerror(EISDIR));
    if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > options.max_file_bytes) {
        throw ImageError(path + ": file is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                         std::to_string(options.max_file_bytes) + " for an image");
    }
    std::vector<std::uint8_t> bytes;
    std::uint8_t buffer[1 << 16];
    for (;;) {
        const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
        bytes.insert(bytes.end(), buffer, buffer + n);
        if (bytes.size() > options.max_file_bytes) {
            throw ImageError(path + ": more than " + std::to_string(options.max_file_bytes) + " bytes, over the limit for an image");
        }
        if (n < sizeof buffer) break;
    }
    if (std::ferror(file.get())) throw IoError("cannot read " + path + ": " + std::strerror(errno));
    return normalize_digit_image(bytes.data(), bytes.size(), path, options);
}

}  // namespace mnistnn
