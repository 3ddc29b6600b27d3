#pragma once
// On-the-fly data augmentation of 28×28 uint8 digits: random affine maps (rotation, per-axis
// scale, shear, translation) and elastic distortions (Simard et al. 2003), resampled bilinearly.
// Every distortion is a pure function of (seed, epoch, row), so augmented batches are the same for
// any thread count and a resumed run sees the same digits as an uninterrupted one. Math only.
#include <cstddef>
#include <cstdint>
#include <string>

namespace mnistnn {

class Rng;

enum class AugmentKind { None, Affine, Elastic };  // Elastic = affine + elastic field

std::string to_string(AugmentKind kind);
// Throws UsageError for anything but "none" / "affine" / "elastic".
AugmentKind augment_from_string(const std::string& name);

// Ranges of the random distortion drawn for each (seed, epoch, row); every parameter is uniform
// in its range. (Defaults: see README, "Augmentation".)
struct AugmentSettings {
    AugmentKind kind = AugmentKind::None;
    double rotation = 10.0;     // degrees: θ ∈ [−rotation, rotation]; 0 ≤ rotation ≤ 180
    double scale = 0.10;        // per axis: s ∈ [1 − scale, 1 + scale]; 0 ≤ scale < 1
    double shear = 0.0;         // shear factor k ∈ [−shear, shear]; 0 ≤ shear ≤ 1
    double translation = 1.0;   // pixels per axis: t ∈ [−translation, translation]; 0 ≤ t ≤ 14
    double elastic_alpha = 38.0;  // field scale α in pixels (elastic only); 0 ≤ α ≤ 1000 (bench/augment_sweep.sh)
    double elastic_sigma = 6.0;   // Gaussian σ in pixels (elastic only); 0.5 ≤ σ ≤ 28

    // Throws UsageError naming the first setting out of range (or not finite).
    void validate() const;
};

// The sampling map from an output pixel (x = column, y = row, 0..27) to the input position it
// reads: src = c + A·(dst − c) + t + d(dst), c = (13.5, 13.5) the frame's centre, d the elastic
// displacement (zero for affine). So the digit appears rotated by −θ, scaled by 1/s, moved by −t.
struct AffineMap {
    float a11 = 1, a12 = 0, a21 = 0, a22 = 1;  // A (row-major)
    float tx = 0, ty = 0;                     // t
};

// out[y·28 + x] = bilinear sample of `in` at src(x, y), pixels outside the frame read as 0,
// rounded to nearest (so the identity map returns `in` exactly, and an integer translation moves
// it by whole pixels). dx, dy: 784-entry displacement fields (row-major like the pixels), or null.
void resample_bilinear(const std::uint8_t* in, const AffineMap& map, const float* dx, const float* dy,
                       std::uint8_t* out);

// Draws distortions and applies them. Cheap to copy; thread-safe (const after construction).
class Augmenter {
public:
    // Validates the settings; precomputes the Gaussian kernel (radius ⌈3σ⌉, normalised to sum 1).
    explicit Augmenter(const AugmentSettings& settings);

    const AugmentSettings& settings() const { return settings_; }
    bool active() const { return settings_.kind != AugmentKind::None; }

    // out = the distortion of (seed, epoch, row) applied to one 784-byte digit (a copy of `in` when
    // the kind is None). Draws, from Rng(augment_seed(seed, epoch, row)), θ, sx, sy, k, tx, ty in
    // that order, then (elastic) the 2·784 noise values of dx and dy.
    void apply(const std::uint8_t* in, std::uint8_t* out, std::uint64_t seed, std::int64_t epoch,
               std::uint64_t row) const;

    // The elastic displacement field drawn from `rng`: for each of dx, dy (784 floats each, filled
    // in that order), noise uniform in [−1, 1) per pixel, smoothed by the separable Gaussian of σ
    // (zero beyond the frame), times α.
    void elastic_field(Rng& rng, float* dx, float* dy) const;

    // The affine part drawn from `rng` (see apply for the order).
    AffineMap draw_affine(Rng& rng) const;

private:
    AugmentSettings settings_;
    int radius_ = 0;
    float kernel_[2 * 84 + 1] = {};  // radius ≤ ⌈3·28⌉
};

// The seed of row `row`'s distortion in epoch `epoch` (a fixed mix of the three).
std::uint64_t augment_seed(std::uint64_t seed, std::int64_t epoch, std::uint64_t row);

}  // namespace mnistnn
