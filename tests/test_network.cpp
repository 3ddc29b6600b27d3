// Network math: gradients against central finite differences, softmax stability, determinism.

// GCC 12 with AVX-512 reports Eigen's vectorised exp of doubles (used by the double-precision
// reference below) as reading an uninitialised value inside GCC's own intrinsics header: GCC bug
// 105593, fixed in GCC 13. Without this, MNISTNN_WERROR=ON could not build this test natively.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/rng.hpp"

namespace mnistnn {
namespace {

struct Batch {
    std::vector<std::uint8_t> pixels;
    std::vector<std::uint8_t> labels;
    std::size_t m = 0;
};

Batch random_batch(std::size_t m, std::uint64_t seed) {
    Rng rng(seed);
    Batch b;
    b.m = m;
    b.pixels.resize(m * kPixels);
    b.labels.resize(m);
    for (auto& p : b.pixels) p = static_cast<std::uint8_t>(rng.next_below(256));
    for (auto& l : b.labels) l = static_cast<std::uint8_t>(rng.next_below(kClasses));
    return b;
}

// Like random_batch, but shaped like handwritten digits for the kernels' zero skipping: each
// 16-pixel vector is all zero with probability 1/2, vectors 0–6 and 45–48 (the top and bottom
// margins) are zero in every sample, and every seventh sample is blank.
Batch sparse_batch(std::size_t m, std::uint64_t seed) {
    Batch b = random_batch(m, seed);
    Rng rng(seed + 1000);
    for (std::size_t j = 0; j < m; ++j)
        for (std::size_t v = 0; v < 49; ++v)
            if (j % 7 == 3 || v < 7 || v >= 45 || rng.next_below(2) == 0)
                std::fill_n(b.pixels.begin() + static_cast<std::ptrdiff_t>(j * kPixels + v * 16), 16, std::uint8_t{0});
    return b;
}

// Independent reference: mean cross-entropy in double precision, written from the formulas.
double reference_loss(const Eigen::MatrixXd& W1, const Eigen::VectorXd& b1, const Eigen::MatrixXd& W2,
                      const Eigen::VectorXd& b2, Activation act, const Batch& batch) {
    double total = 0.0;
    for (std::size_t j = 0; j < batch.m; ++j) {
        Eigen::VectorXd x(kPixels);
        for (int i = 0; i < kPixels; ++i) x(i) = batch.pixels[j * kPixels + static_cast<std::size_t>(i)] / 255.0;
        Eigen::VectorXd z1 = W1 * x + b1;
        Eigen::VectorXd a1 = act == Activation::ReLU ? z1.cwiseMax(0.0).eval()
                                                     : (1.0 / (1.0 + (-z1.array()).exp())).matrix().eval();
        Eigen::VectorXd z2 = W2 * a1 + b2;
        const double zmax = z2.maxCoeff();
        const double lse = zmax + std::log((z2.array() - zmax).exp().sum());
        total += lse - z2(batch.labels[j]);
    }
    return total / static_cast<double>(batch.m);
}

// ‖a − n‖ / max(‖a‖ + ‖n‖, tiny): the usual scale-free gradient-check score.
double relative_error(const Eigen::MatrixXd& analytic, const Eigen::MatrixXd& numeric) {
    const double denom = std::max(analytic.norm() + numeric.norm(), 1e-12);
    return (analytic - numeric).norm() / denom;
}

void check_gradients(Activation act, Init init) {
    const int H = 6;
    const Batch batch = random_batch(7, 42);
    Params p = init_params(H, act, init, 3);
    if (init == Init::Uniform) {
        // Smaller weights keep ReLU kinks away from the finite-difference step.
        p.W1 *= 0.1f;
    }
    BatchEngine engine(H, 1);
    Gradients g(H);
    const BatchTotals totals = engine.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g);

    Eigen::MatrixXd W1 = p.W1.cast<double>(), W2 = p.W2.cast<double>();
    Eigen::VectorXd b1 = p.b1.cast<double>(), b2 = p.b2.cast<double>();
    EXPECT_NEAR(totals.loss_sum / static_cast<double>(batch.m), reference_loss(W1, b1, W2, b2, act, batch), 1e-4);

    constexpr double h = 1e-5;
    auto numeric = [&](auto& param) {
        Eigen::MatrixXd grad(param.rows(), param.cols());
        for (Eigen::Index r = 0; r < param.rows(); ++r) {
            for (Eigen::Index c = 0; c < param.cols(); ++c) {
                const double saved = param(r, c);
                param(r, c) = saved + h;
                const double up = reference_loss(W1, b1, W2, b2, act, batch);
                param(r, c) = saved - h;
                const double down = reference_loss(W1, b1, W2, b2, act, batch);
                param(r, c) = saved;
                grad(r, c) = (up - down) / (2 * h);
            }
        }
        return grad;
    };
    EXPECT_LE(relative_error(g.dW2.cast<double>(), numeric(W2)), 1e-3);
    EXPECT_LE(relative_error(g.db2.cast<double>(), numeric(b2)), 1e-3);
    EXPECT_LE(relative_error(g.db1.cast<double>(), numeric(b1)), 1e-3);
    EXPECT_LE(relative_error(g.dW1.cast<double>(), numeric(W1)), 1e-3);
    // Per-unit bias gradients, not one scalar repeated (the notebook's bug).
    EXPECT_NE(g.db1(0), g.db1(1));
    EXPECT_NE(g.db2(0), g.db2(1));
}

TEST(NetworkGradients, ReluMatchesFiniteDifferences) { check_gradients(Activation::ReLU, Init::Uniform); }
TEST(NetworkGradients, SigmoidMatchesFiniteDifferences) { check_gradients(Activation::Sigmoid, Init::Uniform); }
TEST(NetworkGradients, HeInitReluMatchesFiniteDifferences) { check_gradients(Activation::ReLU, Init::He); }

TEST(NetworkGradients, DividedByBatchRowsNotMore) {
    // Duplicating every sample must leave the mean gradient unchanged.
    const int H = 4;
    Batch once = random_batch(3, 9);
    Batch twice = once;
    twice.m = 6;
    twice.pixels.insert(twice.pixels.end(), once.pixels.begin(), once.pixels.end());
    twice.labels.insert(twice.labels.end(), once.labels.begin(), once.labels.end());
    const Params p = init_params(H, Activation::ReLU, Init::Uniform, 1);
    BatchEngine engine(H, 1);
    Gradients g1(H), g2(H);
    engine.gradients(p, once.pixels.data(), once.labels.data(), once.m, g1);
    engine.gradients(p, twice.pixels.data(), twice.labels.data(), twice.m, g2);
    EXPECT_LE((g1.dW1 - g2.dW1).cwiseAbs().maxCoeff(), 1e-6f);
    EXPECT_LE((g1.db2 - g2.db2).cwiseAbs().maxCoeff(), 1e-6f);
}

TEST(Softmax, StableForHugeLogits) {
    Eigen::MatrixXf Z(3, 2);
    Z << 1000.0f, -1000.0f, 1001.0f, -1000.0f, 999.0f, -1001.0f;
    softmax_columns(Z);
    EXPECT_TRUE(Z.allFinite());
    EXPECT_NEAR(Z.col(0).sum(), 1.0f, 1e-6f);
    EXPECT_NEAR(Z(1, 0), 1.0 / (1.0 + std::exp(-1.0) + std::exp(-2.0)), 1e-6);
    EXPECT_NEAR(Z(0, 1), Z(1, 1), 1e-7f);
}

TEST(Softmax, LossFiniteWhenLabelProbabilityUnderflows) {
    Params p = init_params(2, Activation::ReLU, Init::Uniform, 0);
    p.b2.setZero();
    p.b2(3) = 500.0f;  // P[y != 3] underflows to 0 in float
    std::vector<std::uint8_t> pixels(kPixels, 0), labels{0};
    const BatchTotals t = evaluate(p, pixels.data(), labels.data(), 1, 1);
    EXPECT_TRUE(std::isfinite(t.loss_sum));
    EXPECT_GT(t.loss_sum, 400.0);
}

TEST(Network, ForwardMatchesEngineAndPredictOne) {
    const Batch batch = random_batch(300, 5);
    const Params p = init_params(8, Activation::ReLU, Init::He, 2);
    std::vector<std::uint8_t> predicted(batch.m);
    predict_classes(p, batch.pixels.data(), batch.m, 2, predicted.data());
    Eigen::MatrixXf X;
    pixels_to_input(batch.pixels.data(), batch.m, X);
    Eigen::MatrixXf P;
    forward(p, X, P);
    for (std::size_t j = 0; j < batch.m; ++j) {
        Eigen::Index arg = 0;
        P.col(static_cast<Eigen::Index>(j)).maxCoeff(&arg);
        EXPECT_EQ(predicted[j], arg) << "column " << j;
        const Eigen::VectorXf one = predict_one(p, batch.pixels.data() + j * kPixels);
        EXPECT_LE((one - P.col(static_cast<Eigen::Index>(j))).cwiseAbs().maxCoeff(), 1e-6f);
    }
}

// predict_one skips the zero pixels; it must still give exactly the bits of forward() on one
// column (whose product is Eigen's matrix-vector product), for any H (vector rows and scalar tail
// rows), both activations, and digits from empty to full.
TEST(Network, PredictOneIsBitIdenticalToForwardOnOneColumn) {
    Rng rng(77);
    std::vector<std::vector<std::uint8_t>> samples;
    samples.emplace_back(kPixels, 0);    // no ink at all
    samples.emplace_back(kPixels, 255);  // all ink
    for (int s = 0; s < 30; ++s) {
        std::vector<std::uint8_t> px(kPixels, 0);
        const std::uint64_t ink_in = 2 + rng.next_below(8);  // 1 in 2 … 1 in 9 pixels inked
        for (auto& v : px)
            if (rng.next_below(ink_in) == 0) v = static_cast<std::uint8_t>(1 + rng.next_below(255));
        samples.push_back(px);
    }
    for (int hidden : {1, 3, 4, 5, 10, 17, 64, 100, 128, 256, 300, 800}) {
        for (Activation activation : {Activation::ReLU, Activation::Sigmoid}) {
            const Params p = init_params(hidden, activation, Init::He, static_cast<std::uint64_t>(hidden));
            for (std::size_t i = 0; i < samples.size(); ++i) {
                Eigen::MatrixXf X, P;
                pixels_to_input(samples[i].data(), 1, X);
                forward(p, X, P);
                const Eigen::VectorXf one = predict_one(p, samples[i].data());
                ASSERT_EQ(one.size(), kClasses);
                EXPECT_EQ(std::memcmp(one.data(), P.data(), sizeof(float) * kClasses), 0)
                    << "H " << hidden << ", " << to_string(activation) << ", sample " << i;
            }
        }
    }
}

TEST(Network, BitIdenticalForAnyThreadCount) {
    const Batch batch = random_batch(5000, 11);
    ASSERT_GT(chunk_count(batch.m), 1u);
    const Params p = init_params(10, Activation::ReLU, Init::Uniform, 4);
    Gradients g1(10), g2(10), g3(10);
    BatchEngine one(10, 1), two(10, 2), three(10, 3);
    const BatchTotals t1 = one.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g1);
    const BatchTotals t2 = two.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g2);
    const BatchTotals t3 = three.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g3);
    EXPECT_TRUE((g1.dW1.array() == g2.dW1.array()).all());
    EXPECT_TRUE((g1.dW1.array() == g3.dW1.array()).all());
    EXPECT_TRUE((g1.db1.array() == g2.db1.array()).all());
    EXPECT_TRUE((g1.dW2.array() == g3.dW2.array()).all());
    EXPECT_EQ(t1.loss_sum, t2.loss_sum);
    EXPECT_EQ(t1.correct, t3.correct);
}

TEST(Network, InitUniformIsNotebookRange) {
    const Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    EXPECT_EQ(p.W1.rows(), 10);
    EXPECT_EQ(p.W1.cols(), kPixels);
    EXPECT_GE(p.W1.minCoeff(), -0.5f);
    EXPECT_LT(p.W1.maxCoeff(), 0.5f);
    EXPECT_NE(p.b1(0), 0.0f);
    // Same seed, same weights; another seed, other weights.
    EXPECT_TRUE((init_params(10, Activation::ReLU, Init::Uniform, 0).W1.array() == p.W1.array()).all());
    EXPECT_FALSE((init_params(10, Activation::ReLU, Init::Uniform, 1).W1.array() == p.W1.array()).all());
}

TEST(Network, InitHeHasExpectedScale) {
    const Params p = init_params(256, Activation::ReLU, Init::He, 0);
    const double var = p.W1.cast<double>().array().square().mean();
    EXPECT_NEAR(var, 2.0 / kPixels, 0.1 * 2.0 / kPixels);
    EXPECT_EQ(p.b1.cwiseAbs().maxCoeff(), 0.0f);
}

TEST(Network, NamesRoundTripAndRejectUnknown) {
    EXPECT_EQ(activation_from_string(to_string(Activation::Sigmoid)), Activation::Sigmoid);
    EXPECT_EQ(init_from_string(to_string(Init::Xavier)), Init::Xavier);
    EXPECT_THROW(activation_from_string("tanh"), UsageError);
    EXPECT_THROW(init_from_string("zeros"), UsageError);
    EXPECT_THROW(init_params(0, Activation::ReLU, Init::Uniform, 0), UsageError);
}

TEST(Network, PixelScaleIsDivisionBy255) {
    const float* t = pixel_scale_table();
    EXPECT_EQ(t[0], 0.0f);
    EXPECT_EQ(t[255], 1.0f);
    EXPECT_EQ(t[51], 51.0f / 255.0f);
}


// ---------------------------------------------------------------------------------------------
// The fused fast path (BatchEngine) against a straightforward whole-batch implementation in
// double precision, written from the formulas in network.hpp:
//   X = pixels/255 (784×m)   Z1 = W1·X + b1   A1 = g(Z1)   Z2 = W2·A1 + b2   P = softmax(Z2)
//   dZ2 = (P − Y)/m   dW2 = dZ2·A1ᵀ   db2 = Σ_j dZ2   dZ1 = (W2ᵀ·dZ2) ⊙ g′(Z1)   dW1 = dZ1·Xᵀ   db1 = Σ_j dZ1
struct Reference {
    Eigen::MatrixXd dW1, dW2;
    Eigen::VectorXd db1, db2;
    double loss = 0.0;              // mean cross-entropy
    std::size_t correct = 0;        // columns whose argmax is the label
    std::vector<int> predicted;     // argmax per column
    std::vector<bool> clear_argmax;  // top two logits differ by more than 1e-4
    std::vector<bool> near_kink;     // per hidden unit: |Z1| < 1e-4 for some column (ReLU only)
};

Reference reference_gradients(const Params& p, const Batch& batch) {
    const auto m = static_cast<Eigen::Index>(batch.m);
    const Eigen::Index H = p.hidden();
    Eigen::MatrixXd X(kPixels, m);
    for (Eigen::Index j = 0; j < m; ++j)
        for (Eigen::Index i = 0; i < kPixels; ++i) X(i, j) = batch.pixels[static_cast<std::size_t>(j * kPixels + i)] / 255.0;
    const Eigen::MatrixXd W1 = p.W1.cast<double>(), W2 = p.W2.cast<double>();
    const Eigen::VectorXd b1 = p.b1.cast<double>(), b2 = p.b2.cast<double>();
    const bool relu = p.activation == Activation::ReLU;

    const Eigen::MatrixXd Z1 = (W1 * X).colwise() + b1;
    const Eigen::MatrixXd A1 = relu ? Z1.cwiseMax(0.0).eval() : (1.0 / (1.0 + (-Z1.array()).exp())).matrix().eval();
    const Eigen::MatrixXd Z2 = (W2 * A1).colwise() + b2;
    Eigen::MatrixXd P(kClasses, m);
    Reference r;
    r.predicted.resize(batch.m);
    r.clear_argmax.resize(batch.m);
    for (Eigen::Index j = 0; j < m; ++j) {
        const double zmax = Z2.col(j).maxCoeff();
        P.col(j) = (Z2.col(j).array() - zmax).exp().matrix();
        const double sum = P.col(j).sum();
        P.col(j) /= sum;
        const int y = batch.labels[static_cast<std::size_t>(j)];
        r.loss += std::log(sum) - (Z2(y, j) - zmax);
        Eigen::Index arg = 0;
        Z2.col(j).maxCoeff(&arg);
        r.predicted[static_cast<std::size_t>(j)] = static_cast<int>(arg);
        if (arg == y) ++r.correct;
        Eigen::VectorXd others = Z2.col(j);
        others(arg) = -std::numeric_limits<double>::infinity();
        r.clear_argmax[static_cast<std::size_t>(j)] = zmax - others.maxCoeff() > 1e-4;
    }
    r.loss /= static_cast<double>(m);

    Eigen::MatrixXd dZ2 = P;
    for (Eigen::Index j = 0; j < m; ++j) dZ2(batch.labels[static_cast<std::size_t>(j)], j) -= 1.0;
    dZ2 /= static_cast<double>(m);
    r.dW2 = dZ2 * A1.transpose();
    r.db2 = dZ2.rowwise().sum();
    Eigen::MatrixXd dZ1 = W2.transpose() * dZ2;
    if (relu)
        dZ1 = (Z1.array() > 0.0).select(dZ1, 0.0);
    else
        dZ1.array() *= A1.array() * (1.0 - A1.array());
    r.dW1 = dZ1 * X.transpose();
    r.db1 = dZ1.rowwise().sum();
    r.near_kink.assign(static_cast<std::size_t>(H), false);
    if (relu)
        for (Eigen::Index h = 0; h < H; ++h) r.near_kink[static_cast<std::size_t>(h)] = Z1.row(h).cwiseAbs().minCoeff() < 1e-4;
    return r;
}

// Fast path vs reference for one configuration. Under ReLU, hidden units whose pre-activation
// lies within 1e-4 of the kink for some sample are left out of the dW1/db1 comparison: float and
// double may legitimately put that sample on different sides (there are only a few such units).
void check_fast_path(int H, Activation act, std::size_t m, int threads, bool sparse = false) {
    SCOPED_TRACE("H=" + std::to_string(H) + " " + to_string(act) + " m=" + std::to_string(m) +
                 " threads=" + std::to_string(threads) + (sparse ? " sparse" : ""));
    const Batch batch = sparse ? sparse_batch(m, 100 + static_cast<std::uint64_t>(H))
                               : random_batch(m, 100 + static_cast<std::uint64_t>(H));
    Params p = init_params(H, act, Init::He, 7 + static_cast<std::uint64_t>(H));
    if (sparse) {
        // A blank sample has Z1 = b1: He's zero biases would put every unit on the ReLU kink.
        // Half the inputs being zero also narrows Z1 around the kink; larger weights widen it.
        p.b1 = Eigen::VectorXf::LinSpaced(H, 0.1f, 0.5f);
        p.W1 *= 3.0f;
    }
    const Reference ref = reference_gradients(p, batch);

    BatchEngine engine(H, threads);
    Gradients g(H);
    const BatchTotals t = engine.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g);
    EXPECT_EQ(t.rows, batch.m);
    EXPECT_NEAR(t.loss_sum / static_cast<double>(m), ref.loss, 1e-5 * ref.loss);
    EXPECT_LE(relative_error(g.dW2.cast<double>(), ref.dW2), 1e-5);
    EXPECT_LE(relative_error(g.db2.cast<double>(), ref.db2), 1e-5);

    std::vector<Eigen::Index> units;
    for (Eigen::Index h = 0; h < H; ++h)
        if (!ref.near_kink[static_cast<std::size_t>(h)]) units.push_back(h);
    ASSERT_GE(units.size() * 10, static_cast<std::size_t>(H) * 9) << "too many units near the ReLU kink";
    Eigen::MatrixXd dW1(units.size(), kPixels), ref_dW1(units.size(), kPixels);
    Eigen::VectorXd db1(units.size()), ref_db1(units.size());
    for (std::size_t i = 0; i < units.size(); ++i) {
        const auto r = static_cast<Eigen::Index>(i);
        dW1.row(r) = g.dW1.row(units[i]).cast<double>();
        ref_dW1.row(r) = ref.dW1.row(units[i]);
        db1(r) = g.db1(units[i]);
        ref_db1(r) = ref.db1(units[i]);
    }
    EXPECT_LE(relative_error(dW1, ref_dW1), 1e-5);
    EXPECT_LE(relative_error(db1, ref_db1), 1e-5);

    // The forward-only path: same loss, and the reference's argmax wherever it is clear.
    std::vector<std::uint8_t> predicted(batch.m);
    const BatchTotals e = engine.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m, predicted.data());
    EXPECT_EQ(e.rows, batch.m);
    EXPECT_NEAR(e.loss_sum, t.loss_sum, 1e-9 * std::abs(t.loss_sum));
    EXPECT_EQ(e.correct, t.correct);
    std::size_t clear = 0;
    for (std::size_t j = 0; j < batch.m; ++j) {
        if (!ref.clear_argmax[j]) continue;
        ++clear;
        EXPECT_EQ(predicted[j], ref.predicted[j]) << "column " << j;
    }
    EXPECT_GE(clear * 10, batch.m * 9);
    EXPECT_NEAR(static_cast<double>(t.correct), static_cast<double>(ref.correct), static_cast<double>(batch.m - clear));
}

// Hidden sizes cover every register-tile shape: 10 (10×2 tiles), 5 (5×4), 64 and 256 (4×4), 7 and
// 13 (4×4 with zero-padded units); m = 300 is cut into chunks of 120, 90, 60 and 30 samples, so
// blocks, 16-sample lane groups and sample tiles all end part-way.
TEST(FastPath, MatchesDoublePrecisionReferenceRelu) {
    for (int H : {10, 64, 256, 7, 13, 5}) check_fast_path(H, Activation::ReLU, 300, 1);
}

TEST(FastPath, MatchesDoublePrecisionReferenceSigmoid) {
    for (int H : {10, 64, 7, 13}) check_fast_path(H, Activation::Sigmoid, 300, 2);
}

TEST(FastPath, MatchesReferenceWithZeroPixelVectorsSkipped) {
    for (int H : {10, 64, 5, 13}) check_fast_path(H, Activation::ReLU, 300, 2, true);
    check_fast_path(10, Activation::Sigmoid, 300, 1, true);
}

TEST(FastPath, PixelsZeroInEverySampleGetExactlyZeroWeightGradient) {
    const Batch batch = sparse_batch(500, 9);
    for (int H : {10, 64}) {
        const Params p = init_params(H, Activation::ReLU, Init::He, 3);
        BatchEngine engine(H, 2);
        Gradients g(H);
        engine.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g);
        EXPECT_TRUE((g.dW1.leftCols(7 * 16).array() == 0.0f).all());
        EXPECT_TRUE((g.dW1.rightCols(4 * 16).array() == 0.0f).all());
        EXPECT_GT(g.dW1.middleCols(7 * 16, 38 * 16).cwiseAbs().maxCoeff(), 0.0f);
    }
}

TEST(FastPath, PrecomputedMasksGiveTheSameResultsBitForBit) {
    const Batch batch = sparse_batch(777, 12);
    const std::vector<std::uint64_t> masks = nonzero_vector_masks(batch.pixels.data(), batch.m);
    ASSERT_EQ(masks.size(), batch.m);
    EXPECT_EQ(masks[3], 0u);                                // a blank sample
    EXPECT_EQ(masks[0] & ((std::uint64_t{1} << 7) - 1), 0u);  // the top margin
    const Params p = init_params(13, Activation::ReLU, Init::He, 6);
    BatchEngine engine(13, 2);
    Gradients computed(13), given(13);
    const BatchTotals t1 = engine.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, computed);
    const BatchTotals t2 = engine.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, given, masks.data());
    EXPECT_EQ(t1.loss_sum, t2.loss_sum);
    EXPECT_TRUE((computed.dW1.array() == given.dW1.array()).all());
    EXPECT_TRUE((computed.db1.array() == given.db1.array()).all());
    EXPECT_TRUE((computed.dW2.array() == given.dW2.array()).all());
    std::vector<std::uint8_t> pred1(batch.m), pred2(batch.m);
    const BatchTotals e1 = engine.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m, pred1.data());
    const BatchTotals e2 =
        engine.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m, pred2.data(), masks.data());
    EXPECT_EQ(e1.loss_sum, e2.loss_sum);
    EXPECT_EQ(pred1, pred2);
}

TEST(FastPath, MatchesReferenceForTinyBatches) {
    // Fewer samples than a tile, a lane group and a block: every tail path at once.
    for (std::size_t m : {1u, 2u, 3u, 17u, 49u}) check_fast_path(10, Activation::ReLU, m, 2);
}

// Gradients and totals from 1, 2 and 3 threads compare bit for bit.
void check_bit_identical(int H, std::size_t m, Activation act, bool sparse = false) {
    SCOPED_TRACE("H=" + std::to_string(H) + " m=" + std::to_string(m));
    const Batch batch = sparse ? sparse_batch(m, 21) : random_batch(m, 21);
    ASSERT_GT(chunk_count(batch.m), 3u);
    const Params p = init_params(H, act, Init::He, 5);
    Gradients g1(H), g2(H), g3(H);
    BatchEngine one(H, 1), two(H, 2), three(H, 3);
    const BatchTotals t1 = one.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g1);
    const BatchTotals t2 = two.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g2);
    const BatchTotals t3 = three.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g3);
    for (const Gradients* g : {&g2, &g3}) {
        EXPECT_TRUE((g1.dW1.array() == g->dW1.array()).all());
        EXPECT_TRUE((g1.db1.array() == g->db1.array()).all());
        EXPECT_TRUE((g1.dW2.array() == g->dW2.array()).all());
        EXPECT_TRUE((g1.db2.array() == g->db2.array()).all());
    }
    EXPECT_EQ(t1.loss_sum, t2.loss_sum);
    EXPECT_EQ(t1.loss_sum, t3.loss_sum);
    EXPECT_EQ(t1.correct, t2.correct);
    EXPECT_EQ(t1.correct, t3.correct);
    const BatchTotals e1 = one.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m);
    const BatchTotals e3 = three.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m);
    EXPECT_EQ(e1.loss_sum, e3.loss_sum);
    EXPECT_EQ(e1.correct, e3.correct);
}

TEST(Network, BitIdenticalForAnyThreadCountH64) { check_bit_identical(64, 3000, Activation::ReLU); }

TEST(Network, BitIdenticalForAnyThreadCountRaggedBlocks) {
    // 1013 samples: 15 chunks of 12 to 88 samples, none a multiple of the block, lane group or tile
    // sizes.
    check_bit_identical(10, 1000 + 13, Activation::ReLU);
    check_bit_identical(13, 1000 + 13, Activation::Sigmoid);
}

TEST(Network, BitIdenticalForAnyThreadCountSparse) { check_bit_identical(10, 2000 + 7, Activation::ReLU, true); }

TEST(Network, RepeatedCallsGiveIdenticalResults) {
    // Scratch and per-chunk buffers are reused between calls; nothing may leak from one to the next.
    const Batch big = random_batch(2000, 3), small = random_batch(130, 4);
    const Params p = init_params(10, Activation::ReLU, Init::He, 1);
    BatchEngine engine(10, 2);
    Gradients first(10), again(10), other(10);
    engine.gradients(p, small.pixels.data(), small.labels.data(), small.m, first);
    engine.gradients(p, big.pixels.data(), big.labels.data(), big.m, other);
    engine.gradients(p, small.pixels.data(), small.labels.data(), small.m, again);
    EXPECT_TRUE((first.dW1.array() == again.dW1.array()).all());
    EXPECT_TRUE((first.db2.array() == again.db2.array()).all());
}

TEST(Network, ManyQuickCallsOnMoreThreadsThanCoresMatchOneThread) {
    // More workers than cores, and calls of 2–3 chunks each: workers wake late, find their run
    // already finished by the others, and must neither hold up nor corrupt the next call.
    const Batch a = sparse_batch(130, 5), b = random_batch(200, 6);
    const Params p = init_params(10, Activation::ReLU, Init::He, 4);
    BatchEngine one(10, 1), many(10, 6);
    Gradients expect_a(10), expect_b(10), got(10);
    const BatchTotals ta = one.gradients(p, a.pixels.data(), a.labels.data(), a.m, expect_a);
    const BatchTotals tb = one.gradients(p, b.pixels.data(), b.labels.data(), b.m, expect_b);
    const BatchTotals eb = one.evaluate(p, b.pixels.data(), b.labels.data(), b.m);
    for (int i = 0; i < 300; ++i) {
        const bool use_a = i % 3 != 2;
        const Batch& batch = use_a ? a : b;
        if (i % 5 == 4) {
            const BatchTotals e = many.evaluate(p, b.pixels.data(), b.labels.data(), b.m);
            ASSERT_EQ(e.loss_sum, eb.loss_sum) << "call " << i;
            continue;
        }
        const BatchTotals t = many.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, got);
        const Gradients& expect = use_a ? expect_a : expect_b;
        ASSERT_EQ(t.loss_sum, (use_a ? ta : tb).loss_sum) << "call " << i;
        ASSERT_TRUE((got.dW1.array() == expect.dW1.array()).all()) << "call " << i;
        ASSERT_TRUE((got.db1.array() == expect.db1.array()).all()) << "call " << i;
    }
}

TEST(Network, NaNParametersGiveNaNLoss) {
    // The trainer detects divergence from the loss, so a NaN anywhere must reach it.
    const Batch batch = random_batch(100, 8);
    for (Activation act : {Activation::ReLU, Activation::Sigmoid}) {
        for (int where = 0; where < 3; ++where) {
            Params p = init_params(10, act, Init::He, 2);
            const float nan = std::numeric_limits<float>::quiet_NaN();
            if (where == 0) p.W1(3, 400) = nan;
            if (where == 1) p.b1(0) = nan;
            if (where == 2) p.W2(4, 5) = nan;
            BatchEngine engine(10, 2);
            Gradients g(10);
            const BatchTotals t = engine.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g);
            EXPECT_TRUE(std::isnan(t.loss_sum)) << to_string(act) << " case " << where;
            EXPECT_TRUE(std::isnan(engine.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m).loss_sum));
        }
    }
}

TEST(Network, SaturatedSigmoidAndHugeLogitsStayFinite) {
    // exp overflow/underflow in the vectorised sigmoid and softmax: σ(±200) and logits of ±1000.
    const Batch batch = random_batch(64, 12);
    Params p = init_params(10, Activation::Sigmoid, Init::He, 3);
    p.b1.head(5).setConstant(200.0f);
    p.b1.tail(5).setConstant(-200.0f);
    p.b2.setZero();
    p.b2(2) = 1000.0f;
    p.b2(7) = -1000.0f;
    BatchEngine engine(10, 1);
    Gradients g(10);
    const BatchTotals t = engine.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g);
    EXPECT_TRUE(std::isfinite(t.loss_sum));
    EXPECT_TRUE(g.dW1.allFinite() && g.db1.allFinite() && g.dW2.allFinite() && g.db2.allFinite());
    const Reference ref = reference_gradients(p, batch);
    EXPECT_NEAR(t.loss_sum / static_cast<double>(batch.m), ref.loss, 1e-5 * ref.loss);
    EXPECT_LE(relative_error(g.dW2.cast<double>(), ref.dW2), 1e-5);
    EXPECT_LE(relative_error(g.db2.cast<double>(), ref.db2), 1e-5);
}

TEST(Network, EngineRejectsParametersOfAnotherSize) {
    const Batch batch = random_batch(10, 1);
    BatchEngine engine(10, 1);
    Gradients g(10);
    EXPECT_THROW(engine.gradients(init_params(12, Activation::ReLU, Init::He, 0), batch.pixels.data(),
                                  batch.labels.data(), batch.m, g),
                 UsageError);
}

TEST(Network, PixelsToInputIsExactForEveryByte) {
    // The vectorised conversion must equal the table (v/255.0f) for all 256 values, in every lane.
    std::vector<std::uint8_t> pixels(kPixels * 2);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 7) % 256);
    Eigen::MatrixXf X;
    pixels_to_input(pixels.data(), 2, X);
    const float* table = pixel_scale_table();
    for (std::size_t i = 0; i < pixels.size(); ++i) EXPECT_EQ(X.data()[i], table[pixels[i]]) << "byte " << int(pixels[i]);
    for (int v = 0; v < 256; ++v) EXPECT_EQ(table[v], static_cast<float>(v) / 255.0f);
}

}  // namespace
}  // namespace mnistnn

// ---- the wide path, dropout and label smoothing ----------------------------------------------

namespace mnistnn {
namespace {

// Mean loss with label smoothing ε and a dropout mask (keep factors from dropout_scale with `key`),
// in double precision from the formulas: L = (1/m) Σ_j [lse(z_j) − Σ_c q_c z_cj].
double reference_regularized_loss(const Eigen::MatrixXd& W1, const Eigen::VectorXd& b1, const Eigen::MatrixXd& W2,
                                  const Eigen::VectorXd& b2, Activation act, const Batch& batch, double p,
                                  std::uint64_t key, double eps) {
    double total = 0.0;
    for (std::size_t j = 0; j < batch.m; ++j) {
        Eigen::VectorXd x(kPixels);
        for (int i = 0; i < kPixels; ++i) x(i) = batch.pixels[j * kPixels + static_cast<std::size_t>(i)] / 255.0;
        Eigen::VectorXd z1 = W1 * x + b1;
        Eigen::VectorXd a1 = act == Activation::ReLU ? z1.cwiseMax(0.0).eval()
                                                     : (1.0 / (1.0 + (-z1.array()).exp())).matrix().eval();
        for (Eigen::Index h = 0; h < a1.size(); ++h)
            if (p > 0.0) a1(h) *= dropout_scale(key, j, static_cast<std::size_t>(h), p);
        Eigen::VectorXd z2 = W2 * a1 + b2;
        const double zmax = z2.maxCoeff();
        const double lse = zmax + std::log((z2.array() - zmax).exp().sum());
        for (int c = 0; c < kClasses; ++c) {
            const double q = eps / kClasses + (c == batch.labels[j] ? 1.0 - eps : 0.0);
            total += q * (lse - z2(c));
        }
    }
    return total / static_cast<double>(batch.m);
}

void check_regularized_gradients(Activation act, double p, double eps, EnginePath path) {
    const int H = 6;
    const Batch batch = random_batch(7, 43);
    Params params = init_params(H, act, Init::Uniform, 3);
    params.W1 *= 0.1f;  // keeps ReLU kinks away from the finite-difference step
    BatchEngine engine(H, 1, path);
    Gradients g(H);
    Regularization reg;
    reg.dropout = p;
    reg.dropout_key = dropout_step_key(11, 5);
    reg.label_smoothing = eps;
    engine.gradients(params, batch.pixels.data(), batch.labels.data(), batch.m, g, nullptr, reg);

    Eigen::MatrixXd W1 = params.W1.cast<double>(), W2 = params.W2.cast<double>();
    Eigen::VectorXd b1 = params.b1.cast<double>(), b2 = params.b2.cast<double>();
    auto loss = [&] { return reference_regularized_loss(W1, b1, W2, b2, act, batch, p, reg.dropout_key, eps); };
    constexpr double h = 1e-5;
    auto numeric = [&](auto& param) {
        Eigen::MatrixXd grad(param.rows(), param.cols());
        for (Eigen::Index r = 0; r < param.rows(); ++r)
            for (Eigen::Index c = 0; c < param.cols(); ++c) {
                const double saved = param(r, c);
                param(r, c) = saved + h;
                const double up = loss();
                param(r, c) = saved - h;
                const double down = loss();
                param(r, c) = saved;
                grad(r, c) = (up - down) / (2 * h);
            }
        return grad;
    };
    EXPECT_LE(relative_error(g.dW2.cast<double>(), numeric(W2)), 1e-3);
    EXPECT_LE(relative_error(g.db2.cast<double>(), numeric(b2)), 1e-3);
    EXPECT_LE(relative_error(g.db1.cast<double>(), numeric(b1)), 1e-3);
    EXPECT_LE(relative_error(g.dW1.cast<double>(), numeric(W1)), 1e-3);
}

TEST(WideGradients, PlainMatchesFiniteDifferences) {
    check_regularized_gradients(Activation::ReLU, 0.0, 0.0, EnginePath::Wide);
    check_regularized_gradients(Activation::Sigmoid, 0.0, 0.0, EnginePath::Wide);
}
TEST(WideGradients, DropoutMatchesFiniteDifferences) {
    check_regularized_gradients(Activation::ReLU, 0.3, 0.0, EnginePath::Auto);
    check_regularized_gradients(Activation::Sigmoid, 0.5, 0.0, EnginePath::Auto);
}
TEST(WideGradients, LabelSmoothingMatchesFiniteDifferences) {
    check_regularized_gradients(Activation::ReLU, 0.0, 0.1, EnginePath::Auto);
}
TEST(WideGradients, DropoutAndLabelSmoothingTogetherMatchFiniteDifferences) {
    check_regularized_gradients(Activation::ReLU, 0.2, 0.05, EnginePath::Wide);
}

TEST(Dropout, MasksDropAboutPAndScaleSurvivors) {
    const double p = 0.3;
    const std::uint64_t key = dropout_step_key(1, 2);
    std::size_t dropped = 0, n = 0;
    for (std::size_t j = 0; j < 200; ++j)
        for (std::size_t h = 0; h < 100; ++h, ++n) {
            const float s = dropout_scale(key, j, h, p);
            if (s == 0.0f)
                ++dropped;
            else
                ASSERT_EQ(s, static_cast<float>(1.0 / 0.7));
        }
    EXPECT_NEAR(static_cast<double>(dropped) / static_cast<double>(n), p, 0.01);
    // Another step, another mask; the same step, the same mask.
    EXPECT_NE(dropout_step_key(1, 2), dropout_step_key(1, 3));
    EXPECT_NE(dropout_step_key(1, 2), dropout_step_key(2, 2));
    EXPECT_EQ(dropout_scale(key, 5, 6, p), dropout_scale(dropout_step_key(1, 2), 5, 6, p));
    for (std::size_t h = 0; h < 100; ++h) EXPECT_NE(dropout_scale(key, 0, h, 0.0), 0.0f);
}

TEST(Regularization, BadValuesAreRefused) {
    Regularization r;
    r.dropout = 1.0;
    EXPECT_THROW(r.validate(), UsageError);
    r.dropout = -0.1;
    EXPECT_THROW(r.validate(), UsageError);
    r.dropout = std::nan("");
    EXPECT_THROW(r.validate(), UsageError);
    r.dropout = 0.5;
    r.label_smoothing = 1.0;
    EXPECT_THROW(r.validate(), UsageError);
    r.label_smoothing = 0.1;
    EXPECT_NO_THROW(r.validate());
    const Batch batch = random_batch(4, 1);
    const Params p = init_params(4, Activation::ReLU, Init::He, 1);
    BatchEngine fused(4, 1, EnginePath::Fused);
    Gradients g(4);
    EXPECT_THROW(fused.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g, nullptr, r), UsageError);
}

// The wide path against the double-precision reference, and bit-identical for 1, 2 and 3 threads
// (over several column blocks and a ragged last one), with and without dropout.
TEST(WidePath, MatchesReferenceAndIsBitIdenticalForAnyThreadCount) {
    const int H = 40;
    const Batch batch = random_batch(600, 21);  // blocks of 256, 256, 88
    const Params p = init_params(H, Activation::ReLU, Init::He, 5);
    const Reference ref = reference_gradients(p, batch);
    for (const double dropout : {0.0, 0.25}) {
        SCOPED_TRACE(dropout);
        Regularization reg;
        reg.dropout = dropout;
        reg.dropout_key = dropout_step_key(3, 9);
        Gradients g1(H), g2(H), g3(H);
        BatchEngine one(H, 1, EnginePath::Wide), two(H, 2, EnginePath::Wide), three(H, 3, EnginePath::Wide);
        const BatchTotals t1 = one.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g1, nullptr, reg);
        const BatchTotals t2 = two.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g2, nullptr, reg);
        const BatchTotals t3 = three.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, g3, nullptr, reg);
        for (const Gradients* g : {&g2, &g3}) {
            EXPECT_TRUE((g1.dW1.array() == g->dW1.array()).all());
            EXPECT_TRUE((g1.db1.array() == g->db1.array()).all());
            EXPECT_TRUE((g1.dW2.array() == g->dW2.array()).all());
            EXPECT_TRUE((g1.db2.array() == g->db2.array()).all());
        }
        EXPECT_EQ(t1.loss_sum, t2.loss_sum);
        EXPECT_EQ(t1.loss_sum, t3.loss_sum);
        EXPECT_EQ(t1.correct, t3.correct);
        EXPECT_EQ(t1.rows, batch.m);
        if (dropout == 0.0) {
            EXPECT_NEAR(t1.loss_sum / static_cast<double>(batch.m), ref.loss, 1e-4);
            EXPECT_EQ(t1.correct, ref.correct);
            EXPECT_LE(relative_error(g1.dW1.cast<double>(), ref.dW1), 1e-4);
            EXPECT_LE(relative_error(g1.db1.cast<double>(), ref.db1), 1e-4);
            EXPECT_LE(relative_error(g1.dW2.cast<double>(), ref.dW2), 1e-4);
            EXPECT_LE(relative_error(g1.db2.cast<double>(), ref.db2), 1e-4);
        } else {
            EXPECT_GT((g1.dW1 - ref.dW1.cast<float>()).norm(), 1e-3 * ref.dW1.norm());  // the mask did something
        }
    }
    // Evaluation: no dropout, the same totals and predictions as the fused path's (up to rounding).
    BatchEngine wide(H, 2, EnginePath::Wide), fused(H, 2, EnginePath::Fused);
    std::vector<std::uint8_t> pw(batch.m), pf(batch.m);
    const BatchTotals ew = wide.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m, pw.data());
    const BatchTotals ef = fused.evaluate(p, batch.pixels.data(), batch.labels.data(), batch.m, pf.data());
    EXPECT_NEAR(ew.loss_sum, ef.loss_sum, 1e-3 * ef.loss_sum);
    EXPECT_EQ(ew.correct, ref.correct);
    for (std::size_t j = 0; j < batch.m; ++j)
        if (ref.clear_argmax[j]) {
            EXPECT_EQ(pw[j], ref.predicted[j]);
        }
}

TEST(WidePath, AutoPicksItForWideNetworks) {
    // H = 512 under Auto gives exactly the forced wide path's results.
    const int H = 512;
    const Batch batch = random_batch(70, 8);
    const Params p = init_params(H, Activation::ReLU, Init::He, 2);
    BatchEngine automatic(H, 2), wide(H, 1, EnginePath::Wide);
    Gradients ga(H), gw(H);
    automatic.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, ga);
    wide.gradients(p, batch.pixels.data(), batch.labels.data(), batch.m, gw);
    EXPECT_TRUE((ga.dW1.array() == gw.dW1.array()).all());
    EXPECT_TRUE((ga.db2.array() == gw.db2.array()).all());
}

TEST(Network, ParallelForRunsEveryIndexOnce) {
    BatchEngine engine(10, 2);
    std::vector<std::atomic<int>> hits(1000);
    engine.parallel_for(hits.size(), [&](std::size_t i) { hits[i].fetch_add(1); });
    for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
}

}  // namespace
}  // namespace mnistnn
