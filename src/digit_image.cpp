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

InkRun ink_run(const InkLevels& levels, float min_ink) {
    InkRun run;
    for (int g = 0; g < 256; ++g) {
        if (levels.ink[static_cast<std::size_t>(g)] > min_ink) {
            run.lo = std::min(run.lo, g);
            run.hi = g;
        }
    }
    return run;
}

constexpr double kCentre = kImageSide / 2;  // 14, where MNIST puts its centres of mass

bool decide_inversion(int background, const Extremes& e) { return background - e.darkest > e.lightest - background; }

// Area-averaging taps: output i covers the source interval [start + i·s, start + (i + 1)·s),
// clipped to [0, length); each covered source pixel weighs its covered length / s.
struct Taps {
    std::vector<int> first;     // per output: where its taps start in src/weight (plus an end mark)
    std::vector<int> src;
    std::vector<float> weight;
};

Taps area_taps(int length, int outputs, double s, double start) {
    Taps taps;
    taps.first.reserve(static_cast<std::size_t>(outputs) + 1);
    for (int i = 0; i < outputs; ++i) {
        taps.first.push_back(static_cast<int>(taps.src.size()));
        const double lo = std::max(start + i * s, 0.0);
        const double hi = std::min(start + (i + 1) * s, static_cast<double>(length));
        for (int k = static_cast<int>(std::floor(lo)); k < hi; ++k) {
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

InkBox ink_bounding_box(const GreyImage& image, const InkLevels& levels, float min_ink) {
    const InkRun run = ink_run(levels, min_ink);
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

InkImage area_resample(const GreyImage& image, const InkLevels& levels, const Resampling& r) {
    InkImage out;
    out.width = r.width;
    out.height = r.height;
    const Taps across = area_taps(image.width, out.width, r.scale, r.x);
    const Taps down = area_taps(image.height, out.height, r.scale, r.y);
    const auto at = [](const std::vector<int>& v, int i) { return v[static_cast<std::size_t>(i)]; };
    const auto w = static_cast<std::size_t>(out.width);
    out.ink.assign(w * static_cast<std::size_t>(out.height), 0.0f);
    if (down.src.empty()) return out;

    // Horizontal pass over the source rows the vertical taps use: each → out.width averages.
    const int row0 = down.src.front(), row1 = down.src.back();
    std::vector<float> rows(static_cast<std::size_t>(row1 - row0 + 1) * w);
    for (int y = row0; y <= row1; ++y) {
        const std::uint8_t* src = image.pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(image.width);
        float* dst = rows.data() + static_cast<std::size_t>(y - row0) * w;
        for (int i = 0; i < out.width; ++i) {
            float sum = 0.0f;
            for (int t = at(across.first, i); t < at(across.first, i + 1); ++t) {
                sum += across.weight[static_cast<std::size_t>(t)] * levels.ink[src[at(across.src, t)]];
            }
            dst[i] = sum;
        }
    }
    // Vertical pass.
    for (int j = 0; j < out.height; ++j) {
        float* dst = out.ink.data() + static_cast<std::size_t>(j) * w;
        for (int t = at(down.first, j); t < at(down.first, j + 1); ++t) {
            const float weight = down.weight[static_cast<std::size_t>(t)];
            const float* src = rows.data() + static_cast<std::size_t>(at(down.src, t) - row0) * w;
            for (std::size_t i = 0; i < w; ++i) dst[i] += weight * src[i];
        }
    }
    return out;
}

double fit_scale(const InkBox& box, int side) { return static_cast<double>(std::max(box.width, box.height)) / side; }

InkImage fit_ink(const GreyImage& image, const InkLevels& levels, const InkBox& box, int side) {
    Resampling r;
    r.scale = fit_scale(box, side);
    r.x = box.x;
    r.y = box.y;
    r.width = std::clamp(static_cast<int>(std::ceil(box.width / r.scale - 1e-9)), 1, side);
    r.height = std::clamp(static_cast<int>(std::ceil(box.height / r.scale - 1e-9)), 1, side);
    return area_resample(image, levels, r);
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

InkImage centred_field(const GreyImage& image, const InkLevels& levels, Resampling r) {
    InkImage field = area_resample(image, levels, r);
    for (int pass = 0; pass < 4; ++pass) {
        const auto [cx, cy] = centre_of_mass(field);
        if (std::abs(cx - kCentre) < 0.01 && std::abs(cy - kCentre) < 0.01) break;
        r.x -= (kCentre - cx) * r.scale;
        r.y -= (kCentre - cy) * r.scale;
        field = area_resample(image, levels, r);
    }
    return field;
}

DigitPixels field_pixels(const InkImage& field) {
    const float peak = *std::max_element(field.ink.begin(), field.ink.end());
    const double gain = peak > 0 ? 255.0 / peak : 0.0;
    DigitPixels out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<std::uint8_t>(std::clamp(std::lround(field.ink[i] * gain), 0L, 255L));
    }
    return out;
}

DigitPixels centre_in_field(const GreyImage& image, const InkLevels& levels, const InkBox& box) {
    Resampling r;
    r.scale = fit_scale(box, kDigitBox);
    r.width = r.height = kImageSide;
    // Start from the fitted digit's centre of mass; centred_field corrects by what the field shows.
    const auto [fx, fy] = centre_of_mass(fit_ink(image, levels, box));
    r.x = box.x - (kCentre - fx) * r.scale;
    r.y = box.y - (kCentre - fy) * r.scale;
    return field_pixels(centred_field(image, levels, r));
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
    const InkBox box = ink_bounding_box(image, levels, kBoxInk);
    if (box.width == 0) no_ink(name);
    return centre_in_field(image, levels, box);
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
