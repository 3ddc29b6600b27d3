#include "mnistnn/augment.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "mnistnn/error.hpp"
#include "mnistnn/format.hpp"
#include "mnistnn/images.hpp"
#include "mnistnn/rng.hpp"

namespace mnistnn {
namespace {

constexpr int kSide = kImageSide;
constexpr float kCentre = 13.5f;
constexpr double kPi = 3.14159265358979323846;
constexpr int kMaxRadius = 84;  // ⌈3·28⌉

std::uint64_t mix64(std::uint64_t z) {  // SplitMix64's finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void require_range(const char* name, double value, double low, double high, bool high_open = false) {
    const bool ok = std::isfinite(value) && value >= low && (high_open ? value < high : value <= high);
    if (!ok) {
        throw UsageError(std::string("augmentation ") + name + " must be a finite number in [" + format_number(low) +
                         ", " + format_number(high) + (high_open ? ")" : "]") + ", got " + format_number(value));
    }
}

// Uniform in [−r, r] (r ≥ 0) from one draw.
float symmetric(Rng& rng, double r) { return static_cast<float>(r * (2.0 * rng.next_float01() - 1.0)); }

// out[i] = Σ_k g[k]·in[i + k·stride] over one line of 28 values (zero beyond the line), for the
// 28 lines of a 28×28 field; `along_rows` picks the direction. Loops run over 28 contiguous
// values so the compiler vectorises them.
void blur_pass(const float* in, float* out, const float* g, int radius, bool along_rows) {
    float pad[kSide + 2 * kMaxRadius];
    if (along_rows) {
        for (int y = 0; y < kSide; ++y) {
            std::fill_n(pad, kSide + 2 * radius, 0.0f);
            std::copy_n(in + y * kSide, kSide, pad + radius);
            float* o = out + y * kSide;
            std::fill_n(o, kSide, 0.0f);
            for (int k = 0; k <= 2 * radius; ++k)
                for (int x = 0; x < kSide; ++x) o[x] += g[k] * pad[x + k];
        }
    } else {
        std::fill_n(out, kPixels, 0.0f);
        for (int y = 0; y < kSide; ++y) {
            for (int k = 0; k <= 2 * radius; ++k) {
                const int yy = y + k - radius;
                if (yy < 0 || yy >= kSide) continue;
                const float* src = in + yy * kSide;
                float* o = out + y * kSide;
                for (int x = 0; x < kSide; ++x) o[x] += g[k] * src[x];
            }
        }
    }
}

}  // namespace

std::string to_string(AugmentKind kind) {
    switch (kind) {
        case AugmentKind::None: return "none";
        case AugmentKind::Affine: return "affine";
        case AugmentKind::Elastic: return "elastic";
    }
    return "none";
}

AugmentKind augment_from_string(const std::string& name) {
    if (name == "none") return AugmentKind::None;
    if (name == "affine") return AugmentKind::Affine;
    if (name == "elastic") return AugmentKind::Elastic;
    throw UsageError("unknown augmentation '" + name + "' (expected none, affine or elastic)");
}

void AugmentSettings::validate() const {
    require_range("rotation (degrees)", rotation, 0.0, 180.0);
    require_range("scale", scale, 0.0, 1.0, true);
    require_range("shear", shear, 0.0, 1.0);
    require_range("translation (pixels)", translation, 0.0, 14.0);
    require_range("elastic alpha", elastic_alpha, 0.0, 1000.0);
    require_range("elastic sigma", elastic_sigma, 0.5, 28.0);
}

std::uint64_t augment_seed(std::uint64_t seed, std::int64_t epoch, std::uint64_t row) {
    constexpr std::uint64_t kKey = 0x6175676d656e7421ULL;  // "augment!": apart from split and shuffles
    return mix64(mix64(mix64(seed ^ kKey) + static_cast<std::uint64_t>(epoch)) + row);
}

void resample_bilinear(const std::uint8_t* in, const AffineMap& map, const float* dx, const float* dy,
                       std::uint8_t* out) {
    auto pixel = [in](int y, int x) -> float {
        return (x < 0 || x >= kSide || y < 0 || y >= kSide) ? 0.0f : static_cast<float>(in[y * kSide + x]);
    };
    for (int y = 0; y < kSide; ++y) {
        const float v = static_cast<float>(y) - kCentre;
        for (int x = 0; x < kSide; ++x) {
            const float u = static_cast<float>(x) - kCentre;
            const int i = y * kSide + x;
            float sx = kCentre + map.a11 * u + map.a12 * v + map.tx;
            float sy = kCentre + map.a21 * u + map.a22 * v + map.ty;
            if (dx != nullptr) sx += dx[i];
            if (dy != nullptr) sy += dy[i];
            sx = std::clamp(sx, -2.0f, 30.0f);  // far outside reads zeros anyway; keeps floor() an int
            sy = std::clamp(sy, -2.0f, 30.0f);
            const float fx0 = std::floor(sx), fy0 = std::floor(sy);
            const float fx = sx - fx0, fy = sy - fy0;
            const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0);
            const float top = (1.0f - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1);
            const float bottom = (1.0f - fx) * pixel(y0 + 1, x0) + fx * pixel(y0 + 1, x0 + 1);
            const float value = (1.0f - fy) * top + fy * bottom;
            out[i] = static_cast<std::uint8_t>(std::clamp(value + 0.5f, 0.0f, 255.0f));
        }
    }
}

Augmenter::Augmenter(const AugmentSettings& settings) : settings_(settings) {
    settings_.validate();
    const double sigma = settings_.elastic_sigma;
    radius_ = std::min(kMaxRadius, static_cast<int>(std::ceil(3.0 * sigma)));
    double total = 0.0;
    double weights[2 * kMaxRadius + 1];
    for (int k = -radius_; k <= radius_; ++k) {
        weights[k + radius_] = std::exp(-0.5 * k * k / (sigma * sigma));
        total += weights[k + radius_];
    }
    for (int k = 0; k <= 2 * radius_; ++k) kernel_[k] = static_cast<float>(weights[k] / total);
}

AffineMap Augmenter::draw_affine(Rng& rng) const {
    const double theta = symmetric(rng, settings_.rotation) * kPi / 180.0;
    const double sx = 1.0 + symmetric(rng, settings_.scale);
    const double sy = 1.0 + symmetric(rng, settings_.scale);
    const double k = symmetric(rng, settings_.shear);
    AffineMap map;
    map.tx = symmetric(rng, settings_.translation);
    map.ty = symmetric(rng, settings_.translation);
    // A = R(θ)·[[1, k], [0, 1]]·diag(sx, sy).
    const double c = std::cos(theta), s = std::sin(theta);
    map.a11 = static_cast<float>(c * sx);
    map.a12 = static_cast<float>((c * k - s) * sy);
    map.a21 = static_cast<float>(s * sx);
    map.a22 = static_cast<float>((s * k + c) * sy);
    return map;
}

void Augmenter::elastic_field(Rng& rng, float* dx, float* dy) const {
    float noise[kPixels], tmp[kPixels];
    const auto alpha = static_cast<float>(settings_.elastic_alpha);
    for (float* field : {dx, dy}) {
        for (float& n : noise) n = 2.0f * rng.next_float01() - 1.0f;
        blur_pass(noise, tmp, kernel_, radius_, true);
        blur_pass(tmp, field, kernel_, radius_, false);
        for (int i = 0; i < kPixels; ++i) field[i] *= alpha;
    }
}

void Augmenter::apply(const std::uint8_t* in, std::uint8_t* out, std::uint64_t seed, std::int64_t epoch,
                      std::uint64_t row) const {
    if (settings_.kind == AugmentKind::None) {
        std::memcpy(out, in, kPixels);
        return;
    }
    Rng rng(augment_seed(seed, epoch, row));
    const AffineMap map = draw_affine(rng);
    if (settings_.kind == AugmentKind::Affine) {
        resample_bilinear(in, map, nullptr, nullptr, out);
        return;
    }
    float dx[kPixels], dy[kPixels];
    elastic_field(rng, dx, dy);
    resample_bilinear(in, map, dx, dy, out);
}

}  // namespace mnistnn
