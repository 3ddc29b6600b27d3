// Optimizers: first updates against hand computations (in double), loss decrease, schedules,
// validation, and the optimizer state as named tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/optimizer.hpp"
#include "mnistnn/rng.hpp"

namespace mnistnn {
namespace {

constexpr int kHidden = 6;

// Two labelled samples with random pixels (some exactly 0, so some gradient entries are 0).
struct TwoSamples {
    std::vector<std::uint8_t> pixels = std::vector<std::uint8_t>(2 * kPixels);
    std::vector<std::uint8_t> labels = {3, 7};
    TwoSamples() {
        Rng rng(11);
        for (auto& p : pixels) p = rng.next_below(3) == 0 ? 0 : static_cast<std::uint8_t>(rng.next_below(256));
    }
};

Params start_params() { return init_params(kHidden, Activation::ReLU, Init::He, 5); }

Gradients gradient(const Params& p, const TwoSamples& data) {
    BatchEngine engine(kHidden, 1);
    Gradients g(kHidden);
    engine.gradients(p, data.pixels.data(), data.labels.data(), 2, g);
    return g;
}

double loss(const Params& p, const TwoSamples& data) {
    return evaluate(p, data.pixels.data(), data.labels.data(), 2, 1).loss_sum / 2.0;
}

// Calls fn(before, after, grad, is_weight) for every element of every parameter.
template <class Fn>
void for_each_element(const Params& before, const Params& after, const Gradients& g, Fn fn) {
    auto run = [&](const float* b, const float* a, const float* d, Eigen::Index n, bool weight) {
        for (Eigen::Index i = 0; i < n; ++i) fn(double{b[i]}, double{a[i]}, double{d[i]}, weight);
    };
    run(before.W1.data(), after.W1.data(), g.dW1.data(), before.W1.size(), true);
    run(before.b1.data(), after.b1.data(), g.db1.data(), before.b1.size(), false);
    run(before.W2.data(), after.W2.data(), g.dW2.data(), before.W2.size(), true);
    run(before.b2.data(), after.b2.data(), g.db2.data(), before.b2.size(), false);
}

// |actual − expected| within a few float roundings of the parameter and of the step.
void expect_close(double actual, double expected, double step_size) {
    const double tol = 4e-7 * std::abs(expected) + 1e-5 * std::abs(step_size) + 1e-12;
    ASSERT_NEAR(actual, expected, tol);
}

TEST(Optimizer, GradientDescentFirstUpdateIsMinusAlphaG) {
    const TwoSamples data;
    const Params before = start_params();
    const Gradients g0 = gradient(before, data);
    Params p = before;
    Gradients g = g0;
    Optimizer opt(OptimizerSettings{}, kHidden);
    opt.step(p, g, 0.5f);
    for_each_element(before, p, g0, [](double b, double a, double d, bool) { expect_close(a, b - 0.5 * d, 0.5 * d); });
    EXPECT_EQ(opt.state().t, 1);
}

TEST(Optimizer, GradientDescentWithL2AddsLambdaWToWeightsOnly) {
    const TwoSamples data;
    const Params before = start_params();
    const Gradients g0 = gradient(before, data);
    Params p = before;
    Gradients g = g0;
    OptimizerSettings s;
    s.l2 = 0.01;
    Optimizer opt(s, kHidden);
    opt.step(p, g, 0.5f);
    for_each_element(before, p, g0, [](double b, double a, double d, bool weight) {
        const double used = d + (weight ? 0.01 * b : 0.0);
        expect_close(a, b - 0.5 * used, 0.5 * used);
    });
}

TEST(Optimizer, MomentumFirstTwoUpdates) {
    // v1 = g1, W1 = W0 − α·g1;  v2 = μ·g1 + g2, W2 = W1 − α·v2 (heavy-ball form).
    const TwoSamples data;
    const Params p0 = start_params();
    OptimizerSettings s;
    s.kind = OptimizerKind::Momentum;
    s.momentum = 0.8;
    Optimizer opt(s, kHidden);
    const double alpha = 0.25;
    Params p = p0;
    const Gradients g1 = gradient(p, data);
    Gradients g = g1;
    opt.step(p, g, static_cast<float>(alpha));
    const Params p1 = p;
    for_each_element(p0, p1, g1, [&](double b, double a, double d, bool) { expect_close(a, b - alpha * d, alpha * d); });

    const Gradients g2 = gradient(p1, data);
    g = g2;
    opt.step(p, g, static_cast<float>(alpha));
    // v2 = 0.8·g1 + g2, element by element, in the order of for_each_element.
    std::vector<double> v1;
    for_each_element(p0, p1, g1, [&](double, double, double d, bool) { v1.push_back(d); });
    std::size_t i = 0;
    for_each_element(p1, p, g2, [&](double b, double a, double d, bool) {
        const double v2 = 0.8 * v1[i++] + d;
        expect_close(a, b - alpha * v2, alpha * v2);
    });
}

TEST(Optimizer, AdamFirstUpdateIsMinusAlphaGOverAbsGPlusEps) {
    // After bias correction m̂ = g and v̂ = g², so the first step is −α·g/(|g| + ε) elementwise:
    // ±α wherever |g| ≫ ε, 0 where g = 0.
    const TwoSamples data;
    const Params before = start_params();
    const Gradients g0 = gradient(before, data);
    Params p = before;
    Gradients g = g0;
    OptimizerSettings s;
    s.kind = OptimizerKind::Adam;
    Optimizer opt(s, kHidden);
    const double alpha = 1e-3;
    opt.step(p, g, static_cast<float>(alpha));
    int zero = 0, full = 0;
    for_each_element(before, p, g0, [&](double b, double a, double d, bool) {
        const double step = -alpha * d / (std::abs(d) + 1e-8);
        expect_close(a, b + step, step);
        if (d == 0.0) ++zero;
        if (std::abs(d) > 1e-6) ++full;
    });
    EXPECT_GT(zero, 0) << "the case should include zero gradients";
    EXPECT_GT(full, 1000);
    // The moments after one step: m = (1−β1)·g, v = (1−β2)·g².
    EXPECT_NEAR(opt.state().m.dW2(1, 2), 0.1 * g0.dW2(1, 2), 1e-7 * std::abs(g0.dW2(1, 2)) + 1e-12);
    EXPECT_NEAR(opt.state().v.db2(3), 0.001 * g0.db2(3) * g0.db2(3), 1e-6 * g0.db2(3) * g0.db2(3) + 1e-15);
}

TEST(Optimizer, AdamSecondUpdateMatchesDoubleReference) {
    const TwoSamples data;
    const Params p0 = start_params();
    OptimizerSettings s;
    s.kind = OptimizerKind::Adam;
    s.beta1 = 0.8;
    s.beta2 = 0.99;
    s.eps = 1e-6;
    Optimizer opt(s, kHidden);
    const double alpha = 0.01;
    Params p = p0;
    const Gradients g1 = gradient(p, data);
    Gradients g = g1;
    opt.step(p, g, static_cast<float>(alpha));
    const Params p1 = p;
    const Gradients g2 = gradient(p1, data);
    g = g2;
    opt.step(p, g, static_cast<float>(alpha));
    std::vector<double> first;
    for_each_element(p0, p1, g1, [&](double, double, double d, bool) { first.push_back(d); });
    std::size_t i = 0;
    for_each_element(p1, p, g2, [&](double b, double a, double d2, bool) {
        const double d1 = first[i++];
        const double m = 0.8 * (0.2 * d1) + 0.2 * d2, v = 0.99 * (0.01 * d1 * d1) + 0.01 * d2 * d2;
        const double mhat = m / (1 - 0.8 * 0.8), vhat = v / (1 - 0.99 * 0.99);
        const double step = -alpha * mhat / (std::sqrt(vhat) + 1e-6);
        expect_close(a, b + step, step);
    });
    EXPECT_EQ(opt.state().t, 2);
}

TEST(Optimizer, EveryKindDecreasesTheLossOnASmallProblem) {
    const TwoSamples data;
    for (const OptimizerKind kind : {OptimizerKind::GD, OptimizerKind::Momentum, OptimizerKind::Adam}) {
        OptimizerSettings s;
        s.kind = kind;
        Optimizer opt(s, kHidden);
        Params p = start_params();
        const double before = loss(p, data);
        BatchEngine engine(kHidden, 1);
        Gradients g(kHidden);
        for (int i = 0; i < 30; ++i) {
            engine.gradients(p, data.pixels.data(), data.labels.data(), 2, g);
            opt.step(p, g, kind == OptimizerKind::Adam ? 0.01f : 0.05f);
        }
        const double after = loss(p, data);
        EXPECT_LT(after, 0.5 * before) << to_string(kind) << ": " << before << " → " << after;
    }
}

TEST(Optimizer, RejectsOutOfRangeSettings) {
    auto rejects = [](void (*change)(OptimizerSettings&), const char* what) {
        OptimizerSettings s;
        change(s);
        try {
            Optimizer opt(s, 4);
            ADD_FAILURE() << "expected UsageError for " << what;
        } catch (const UsageError& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    rejects([](OptimizerSettings& s) { s.momentum = 1.0; }, "momentum");
    rejects([](OptimizerSettings& s) { s.momentum = -0.1; }, "momentum");
    rejects([](OptimizerSettings& s) { s.beta1 = 1.0; }, "beta1");
    rejects([](OptimizerSettings& s) { s.beta2 = -0.1; }, "beta2");
    rejects([](OptimizerSettings& s) { s.beta2 = std::nan(""); }, "beta2");
    rejects([](OptimizerSettings& s) { s.eps = 0.0; }, "eps");
    rejects([](OptimizerSettings& s) { s.eps = std::numeric_limits<double>::infinity(); }, "eps");
    rejects([](OptimizerSettings& s) { s.l2 = -1.0; }, "l2");
    EXPECT_THROW(optimizer_from_string("sgdx"), UsageError);
    EXPECT_EQ(optimizer_from_string("adam"), OptimizerKind::Adam);
    EXPECT_EQ(to_string(OptimizerKind::Momentum), "momentum");
}

TEST(Optimizer, StateRoundTripsThroughNamedTensors) {
    const TwoSamples data;
    OptimizerSettings s;
    s.kind = OptimizerKind::Adam;
    Optimizer opt(s, kHidden);
    Params p = start_params();
    Gradients g = gradient(p, data);
    opt.step(p, g, 0.01f);
    const auto tensors = optimizer_state_tensors(OptimizerKind::Adam, opt.state());
    ASSERT_EQ(tensors.size(), 8u);
    EXPECT_EQ(tensors.at("opt.m.W1").shape, (std::vector<std::int64_t>{kHidden, kPixels}));
    EXPECT_EQ(tensors.at("opt.v.W2").shape, (std::vector<std::int64_t>{kClasses, kHidden}));
    EXPECT_EQ(tensors.at("opt.v.b1").shape, (std::vector<std::int64_t>{kHidden}));
    // Row-major like the model file: element (h, k) of W1's moment at h·784 + k.
    EXPECT_EQ(tensors.at("opt.m.W1").values[1 * kPixels + 300], opt.state().m.dW1(1, 300));
    const OptimizerState back = optimizer_state_from_tensors(OptimizerKind::Adam, kHidden, tensors, 1);
    EXPECT_EQ(back.t, 1);
    EXPECT_TRUE((back.m.dW1.array() == opt.state().m.dW1.array()).all());
    EXPECT_TRUE((back.v.db2.array() == opt.state().v.db2.array()).all());

    EXPECT_TRUE(optimizer_state_tensors(OptimizerKind::GD, OptimizerState{}).empty());
    auto missing = tensors;
    missing.erase("opt.v.b2");
    EXPECT_THROW(optimizer_state_from_tensors(OptimizerKind::Adam, kHidden, missing, 1), ModelFormatError);
    EXPECT_THROW(optimizer_state_from_tensors(OptimizerKind::Adam, kHidden + 1, tensors, 1), ModelFormatError);
    // Momentum keeps its velocity under opt.v.*.
    const auto momentum = optimizer_state_from_tensors(OptimizerKind::Momentum, kHidden, tensors, 1);
    EXPECT_TRUE((momentum.m.dW1.array() == back.v.dW1.array()).all());

    Optimizer other(s, kHidden);
    other.set_state(back);
    EXPECT_EQ(other.state().t, 1);
    Optimizer momentum_opt(OptimizerSettings{OptimizerKind::Momentum}, kHidden + 1);
    EXPECT_THROW(momentum_opt.set_state(back), UsageError);
}

TEST(LrSchedule, NoneStepAndCosine) {
    LrSchedule none;
    none.alpha = 0.5;
    EXPECT_EQ(none.rate(0), 0.5);
    EXPECT_EQ(none.rate(123456), 0.5);

    LrSchedule step;
    step.alpha = 1.0;
    step.decay = LrDecay::Step;
    step.step_every = 10;
    step.gamma = 0.5;
    step.validate();
    EXPECT_EQ(step.rate(0), 1.0);
    EXPECT_EQ(step.rate(9), 1.0);
    EXPECT_EQ(step.rate(10), 0.5);
    EXPECT_EQ(step.rate(25), 0.25);

    LrSchedule cosine;
    cosine.alpha = 2.0;
    cosine.decay = LrDecay::Cosine;
    cosine.total_steps = 100;
    cosine.validate();
    EXPECT_DOUBLE_EQ(cosine.rate(0), 2.0);
    EXPECT_NEAR(cosine.rate(50), 1.0, 1e-12);
    EXPECT_NEAR(cosine.rate(100), 0.0, 1e-12);
    EXPECT_NEAR(cosine.rate(500), 0.0, 1e-12);
    EXPECT_GT(cosine.rate(99), 0.0);
    EXPECT_LT(cosine.rate(60), cosine.rate(40));

    step.step_every = 0;
    EXPECT_THROW(step.validate(), UsageError);
    step.step_every = 3;
    step.gamma = 1.5;
    EXPECT_THROW(step.validate(), UsageError);
    cosine.total_steps = 0;
    EXPECT_THROW(cosine.validate(), UsageError);
    EXPECT_THROW(lr_decay_from_string("foo"), UsageError);
    EXPECT_EQ(lr_decay_from_string("cosine"), LrDecay::Cosine);
}

}  // namespace
}  // namespace mnistnn
