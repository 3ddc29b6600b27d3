// Augmentation: bilinear resampling against hand-computed results, the elastic field's statistics,
// determinism per (seed, epoch, row), and refusal of bad settings.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "mnistnn/augment.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/images.hpp"
#include "mnistnn/rng.hpp"

namespace mnistnn {
namespace {

std::vector<std::uint8_t> random_digit(std::uint64_t seed) {
    Rng rng(seed);
    std::vector<std::uint8_t> d(kPixels);
    for (auto& p : d) p = static_cast<std::uint8_t>(rng.next_below(256));
    return d;
}

int at(const std::vector<std::uint8_t>& d, int y, int x) {
    return (x < 0 || x > 27 || y < 0 || y > 27) ? 0 : d[static_cast<std::size_t>(y * 28 + x)];
}

TEST(Resample, IdentityReturnsTheInputExactly) {
    const auto in = random_digit(1);
    std::vector<std::uint8_t> out(kPixels);
    resample_bilinear(in.data(), AffineMap{}, nullptr, nullptr, out.data());
    EXPECT_EQ(out, in);
    // A zero displacement field is the identity too.
    const std::vector<float> zero(kPixels, 0.0f);
    resample_bilinear(in.data(), AffineMap{}, zero.data(), zero.data(), out.data());
    EXPECT_EQ(out, in);
}

TEST(Resample, OnePixelTranslationShiftsByOnePixel) {
    const auto in = random_digit(2);
    std::vector<std::uint8_t> out(kPixels);
    AffineMap right;  // reads one column to the right: the digit moves one pixel left
    right.tx = 1.0f;
    resample_bilinear(in.data(), right, nullptr, nullptr, out.data());
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) ASSERT_EQ(out[static_cast<std::size_t>(y * 28 + x)], at(in, y, x + 1)) << y << "," << x;
    AffineMap up;  // reads one row above: the digit moves one pixel down
    up.ty = -1.0f;
    resample_bilinear(in.data(), up, nullptr, nullptr, out.data());
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) ASSERT_EQ(out[static_cast<std::size_t>(y * 28 + x)], at(in, y - 1, x));
}

TEST(Resample, HalfPixelTranslationAveragesNeighbours) {
    const auto in = random_digit(3);
    std::vector<std::uint8_t> out(kPixels);
    AffineMap half;
    half.tx = 0.5f;
    resample_bilinear(in.data(), half, nullptr, nullptr, out.data());
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
            // (a + b)/2 rounded half up: floor((a + b + 1)/2).
            const int expected = (at(in, y, x) + at(in, y, x + 1) + 1) / 2;
            ASSERT_EQ(out[static_cast<std::size_t>(y * 28 + x)], expected) << y << "," << x;
        }
}

TEST(Resample, QuarterTurnMovesEveryPixel) {
    const auto in = random_digit(4);
    std::vector<std::uint8_t> out(kPixels);
    AffineMap turn;  // src = c + [[0, −1], [1, 0]]·(dst − c): out(y, x) = in(x, 27 − y)
    turn.a11 = 0;
    turn.a12 = -1;
    turn.a21 = 1;
    turn.a22 = 0;
    resample_bilinear(in.data(), turn, nullptr, nullptr, out.data());
    for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) ASSERT_EQ(out[static_cast<std::size_t>(y * 28 + x)], at(in, x, 27 - y));
}

TEST(Resample, DisplacementFieldIsPerPixel) {
    const auto in = random_digit(5);
    std::vector<float> dx(kPixels, 0.0f), dy(kPixels, 0.0f);
    dx[10 * 28 + 7] = 2.0f;   // this pixel reads two columns right
    dy[20 * 28 + 3] = -0.25f; // this one a quarter row up
    std::vector<std::uint8_t> out(kPixels);
    resample_bilinear(in.data(), AffineMap{}, dx.data(), dy.data(), out.data());
    for (int i = 0; i < kPixels; ++i) {
        if (i == 10 * 28 + 7 || i == 20 * 28 + 3) continue;
        ASSERT_EQ(out[static_cast<std::size_t>(i)], in[static_cast<std::size_t>(i)]);
    }
    EXPECT_EQ(out[10 * 28 + 7], at(in, 10, 9));
    const double blended = 0.25 * at(in, 19, 3) + 0.75 * at(in, 20, 3);
    EXPECT_EQ(out[20 * 28 + 3], static_cast<int>(std::floor(blended + 0.5)));
}

// Statistics over many fields at the frame's centre, where the truncated kernel fits: noise
// uniform in [−1, 1) has variance 1/3, so the smoothed field has standard deviation
// α·√(1/3)·Σ_k g_k², and neighbours d pixels apart correlate as e^{−d²/(4σ²)} (the Gaussian
// convolved with itself).
TEST(Elastic, FieldMagnitudeAndSmoothnessMatchTheory) {
    AugmentSettings s;
    s.kind = AugmentKind::Elastic;
    s.elastic_sigma = 4.0;
    s.elastic_alpha = 34.0;
    const Augmenter aug(s);
    const int n = 4000;
    const int c = 13 * 28 + 13;
    double sum = 0, sum2 = 0, lag1 = 0, lag4 = 0, cross = 0;
    std::vector<float> dx(kPixels), dy(kPixels);
    for (int i = 0; i < n; ++i) {
        Rng rng(augment_seed(9, i, 0));
        aug.elastic_field(rng, dx.data(), dy.data());
        sum += dx[c];
        sum2 += dx[c] * dx[c];
        lag1 += dx[c] * dx[c + 1];
        lag4 += dx[c] * dx[c + 4 * 28];
        cross += dx[c] * dy[c];
    }
    double g2 = 0;
    const int r = 12;
    double total = 0;
    for (int k = -r; k <= r; ++k) total += std::exp(-0.5 * k * k / 16.0);
    for (int k = -r; k <= r; ++k) g2 += std::pow(std::exp(-0.5 * k * k / 16.0) / total, 2);
    const double expected_sd = 34.0 * std::sqrt(1.0 / 3.0) * g2;
    const double var = sum2 / n;
    EXPECT_NEAR(std::sqrt(var), expected_sd, 0.06 * expected_sd);  // ≈ 1.4 px
    EXPECT_NEAR(sum / n, 0.0, 0.1 * expected_sd);
    EXPECT_NEAR(lag1 / n / var, std::exp(-1.0 / 64.0), 0.03);   // 0.984: smooth
    EXPECT_NEAR(lag4 / n / var, std::exp(-16.0 / 64.0), 0.06);  // 0.779
    EXPECT_NEAR(cross / n / var, 0.0, 0.08);                     // dx and dy independent
}

TEST(Elastic, AlphaScalesTheFieldLinearly) {
    AugmentSettings s;
    s.kind = AugmentKind::Elastic;
    s.elastic_alpha = 10.0;
    const Augmenter a10(s);
    s.elastic_alpha = 30.0;
    const Augmenter a30(s);
    std::vector<float> dx10(kPixels), dy10(kPixels), dx30(kPixels), dy30(kPixels);
    Rng r1(5), r2(5);
    a10.elastic_field(r1, dx10.data(), dy10.data());
    a30.elastic_field(r2, dx30.data(), dy30.data());
    for (int i = 0; i < kPixels; ++i) {
        ASSERT_NEAR(dx30[static_cast<std::size_t>(i)], 3.0f * dx10[static_cast<std::size_t>(i)], 1e-4f);
        ASSERT_NEAR(dy30[static_cast<std::size_t>(i)], 3.0f * dy10[static_cast<std::size_t>(i)], 1e-4f);
    }
}

TEST(Augmenter, SameSeedEpochRowGivesTheSameDigitAndOthersDiffer) {
    const auto in = random_digit(6);
    AugmentSettings s;
    s.kind = AugmentKind::Elastic;
    s.shear = 0.1;
    const Augmenter aug(s);
    std::vector<std::uint8_t> a(kPixels), b(kPixels), c(kPixels), d(kPixels), e(kPixels);
    aug.apply(in.data(), a.data(), 1, 3, 17);
    Augmenter(s).apply(in.data(), b.data(), 1, 3, 17);
    EXPECT_EQ(a, b);
    aug.apply(in.data(), c.data(), 1, 4, 17);
    aug.apply(in.data(), d.data(), 1, 3, 18);
    aug.apply(in.data(), e.data(), 2, 3, 17);
    EXPECT_NE(a, c);
    EXPECT_NE(a, d);
    EXPECT_NE(a, e);
    EXPECT_NE(a, in);
}

TEST(Augmenter, NoneCopiesAndZeroRangesAreTheIdentity) {
    const auto in = random_digit(7);
    std::vector<std::uint8_t> out(kPixels);
    Augmenter(AugmentSettings{}).apply(in.data(), out.data(), 1, 2, 3);
    EXPECT_EQ(out, in);
    AugmentSettings s;
    s.kind = AugmentKind::Elastic;
    s.rotation = s.scale = s.shear = s.translation = s.elastic_alpha = 0.0;
    Augmenter(s).apply(in.data(), out.data(), 1, 2, 3);
    EXPECT_EQ(out, in);
}

TEST(Augmenter, AffineStaysWithinItsRanges) {
    AugmentSettings s;
    s.kind = AugmentKind::Affine;
    s.rotation = 0;
    s.scale = 0.2;
    s.shear = 0;
    s.translation = 3;
    const Augmenter aug(s);
    for (int i = 0; i < 500; ++i) {
        Rng rng(augment_seed(1, 0, static_cast<std::uint64_t>(i)));
        const AffineMap m = aug.draw_affine(rng);
        EXPECT_EQ(m.a12, 0.0f);
        EXPECT_EQ(m.a21, 0.0f);
        EXPECT_GE(m.a11, 0.8f);
        EXPECT_LE(m.a11, 1.2f);
        EXPECT_LE(std::abs(m.tx), 3.0f);
        EXPECT_LE(std::abs(m.ty), 3.0f);
    }
}

void expect_refused(void (*set)(AugmentSettings&), const std::string& field) {
    AugmentSettings s;
    s.kind = AugmentKind::Elastic;
    set(s);
    try {
        s.validate();
        FAIL() << "accepted bad " << field;
    } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << "no CLI flags in library errors";
    }
    EXPECT_THROW(Augmenter{s}, UsageError);
}

TEST(AugmentSettings, BadValuesAreRefusedNamingTheSetting) {
    expect_refused([](AugmentSettings& s) { s.elastic_sigma = -4.0; }, "sigma");
    expect_refused([](AugmentSettings& s) { s.elastic_sigma = 0.0; }, "sigma");
    expect_refused([](AugmentSettings& s) { s.elastic_alpha = -1.0; }, "alpha");
    expect_refused([](AugmentSettings& s) { s.rotation = std::nan(""); }, "rotation");
    expect_refused([](AugmentSettings& s) { s.rotation = -5.0; }, "rotation");
    expect_refused([](AugmentSettings& s) { s.scale = 1.0; }, "scale");
    expect_refused([](AugmentSettings& s) { s.shear = 2.0; }, "shear");
    expect_refused([](AugmentSettings& s) { s.translation = INFINITY; }, "translation");
    EXPECT_NO_THROW(AugmentSettings{}.validate());
}

TEST(AugmentSettings, NamesRoundTripAndUnknownIsRefused) {
    for (AugmentKind k : {AugmentKind::None, AugmentKind::Affine, AugmentKind::Elastic})
        EXPECT_EQ(augment_from_string(to_string(k)), k);
    EXPECT_THROW(augment_from_string("rotate"), UsageError);
}

}  // namespace
}  // namespace mnistnn
