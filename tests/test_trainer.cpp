// Trainer: learns, logs on schedule, stops on divergence and on request.
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/rng.hpp"
#include "mnistnn/trainer.hpp"

namespace mnistnn {
namespace {

// n digits: each class gets its own random "prototype" image plus per-sample noise.
Images synthetic(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<std::vector<std::uint8_t>> prototypes(kClasses, std::vector<std::uint8_t>(kPixels));
    Rng proto_rng(1234);
    for (auto& p : prototypes)
        for (auto& v : p) v = proto_rng.next_below(4) == 0 ? 255 : 0;
    Images img;
    img.rows = n;
    img.pixels.resize(n * kPixels);
    img.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto label = static_cast<std::uint8_t>(rng.next_below(kClasses));
        img.labels[i] = label;
        for (std::size_t k = 0; k < kPixels; ++k) {
            int v = prototypes[label][k] + static_cast<int>(rng.next_below(101)) - 50;
            img.pixels[i * kPixels + k] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
        }
    }
    return img;
}

TEST(Trainer, OverfitsATinySet) {
    // Random pixels, random labels: only memorisation gets above chance.
    Rng rng(3);
    Images tiny;
    tiny.rows = 40;
    tiny.pixels.resize(tiny.rows * kPixels);
    tiny.labels.resize(tiny.rows);
    for (auto& p : tiny.pixels) p = static_cast<std::uint8_t>(rng.next_below(256));
    for (auto& l : tiny.labels) l = static_cast<std::uint8_t>(rng.next_below(kClasses));
    Params p = init_params(32, Activation::ReLU, Init::He, 0);
    TrainOptions o;
    o.alpha = 0.1;
    o.iters = 400;
    o.log_every = 0;
    std::ostringstream log;
    const TrainResult r = train_full_batch(p, tiny, Images{}, o, log);
    EXPECT_GE(r.train_accuracy, 0.95);
    EXPECT_EQ(r.iterations, 400);
    EXPECT_TRUE(log.str().empty());
}

TEST(Trainer, LearnsAndGeneralisesOnSyntheticDigits) {
    const Images train = synthetic(600, 1), holdout = synthetic(200, 2);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.iters = 200;
    o.log_every = 50;
    std::ostringstream log;
    std::vector<TrainLogEntry> entries;
    const TrainResult r = train_full_batch(p, train, holdout, o, log, nullptr,
                                           [&](const TrainLogEntry& e) { entries.push_back(e); });
    EXPECT_GE(r.holdout_accuracy, 0.9);
    ASSERT_EQ(entries.size(), 4u);  // iterations 0, 50, 100, 150
    EXPECT_EQ(entries[0].iteration, 0);
    EXPECT_EQ(entries[3].iteration, 150);
    EXPECT_LT(entries[3].loss, entries[0].loss);
    EXPECT_NE(log.str().find("iter     0"), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("iter   150"), std::string::npos) << log.str();
    EXPECT_EQ(log.str().find("iter   200"), std::string::npos) << log.str();
}

TEST(Trainer, SameResultForOneAndTwoThreads) {
    const Images train = synthetic(3000, 5);
    Params a = init_params(10, Activation::ReLU, Init::Uniform, 0), b = a;
    TrainOptions o;
    o.iters = 20;
    o.log_every = 0;
    std::ostringstream log;
    o.threads = 1;
    train_full_batch(a, train, Images{}, o, log);
    o.threads = 2;
    train_full_batch(b, train, Images{}, o, log);
    EXPECT_TRUE((a.W1.array() == b.W1.array()).all());
    EXPECT_TRUE((a.b2.array() == b.b2.array()).all());
}

TEST(Trainer, DivergenceNamesIterationAndSuggestsSmallerAlpha) {
    const Images train = synthetic(100, 1);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.alpha = 1e30;
    o.iters = 50;
    std::ostringstream log;
    try {
        train_full_batch(p, train, Images{}, o, log);
        FAIL() << "expected DivergenceError";
    } catch (const DivergenceError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("diverged at iteration"), std::string::npos) << msg;
        EXPECT_NE(msg.find("smaller --alpha"), std::string::npos) << msg;
    }
}

TEST(Trainer, StopsAfterCurrentIterationWhenAsked) {
    const Images train = synthetic(100, 1);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.iters = 1000;
    std::atomic<bool> stop{true};
    std::ostringstream log;
    const TrainResult r = train_full_batch(p, train, Images{}, o, log, &stop);
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.iterations, 1);
}

TEST(Trainer, RejectsBadOptions) {
    const Images train = synthetic(10, 1);
    Params p = init_params(4, Activation::ReLU, Init::Uniform, 0);
    std::ostringstream log;
    TrainOptions o;
    o.alpha = 0.0;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o, log), UsageError);
    o.alpha = std::numeric_limits<double>::infinity();
    EXPECT_THROW(train_full_batch(p, train, Images{}, o, log), UsageError);
    o.alpha = 0.1;
    o.iters = -1;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o, log), UsageError);
    Images unlabelled = train;
    unlabelled.labels.clear();
    o.iters = 1;
    EXPECT_THROW(train_full_batch(p, unlabelled, Images{}, o, log), UsageError);
}

}  // namespace
}  // namespace mnistnn
