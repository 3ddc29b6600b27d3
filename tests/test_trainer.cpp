// Trainer: learns, logs on schedule, stops on divergence and on request.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/optimizer.hpp"
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

// Keeps what the trainer reports; asks it to stop when `stop` is set.
struct Recorder : TrainObserver {
    std::vector<TrainLogEntry> entries;
    std::vector<TrainProgress> steps;
    bool stop = false;
    void on_log(const TrainLogEntry& e) override { entries.push_back(e); }
    void on_step(const TrainProgress& p) override { steps.push_back(p); }
    bool stop_requested() override { return stop; }
};

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
    Recorder rec;
    const TrainResult r = train_full_batch(p, tiny, Images{}, o, &rec);
    EXPECT_GE(r.train_accuracy, 0.95);
    EXPECT_EQ(r.iterations, 400);
    EXPECT_TRUE(rec.entries.empty());
    ASSERT_EQ(rec.steps.size(), 400u);  // progress after every step
    EXPECT_EQ(rec.steps.back().step, 400);
    EXPECT_EQ(rec.steps.back().end, 400);
}

TEST(Trainer, LearnsAndGeneralisesOnSyntheticDigits) {
    const Images train = synthetic(600, 1), holdout = synthetic(200, 2);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.iters = 200;
    o.log_every = 50;
    Recorder rec;
    const TrainResult r = train_full_batch(p, train, holdout, o, &rec);
    const std::vector<TrainLogEntry>& entries = rec.entries;
    EXPECT_GE(r.holdout_accuracy, 0.9);
    ASSERT_EQ(entries.size(), 4u);  // iterations 0, 50, 100, 150 (not 200: the run ends before it)
    EXPECT_EQ(entries[0].iteration, 0);
    EXPECT_EQ(entries[3].iteration, 150);
    EXPECT_LT(entries[3].loss, entries[0].loss);
}

TEST(Trainer, SameResultForOneAndTwoThreads) {
    const Images train = synthetic(3000, 5);
    Params a = init_params(10, Activation::ReLU, Init::Uniform, 0), b = a;
    TrainOptions o;
    o.iters = 20;
    o.log_every = 0;
        o.threads = 1;
    train_full_batch(a, train, Images{}, o);
    o.threads = 2;
    train_full_batch(b, train, Images{}, o);
    EXPECT_TRUE((a.W1.array() == b.W1.array()).all());
    EXPECT_TRUE((a.b2.array() == b.b2.array()).all());
}

// Trains on 100 synthetic rows with `o`, which must diverge; returns the DivergenceError's message.
std::string divergence_message(const TrainOptions& o) {
    const Images train = synthetic(100, 1);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
        try {
        train_full_batch(p, train, Images{}, o);
    } catch (const DivergenceError& e) {
        EXPECT_EQ(e.settings(), std::vector<std::string>{"alpha"});
        EXPECT_NE(e.describe([](const std::string& n) { return "--" + n; }).find("smaller --alpha"), std::string::npos);
        return e.what();
    }
    ADD_FAILURE() << "expected DivergenceError";
    return {};
}

TEST(Trainer, DivergenceNamesIterationAndSuggestsSmallerAlpha) {
    TrainOptions o;
    o.alpha = 1e30;
    o.iters = 50;
    const std::string msg = divergence_message(o);
    EXPECT_NE(msg.find("diverged at iteration"), std::string::npos) << msg;
    // The rate as the user wrote it, not std::to_string's "1000000000000000019884624838656.000000".
    EXPECT_NE(msg.find("smaller alpha (it was 1e+30)"), std::string::npos) << msg;
}

TEST(Trainer, StopsAfterCurrentIterationWhenAsked) {
    const Images train = synthetic(100, 1);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.iters = 1000;
    Recorder stop;
    stop.stop = true;
    const TrainResult r = train_full_batch(p, train, Images{}, o, &stop);
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.iterations, 1);
}

TEST(Trainer, RejectsBadOptions) {
    const Images train = synthetic(10, 1);
    Params p = init_params(4, Activation::ReLU, Init::Uniform, 0);
        TrainOptions o;
    o.alpha = 0.0;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    o.alpha = std::numeric_limits<double>::infinity();
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    o.alpha = 0.1;
    o.iters = -1;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    Images unlabelled = train;
    unlabelled.labels.clear();
    o.iters = 1;
    EXPECT_THROW(train_full_batch(p, unlabelled, Images{}, o), UsageError);
}


// ---- training options: mini-batch, optimizers, schedules, resume ----

bool same_bytes(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0;
}

void expect_identical(const Params& a, const Params& b) {
    EXPECT_TRUE(same_bytes(a.W1, b.W1)) << "W1 differs";
    EXPECT_TRUE(same_bytes(a.b1, b.b1)) << "b1 differs";
    EXPECT_TRUE(same_bytes(a.W2, b.W2)) << "W2 differs";
    EXPECT_TRUE(same_bytes(a.b2, b.b2)) << "b2 differs";
}

// One step of the original update, written out: W ← W − α·dW over the given rows. The trainer
// must match it bit for bit.
void reference_step(Params& p, BatchEngine& engine, Gradients& g, const std::uint8_t* pixels,
                    const std::uint8_t* labels, std::size_t rows, float alpha) {
    engine.gradients(p, pixels, labels, rows, g);
    p.W1.noalias() -= alpha * g.dW1;
    p.b1.noalias() -= alpha * g.db1;
    p.W2.noalias() -= alpha * g.dW2;
    p.b2.noalias() -= alpha * g.db2;
}

TEST(Trainer, DefaultFullBatchEqualsTheOriginalUpdateLoopBitForBit) {
    // The original algorithm, written out: W ← W − α·dW over all training rows, `iters` times.
    const Images train = synthetic(500, 7);
    const Params start = init_params(10, Activation::ReLU, Init::Uniform, 0);
    Params trained = start;
    TrainOptions o;
    o.iters = 30;
    o.log_every = 0;
        train_full_batch(trained, train, Images{}, o);

    Params ref = start;
    BatchEngine engine(10, 0);
    Gradients g(10);
    const auto alpha = static_cast<float>(o.alpha);
    for (int i = 0; i < o.iters; ++i)
        reference_step(ref, engine, g, train.pixels.data(), train.labels.data(), train.rows, alpha);
    expect_identical(trained, ref);
}

TEST(Trainer, MiniBatchReshufflesEveryEpochAndUsesTheLastPartialBatch) {
    // 100 rows in batches of 32: 32, 32, 32, 4 — four steps per epoch, each epoch its own order.
    const Images train = synthetic(100, 9);
    const Params start = init_params(8, Activation::ReLU, Init::He, 1);
    Params trained = start;
    TrainOptions o;
    o.epochs = 3;
    o.batch_size = 32;
    o.seed = 42;
    o.log_every = 0;
        const TrainResult r = train_full_batch(trained, train, Images{}, o);
    EXPECT_EQ(r.iterations, 12);
    EXPECT_EQ(r.steps_per_epoch, 4);
    EXPECT_EQ(r.epochs, 3.0);
    EXPECT_EQ(steps_per_epoch(100, 32), 4);
    EXPECT_EQ(steps_per_epoch(100, 0), 1);
    EXPECT_EQ(steps_per_epoch(100, 100), 1);
    EXPECT_EQ(steps_per_epoch(100, 1000), 1);

    Params ref = start;
    BatchEngine engine(8, 1);
    Gradients g(8);
    std::vector<std::uint8_t> pixels, labels;
    std::size_t rows_seen = 0;
    for (int epoch = 0; epoch < 3; ++epoch) {
        const auto order = shuffled_indices(100, epoch_shuffle_seed(42, epoch));
        for (std::size_t begin = 0; begin < 100; begin += 32) {
            const std::size_t m = std::min<std::size_t>(32, 100 - begin);
            pixels.clear();
            labels.clear();
            for (std::size_t j = begin; j < begin + m; ++j) {
                pixels.insert(pixels.end(), train.sample(order[j]), train.sample(order[j]) + kPixels);
                labels.push_back(train.labels[order[j]]);
            }
            rows_seen += m;
            reference_step(ref, engine, g, pixels.data(), labels.data(), m, 0.1f);
        }
    }
    EXPECT_EQ(rows_seen, 300u);
    expect_identical(trained, ref);
    EXPECT_NE(epoch_shuffle_seed(42, 0), epoch_shuffle_seed(42, 1));
    EXPECT_NE(shuffled_indices(100, epoch_shuffle_seed(42, 0)), shuffled_indices(100, epoch_shuffle_seed(42, 1)));
}

TEST(Trainer, EpochsForFullBatchAreIterations) {
    const Images train = synthetic(60, 2);
    Params p = init_params(4, Activation::ReLU, Init::He, 0);
    TrainOptions o;
    o.epochs = 5;
    o.log_every = 0;
        const TrainResult r = train_full_batch(p, train, Images{}, o);
    EXPECT_EQ(r.iterations, 5);
    EXPECT_EQ(r.epochs, 5.0);
}

struct ResumeCase {
    OptimizerKind kind;
    std::size_t batch;
    LrDecay decay;
};

TEST(Trainer, ResumingGivesTheSameWeightsAsOneUninterruptedRun) {
    const Images train = synthetic(90, 4), holdout = synthetic(20, 5);
    const ResumeCase cases[] = {
        {OptimizerKind::GD, 0, LrDecay::None},          {OptimizerKind::Momentum, 0, LrDecay::None},
        {OptimizerKind::Adam, 0, LrDecay::None},        {OptimizerKind::GD, 32, LrDecay::None},
        {OptimizerKind::Momentum, 32, LrDecay::Step},   {OptimizerKind::Adam, 32, LrDecay::None},
        {OptimizerKind::Adam, 16, LrDecay::Cosine},     {OptimizerKind::Adam, 0, LrDecay::Step},
    };
    for (const ResumeCase& c : cases) {
        SCOPED_TRACE(to_string(c.kind) + " batch " + std::to_string(c.batch) + " decay " + to_string(c.decay));
        TrainOptions o;
        o.alpha = c.kind == OptimizerKind::Adam ? 0.002 : 0.05;
        o.batch_size = c.batch;
        o.seed = 7;
        o.optimizer.kind = c.kind;
        o.optimizer.l2 = 1e-3;
        o.lr_decay = c.decay;
        o.lr_step_every = 9;
        o.lr_step_gamma = 0.7;
        o.lr_total_steps = c.decay == LrDecay::Cosine ? 50 : 0;
        o.log_every = 10;
        const Params start = init_params(8, Activation::ReLU, Init::He, 3);
        
        Params whole = start;
        TrainState whole_state;
        o.iters = 50;
        train_network(whole, train, holdout, o, whole_state);
        EXPECT_EQ(whole_state.step, 50);

        // 20 steps (mid-epoch for the mini-batch cases: 3 or 6 steps per epoch), then the state goes
        // through its saved form, then 30 more.
        Params part = start;
        TrainState state;
        o.iters = 20;
        train_network(part, train, holdout, o, state);
        EXPECT_EQ(state.step, 20);
        TrainState reloaded;
        reloaded.step = state.step;
        reloaded.optimizer = optimizer_state_from_tensors(c.kind, 8, optimizer_state_tensors(c.kind, state.optimizer),
                                                          state.optimizer.t);
        o.iters = 30;
        const TrainResult r = train_network(part, train, holdout, o, reloaded);
        EXPECT_EQ(r.iterations, 30);
        EXPECT_EQ(r.total_steps, 50);
        EXPECT_EQ(reloaded.step, 50);
        EXPECT_EQ(reloaded.optimizer.t, 50);
        expect_identical(part, whole);
    }
}

TEST(Trainer, MiniBatchLogsHoldoutAndEpochAndRunningTrainFigures) {
    const Images train = synthetic(200, 1), holdout = synthetic(50, 2);
    Params p = init_params(16, Activation::ReLU, Init::He, 0);
    TrainOptions o;
    o.alpha = 0.01;
    o.optimizer.kind = OptimizerKind::Adam;
    o.batch_size = 50;  // 4 steps per epoch
    o.epochs = 10;
    o.log_every = 8;
    o.lr_decay = LrDecay::Cosine;
    Recorder rec;
    const TrainResult r = train_full_batch(p, train, holdout, o, &rec);
    const std::vector<TrainLogEntry>& entries = rec.entries;
    EXPECT_EQ(r.iterations, 40);
    EXPECT_EQ(r.lr_total_steps, 40);
    ASSERT_EQ(entries.size(), 5u);  // steps 0, 8, 16, 24, 32
    for (std::size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ(entries[i].iteration, static_cast<std::int64_t>(8 * i));
        EXPECT_DOUBLE_EQ(entries[i].epoch, 2.0 * static_cast<double>(i));
        EXPECT_TRUE(entries[i].has_holdout);
        EXPECT_GE(entries[i].train_accuracy, 0.0);
        EXPECT_LE(entries[i].train_accuracy, 1.0);
    }
    EXPECT_DOUBLE_EQ(entries[0].learning_rate, 0.01);
    EXPECT_LT(entries[4].learning_rate, entries[1].learning_rate);
    EXPECT_LT(entries[4].loss, entries[0].loss);
    EXPECT_GT(entries[4].holdout_accuracy, entries[0].holdout_accuracy);
    EXPECT_GE(r.holdout_accuracy, 0.9);
}

TEST(Trainer, FullBatchLogsTheWholeSetAtStepZero) {
    const Images train = synthetic(100, 1);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.iters = 1;
    Recorder rec;
    train_full_batch(p, train, Images{}, o, &rec);
    ASSERT_EQ(rec.entries.size(), 1u);
    EXPECT_EQ(rec.entries[0].iteration, 0);
    EXPECT_FALSE(rec.entries[0].has_holdout);
    EXPECT_DOUBLE_EQ(rec.entries[0].learning_rate, 0.1);
}

TEST(Trainer, MiniBatchDivergenceNamesStepAndEpoch) {
    TrainOptions o;
    o.alpha = 1e30;
    o.batch_size = 30;
    o.iters = 50;
    const std::string msg = divergence_message(o);
    EXPECT_NE(msg.find("diverged at iteration"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(epoch "), std::string::npos) << msg;
    EXPECT_NE(msg.find("smaller alpha"), std::string::npos) << msg;
}

TEST(Trainer, MiniBatchStopsAfterCurrentStepWhenAsked) {
    const Images train = synthetic(100, 1);
    Params p = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.batch_size = 10;
    o.optimizer.kind = OptimizerKind::Adam;
    o.alpha = 0.001;
    Recorder stop;
    stop.stop = true;
    TrainState state;
    const TrainResult r = train_network(p, train, Images{}, o, state, &stop);
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.iterations, 1);
    EXPECT_EQ(state.step, 1);
    EXPECT_EQ(state.optimizer.t, 1);
}

TEST(Trainer, RejectsBadTrainingOptions) {
    const Images train = synthetic(10, 1);
    Params p = init_params(4, Activation::ReLU, Init::Uniform, 0);
        TrainOptions o;
    o.epochs = -1;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    o = TrainOptions{};
    o.lr_decay = LrDecay::Step;  // no lr_step_every
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    o.lr_step_every = 5;
    o.lr_step_gamma = 0.0;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    o = TrainOptions{};
    o.optimizer.beta1 = 1.0;
    o.optimizer.kind = OptimizerKind::Adam;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    o = TrainOptions{};
    o.optimizer.l2 = -1.0;
    EXPECT_THROW(train_full_batch(p, train, Images{}, o), UsageError);
    o = TrainOptions{};
    TrainState bad;
    bad.step = -1;
    EXPECT_THROW(train_network(p, train, Images{}, o, bad), UsageError);
}


// Augmentation, dropout and label smoothing on: the mini-batch options the 99 % recipe uses.
TrainOptions regularized_options() {
    TrainOptions o;
    o.alpha = 0.002;
    o.batch_size = 32;
    o.seed = 5;
    o.optimizer.kind = OptimizerKind::Adam;
    o.dropout = 0.3;
    o.label_smoothing = 0.1;
    o.augment.kind = AugmentKind::Elastic;
    o.augment.rotation = 12.0;
    o.augment.shear = 0.1;
    o.log_every = 7;
    return o;
}

TEST(Trainer, AugmentationAndDropoutGiveTheSameResultForOneAndTwoThreads) {
    const Images train = synthetic(150, 6), holdout = synthetic(30, 7);
    Params a = init_params(24, Activation::ReLU, Init::He, 1), b = a;
    TrainOptions o = regularized_options();
    o.iters = 12;  // 5 steps per epoch: crosses two epoch boundaries
    TrainState sa, sb;
    o.threads = 1;
    const TrainResult ra = train_network(a, train, holdout, o, sa);
    o.threads = 2;
    const TrainResult rb = train_network(b, train, holdout, o, sb);
    expect_identical(a, b);
    EXPECT_EQ(ra.loss, rb.loss);
    EXPECT_EQ(ra.holdout_loss, rb.holdout_loss);
}

TEST(Trainer, ResumeMidEpochWithAugmentationAndDropoutIsExact) {
    const Images train = synthetic(150, 6), holdout = synthetic(30, 7);
    const Params start = init_params(24, Activation::ReLU, Init::He, 2);
    TrainOptions o = regularized_options();
    Params whole = start;
    TrainState whole_state;
    o.iters = 13;
    train_network(whole, train, holdout, o, whole_state);
    Params part = start;
    TrainState state;
    o.iters = 7;  // stops inside epoch 1
    train_network(part, train, holdout, o, state);
    TrainState reloaded;
    reloaded.step = state.step;
    reloaded.optimizer = optimizer_state_from_tensors(OptimizerKind::Adam, 24,
                                                      optimizer_state_tensors(OptimizerKind::Adam, state.optimizer),
                                                      state.optimizer.t);
    o.iters = 6;
    train_network(part, train, holdout, o, reloaded);
    expect_identical(part, whole);
}

TEST(Trainer, EachRegularizerChangesTheTrainingAndEvaluationSeesOriginals) {
    const Images train = synthetic(150, 6), holdout = synthetic(30, 7);
    const Params start = init_params(24, Activation::ReLU, Init::He, 3);
    TrainOptions plain;
    plain.alpha = 0.002;
    plain.batch_size = 32;
    plain.optimizer.kind = OptimizerKind::Adam;
    plain.iters = 6;
    plain.log_every = 0;
    Params base = start;
    train_full_batch(base, train, holdout, plain);
    TrainOptions variants[3] = {plain, plain, plain};
    variants[0].dropout = 0.2;
    variants[1].label_smoothing = 0.1;
    variants[2].augment.kind = AugmentKind::Affine;
    for (const TrainOptions& o : variants) {
        Params p = start;
        const TrainResult r = train_full_batch(p, train, holdout, o);
        EXPECT_FALSE((p.W1.array() == base.W1.array()).all());
        // The reported figures are those of the un-augmented rows, without dropout.
        const BatchTotals h = evaluate(p, holdout.pixels.data(), holdout.labels.data(), holdout.rows, 1);
        EXPECT_EQ(r.holdout_loss, h.loss_sum / static_cast<double>(holdout.rows));
        const BatchTotals t = evaluate(p, train.pixels.data(), train.labels.data(), train.rows, 2);
        EXPECT_EQ(r.loss, t.loss_sum / static_cast<double>(train.rows));
    }
}

TEST(Trainer, RejectsBadRegularizationAndFullBatchAugmentation) {
    const Images train = synthetic(40, 1);
    Params p = init_params(4, Activation::ReLU, Init::Uniform, 0);
    auto message = [&](const TrainOptions& o) -> std::string {
        try {
            train_full_batch(p, train, Images{}, o);
        } catch (const UsageError& e) {
            return e.what();
        }
        return "accepted";
    };
    TrainOptions o;
    o.dropout = 1.0;
    EXPECT_NE(message(o).find("dropout"), std::string::npos);
    o = TrainOptions{};
    o.label_smoothing = -0.1;
    EXPECT_NE(message(o).find("label_smoothing"), std::string::npos);
    o = TrainOptions{};
    o.augment.kind = AugmentKind::Affine;  // full batch
    EXPECT_NE(message(o).find("mini-batch"), std::string::npos) << message(o);
    o.batch_size = 40;  // = the rows: still full batch
    EXPECT_NE(message(o).find("mini-batch"), std::string::npos);
    o.batch_size = 8;
    o.augment.elastic_sigma = -4.0;
    EXPECT_NE(message(o).find("sigma"), std::string::npos) << message(o);
    o.augment.elastic_sigma = 4.0;
    o.iters = 2;
    EXPECT_EQ(message(o), "accepted");
}

}  // namespace
}  // namespace mnistnn
