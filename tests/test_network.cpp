// Network math: gradients against central finite differences, softmax stability, determinism.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cmath>
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

}  // namespace
}  // namespace mnistnn
