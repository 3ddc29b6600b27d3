// Real digits through digit_image: 1,000 digits of the official MNIST test set become "a person's
// pictures" (dark ink on white, scaled up 4–10× bilinearly, off-centre on a larger canvas of
// varying aspect) saved as grey PNG, JPEG (quality 85) and RGBA PNG with a transparent background.
// Their predictions must agree with the predictions on the original rows, for the default model
// and for the README's best recipe, both trained once here from data/train.csv.
#include <gtest/gtest.h>

#include <filesystem>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "image_maker.hpp"
#include "mnistnn/digit_image.hpp"
#include "mnistnn/loader.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "test_util.hpp"

namespace {

using namespace mnistnn;
using mnistnn::test::bytes_of;

constexpr std::size_t kDigits = 1000;

// Deterministic generator for the pictures' scale, canvas and placement (same every run).
class Lcg {
public:
    explicit Lcg(std::uint64_t seed) : state_(seed * 6364136223846793005ull + 1442695040888963407ull) {}
    double uniform(double lo, double hi) {
        state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
        return lo + (hi - lo) * static_cast<double>(state_ >> 11) / 9007199254740992.0;
    }

private:
    std::uint64_t state_;
};

struct Picture {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> ink;  // 0 … 255, the digit's own values scaled up, on a 0 canvas
};

// The 28×28 digit scaled by `k` with bilinear interpolation (pixel centres aligned), placed at
// (left, top) on a width×height canvas of zeros.
Picture person_picture(const std::uint8_t* digit, double k, int width, int height, int left, int top) {
    Picture p;
    p.width = width;
    p.height = height;
    p.ink.assign(static_cast<std::size_t>(width * height), 0);
    const int side = static_cast<int>(std::lround(28 * k));
    const auto src = [&](int x, int y) -> double {
        if (x < 0 || y < 0 || x >= 28 || y >= 28) return 0.0;
        return digit[y * 28 + x];
    };
    for (int y = 0; y < side; ++y) {
        const double sy = (y + 0.5) / k - 0.5;
        const int y0 = static_cast<int>(std::floor(sy));
        const double fy = sy - y0;
        for (int x = 0; x < side; ++x) {
            const double sx = (x + 0.5) / k - 0.5;
            const int x0 = static_cast<int>(std::floor(sx));
            const double fx = sx - x0;
            const double v = (1 - fy) * ((1 - fx) * src(x0, y0) + fx * src(x0 + 1, y0)) +
                             fy * ((1 - fx) * src(x0, y0 + 1) + fx * src(x0 + 1, y0 + 1));
            p.ink[static_cast<std::size_t>((top + y) * width + left + x)] = static_cast<std::uint8_t>(std::lround(v));
        }
    }
    return p;
}

// Where digit `index` goes: its scale and canvas, the same every run.
struct Placement {
    double k = 1.0;  // scale: picture pixels per MNIST pixel
    int width = 0;
    int height = 0;
    int left = 0;
    int top = 0;
};

Placement random_placement(std::size_t index) {
    Lcg rng(index + 1);
    Placement p;
    p.k = rng.uniform(4.0, 10.0);
    const int side = static_cast<int>(std::lround(28 * p.k));
    // Extra canvas of 10 %–80 % of the digit on each axis, independently: aspects from 1:1.6 to 1.6:1.
    p.width = side + static_cast<int>(side * rng.uniform(0.1, 0.8));
    p.height = side + static_cast<int>(side * rng.uniform(0.1, 0.8));
    p.left = static_cast<int>((p.width - side) * rng.uniform(0.0, 1.0));
    p.top = static_cast<int>((p.height - side) * rng.uniform(0.0, 1.0));
    return p;
}

Picture random_picture(const std::uint8_t* digit, std::size_t index) {
    const Placement p = random_placement(index);
    return person_picture(digit, p.k, p.width, p.height, p.left, p.top);
}

// The picture as dark ink on white paper.
GreyImage paper_of(const Picture& p) {
    GreyImage paper{p.width, p.height, std::vector<std::uint8_t>(p.ink.size())};
    for (std::size_t i = 0; i < p.ink.size(); ++i) paper.pixels[i] = static_cast<std::uint8_t>(255 - p.ink[i]);
    return paper;
}

enum class Format { GreyPng, Jpeg85, RgbaPng };
const char* format_name(Format f) { return f == Format::GreyPng ? "grey PNG" : f == Format::Jpeg85 ? "JPEG q85" : "RGBA PNG"; }

// Dark ink on white paper (or black ink with alpha on a transparent background), encoded.
std::string encode(const Picture& p, Format format) {
    const std::size_t n = p.ink.size();
    if (format == Format::RgbaPng) {
        std::vector<std::uint8_t> rgba(n * 4, 0);
        for (std::size_t i = 0; i < n; ++i) rgba[i * 4 + 3] = p.ink[i];
        return test::stb_png(p.width, p.height, 4, rgba);
    }
    const std::vector<std::uint8_t> paper = paper_of(p).pixels;
    if (format == Format::GreyPng) return test::stb_png(p.width, p.height, 1, paper);
    std::vector<std::uint8_t> rgb(n * 3);
    for (std::size_t i = 0; i < n; ++i) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = paper[i];
    return test::stb_jpeg(p.width, p.height, 3, rgb, 85);
}

int argmax(const Eigen::VectorXf& v) {
    Eigen::Index i = 0;
    v.maxCoeff(&i);
    return static_cast<int>(i);
}

// What the tests share, made on first use and kept for the process: under ctest each test runs in
// its own process, so each trains only the model it needs.
struct Shared {
    test::TempDir dir;
    std::unique_ptr<Model> default_model;
    std::unique_ptr<Model> best_model;
    std::unique_ptr<Images> test_rows;
    std::vector<DigitPixels> normalised[3];  // per Format: the pictures' samples
};

Shared& shared() {
    static Shared s;
    return s;
}

// The models are trained once per test run by the ctest fixture real_digit_models
// (tests/train_real_digit_models.sh) into MNISTNN_REAL_DIGIT_MODELS.
Model trained(const std::string& name) {
    const std::string path = std::string(MNISTNN_REAL_DIGIT_MODELS) + "/" + name;
    if (!std::filesystem::exists(path))
        throw std::runtime_error(path + " is missing: run the real_digit_models ctest fixture first");
    return load_model(path);
}

const Model& default_model() {
    auto& m = shared().default_model;
    if (!m) m = std::make_unique<Model>(trained("default.safetensors"));  // --alpha 0.1 --iters 1000
    return *m;
}

// The README's 98 % recipe.
const Model& best_model() {
    auto& m = shared().best_model;
    if (!m) m = std::make_unique<Model>(trained("best.safetensors"));
    return *m;
}

const Images& test_rows() {
    auto& t = shared().test_rows;
    if (!t) {
        t = std::make_unique<Images>(load_images(test::source_path("data/test.csv")));
        if (t->rows < kDigits || !t->has_labels()) throw std::runtime_error("data/test.csv: too few labelled rows");
    }
    return *t;
}

const std::vector<DigitPixels>& normalised(Format f) {
    auto& samples = shared().normalised[static_cast<int>(f)];
    if (samples.empty()) {
        for (std::size_t i = 0; i < kDigits; ++i) {
            const std::string file = encode(random_picture(test_rows().sample(i), i), f);
            samples.push_back(normalize_digit_image(bytes_of(file), file.size(), "digit " + std::to_string(i)));
        }
    }
    return samples;
}

constexpr Format kFormats[] = {Format::GreyPng, Format::Jpeg85, Format::RgbaPng};

// Agreement with the original rows' predictions (at least min_agree of the 1,000), and accuracy on
// both, for one model.
void check_model(const Model& model, const char* what, std::size_t min_agree) {
    const Images& rows = test_rows();
    std::size_t original_correct = 0;
    std::vector<int> original(kDigits);
    for (std::size_t i = 0; i < kDigits; ++i) {
        original[i] = argmax(predict_one(model.params, rows.sample(i)));
        original_correct += original[i] == rows.labels[i];
    }
    const double original_accuracy = 100.0 * static_cast<double>(original_correct) / kDigits;
    for (Format f : kFormats) {
        std::size_t agree = 0, correct = 0;
        const auto& samples = normalised(f);
        for (std::size_t i = 0; i < kDigits; ++i) {
            const int p = argmax(predict_one(model.params, samples[i].data()));
            agree += p == original[i];
            correct += p == rows.labels[i];
        }
        const double accuracy = 100.0 * static_cast<double>(correct) / kDigits;
        std::printf("%s, %s: agreement %.1f %%, accuracy %.1f %% (rows: %.1f %%)\n", what, format_name(f),
                    100.0 * static_cast<double>(agree) / kDigits, accuracy, original_accuracy);
        EXPECT_GE(agree, min_agree) << what << ", " << format_name(f);
        EXPECT_NEAR(accuracy, original_accuracy, 1.5) << what << ", " << format_name(f);
    }
}

// The issue asks for 97 % agreement with both models. The best recipe (98.4 % accurate) reaches 99.2 %.
// The default model (784→10→10, 87.6 % on these rows) reaches 95.0 %: NOT the 97 % asked for. Its
// predictions flip on half-pixel shifts: MNIST's own digits sit up to ±0.5 px off (14, 14) (their
// centring was rounded), and the exact centring the issue asks for moves them there. With each
// picture's true scale and exact centring it is 94.8 % too: see
// ExactCentringNotTheScaleEstimateCostsTheDefaultModelsAgreement below. The bound below guards what
// is reached. Accuracy stays within 1.5 points, as asked.
TEST(RealDigits, DefaultModelPredictsPicturesLikeTheirRows) { check_model(default_model(), "default model", 945); }

TEST(RealDigits, BestRecipePredictsPicturesLikeTheirRows) { check_model(best_model(), "best recipe", 970); }

TEST(RealDigits, MnistRowWrittenAsPngPredictsExactlyAsTheRow) {
    const Images& rows = test_rows();
    const Model& model = default_model();
    for (std::size_t i = 0; i < 200; ++i) {
        const std::uint8_t* row = rows.sample(i);
        const std::string file = test::stb_png(28, 28, 1, std::vector<std::uint8_t>(row, row + kPixels));
        const DigitPixels d = normalize_digit_image(bytes_of(file), file.size(), "row.png");
        ASSERT_TRUE(std::equal(d.begin(), d.end(), row)) << "row " << i;
        const Eigen::VectorXf a = predict_one(model.params, row);
        const Eigen::VectorXf b = predict_one(model.params, d.data());
        ASSERT_EQ(a, b) << "row " << i;  // identical probabilities, bit for bit
    }
}

TEST(RealDigits, PicturesHaveTheirMassAtTheCentre) {
    for (Format f : kFormats) {
        for (const DigitPixels& d : normalised(f)) {
            double total = 0, sx = 0, sy = 0;
            for (int i = 0; i < kPixels; ++i) {
                total += d[static_cast<std::size_t>(i)];
                sx += (i % 28) * d[static_cast<std::size_t>(i)];
                sy += (i / 28) * d[static_cast<std::size_t>(i)];
            }
            ASSERT_GT(total, 0);
            EXPECT_NEAR(sx / total, 14.0, 0.5) << format_name(f);
            EXPECT_NEAR(sy / total, 14.0, 0.5) << format_name(f);
        }
    }
}

// What the exact centring costs the default model, measured with what only this test knows:
// each picture's true scale and the true position of its MNIST pixel grid. The picture's ink is
// resampled (area_resample, as the normaliser does) at the true scale and then
//  - kept on the original grid (the ideal inverse: every difference left is the bilinear blur);
//  - centred exactly at (14, 14), as the issue asks and the normaliser does (centred_field);
//  - moved by the whole pixels that bring its centre nearest (14, 14), as MNIST's own centring did.
// The pictures are fair (the ideal inverse agrees at least 97 %), the normaliser's estimated box
// costs nothing against the true scale (within 0.5 points). Measured (2026-12-05): normaliser
// 95.0 %, ideal inverse 97.9 %, true scale with exact centre 94.8 %, true grid with MNIST's rounded
// shift 97.1 %. So exact centring, not the estimate, keeps the default model below 97 %. Only
// MNIST's rounded shift on the true grid gets near it, and a real picture has no such grid.
TEST(RealDigits, ExactCentringNotTheScaleEstimateCostsTheDefaultModelsAgreement) {
    const Model& model = default_model();
    const Images& rows = test_rows();
    enum Way { Normaliser, IdealInverse, TrueScaleExactCentre, TrueScaleRoundedShift, kWays };
    const char* names[kWays] = {"normaliser (estimated box, exact centre)", "ideal inverse (true scale and grid)",
                                "true scale, exact centre", "true scale and grid, MNIST's rounded shift"};
    std::size_t agree[kWays] = {};
    for (std::size_t i = 0; i < kDigits; ++i) {
        const std::uint8_t* digit = rows.sample(i);
        const int original = argmax(predict_one(model.params, digit));
        const Placement place = random_placement(i);
        const GreyImage paper =
            paper_of(person_picture(digit, place.k, place.width, place.height, place.left, place.top));
        const InkLevels levels = ink_levels(paper, Invert::Auto, "digit");

        Resampling grid;
        grid.scale = place.k;
        grid.x = place.left;
        grid.y = place.top;
        grid.width = grid.height = kImageSide;
        const InkImage ideal = area_resample(paper, levels, grid);
        const auto [cx, cy] = centre_of_mass(ideal);
        Resampling rounded = grid;
        rounded.x -= std::round(14.0 - cx) * grid.scale;
        rounded.y -= std::round(14.0 - cy) * grid.scale;

        const DigitPixels samples[kWays] = {normalize_grey_image(paper, "digit"), field_pixels(ideal),
                                            field_pixels(centred_field(paper, levels, grid)),
                                            field_pixels(area_resample(paper, levels, rounded))};
        for (int w = 0; w < kWays; ++w) agree[w] += argmax(predict_one(model.params, samples[w].data())) == original;
    }
    for (int w = 0; w < kWays; ++w)
        std::printf("default model, %s: agreement %.1f %%\n", names[w], 100.0 * static_cast<double>(agree[w]) / kDigits);
    EXPECT_GE(agree[IdealInverse], 970u) << "the pictures themselves must keep the digits";
    EXPECT_GE(agree[Normaliser] + 5, agree[TrueScaleExactCentre]) << "the estimated box must cost at most 0.5 points";
}

}  // namespace
