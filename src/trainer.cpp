#include "mnistnn/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/format.hpp"
#include "mnistnn/gradient_transport.hpp"
#include "mnistnn/train_config.hpp"

namespace mnistnn {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sums over the batches since the previous log line (mini-batch "train" figures).
struct Window {
    double loss_sum = 0.0;
    std::size_t correct = 0;
    std::size_t rows = 0;

    void add(const BatchTotals& t) {
        loss_sum += t.loss_sum;
        correct += t.correct;
        rows += t.rows;
    }
};

[[noreturn]] void diverged(const std::string& where, double loss, double alpha) {
    throw DivergenceError({"alpha"}, "training diverged " + where + ": the loss is " +
                                         (std::isnan(loss) ? "NaN" : std::isinf(loss) ? "infinite" : "not finite") +
                                         "; try a smaller {0} (it was " + format_number(alpha) + ")");
}

std::string where(std::int64_t step, bool mini_batch, std::int64_t spe) {
    std::string text = "at iteration " + std::to_string(step);
    if (mini_batch) text += " (epoch " + std::to_string(step / spe) + ")";
    return text;
}

// A digest of everything a step depends on: the parameters, the recorded settings, the training
// rows' pixels and labels, and the step reached. Ranks of one run must agree on it.
std::uint64_t run_digest(const Params& params, const Images& train, const TrainOptions& options,
                         const TrainState& state) {
    std::uint64_t h = 0x6d6e6973746e6e31ULL;  // "mnistnn1"
    auto mix = [&h](const void* data, std::size_t bytes) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;  // FNV-1a
    };
    auto mix_floats = [&](const auto& m) { mix(m.data(), static_cast<std::size_t>(m.size()) * sizeof(float)); };
    mix_floats(params.W1);
    mix_floats(params.b1);
    mix_floats(params.W2);
    mix_floats(params.b2);
    for (const auto& [key, value] : config_metadata(options)) {
        if (key == "data_path" || key == "labels_path") continue;  // the fingerprint names the data
        mix(key.data(), key.size());
        mix(value.data(), value.size());
    }
    // The rows themselves, 8 bytes at a time (47 MB in about 10 ms), then the tail byte-wise.
    for (const std::vector<std::uint8_t>* bytes : {&train.pixels, &train.labels}) {
        const std::size_t words = bytes->size() / 8;
        for (std::size_t i = 0; i < words; ++i) {
            std::uint64_t word;
            std::memcpy(&word, bytes->data() + 8 * i, 8);
            h = (h ^ word) * 0x9E3779B97F4A7C15ULL;
            h ^= h >> 29;
        }
        mix(bytes->data() + 8 * words, bytes->size() - 8 * words);
    }
    mix(&train.rows, sizeof train.rows);
    mix(&state.step, sizeof state.step);
    mix(&state.optimizer.t, sizeof state.optimizer.t);
    return h;
}

}  // namespace

std::int64_t steps_per_epoch(std::size_t rows, std::size_t batch_size) {
    if (batch_size == 0 || batch_size >= rows) return 1;
    return static_cast<std::int64_t>((rows + batch_size - 1) / batch_size);
}

std::uint64_t epoch_shuffle_seed(std::uint64_t seed, std::int64_t epoch) {
    constexpr std::uint64_t kEpochKey = 0x6d696e6962617463ULL;  // "minibatc": keeps epochs apart from the split
    constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;    // 2^64/φ
    return (seed ^ kEpochKey) + static_cast<std::uint64_t>(epoch) * kGolden;
}

TrainResult train_network(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                          TrainState& state, TrainObserver* observer, GradientTransport* transport) {
    if (!train.has_labels() || train.rows == 0) throw UsageError("training needs labelled rows");
    if (options.iters < 0) throw UsageError("the number of steps to run must be ≥ 0");
    if (options.epochs < 0) throw UsageError("the number of epochs to run must be ≥ 0");
    if (options.log_every < 0) throw UsageError("the log interval must be ≥ 0");
    if (state.step < 0) throw UsageError("the training state's step must be ≥ 0");
    validate(static_cast<const TrainConfig&>(options));
    TrainObserver silent;
    TrainObserver& report = observer != nullptr ? *observer : silent;

    const auto start = Clock::now();
    const int hidden = params.hidden();
    const std::size_t n = train.rows;
    const bool mini_batch = options.batch_size != 0 && options.batch_size < n;
    const std::size_t batch = mini_batch ? options.batch_size : n;
    const std::int64_t spe = steps_per_epoch(n, options.batch_size);
    const std::int64_t first = state.step;
    const std::int64_t to_run = options.epochs > 0 ? static_cast<std::int64_t>(options.epochs) * spe : options.iters;
    const std::int64_t end = first + to_run;

    LrSchedule schedule;
    schedule.alpha = options.alpha;
    schedule.decay = options.lr_decay;
    schedule.step_every = options.lr_step_every;
    schedule.gamma = options.lr_step_gamma;
    schedule.total_steps = options.lr_decay != LrDecay::Cosine ? 0
                           : options.lr_total_steps > 0     ? options.lr_total_steps
                                                            : std::max<std::int64_t>(end, 1);
    schedule.validate();

    Optimizer optimizer(options.optimizer, hidden);  // validates the settings
    Regularization reg;
    reg.dropout = options.dropout;
    reg.label_smoothing = options.label_smoothing;
    reg.validate();
    const Augmenter augmenter(options.augment);  // validates the settings
    if (augmenter.active() && !mini_batch)
        throw UsageError("augmentation needs mini-batch training (a batch size below the " + std::to_string(n) +
                         " training rows); with full batch every step would augment the whole set");
    const bool fresh = state.optimizer.t == 0 && state.optimizer.m.dW1.size() == 0 && state.optimizer.v.dW1.size() == 0;
    if (!fresh) optimizer.set_state(state.optimizer);

    BatchEngine engine(hidden, options.threads);
    if (transport != nullptr && transport->size() > 1) {
        transport->require_same(run_digest(params, train, options, state), "starting parameters, settings or data");
        engine.set_transport(transport);
    }
    Gradients grads(hidden);
    // Mini-batch buffers, allocated once: the epoch's row order and one gathered batch.
    std::vector<std::size_t> order;
    std::int64_t order_epoch = -1;
    std::vector<std::uint8_t> batch_pixels(mini_batch ? batch * kPixels : 0);
    std::vector<std::uint8_t> batch_labels(mini_batch ? batch : 0);
    // The engine's zero-vector masks, computed once per data set instead of on every step.
    const std::vector<std::uint64_t> train_masks = nonzero_vector_masks(train.pixels.data(), n);
    const std::vector<std::uint64_t> holdout_masks = nonzero_vector_masks(holdout.pixels.data(), holdout.rows);
    std::vector<std::uint64_t> batch_masks(mini_batch ? batch : 0);

    const bool has_holdout = holdout.rows > 0 && holdout.has_labels();
    Window window;
    TrainProgress progress;
    progress.first = first;
    progress.end = end;
    progress.steps_per_epoch = spe;

    TrainResult result;
    result.steps_per_epoch = spe;
    result.lr_total_steps = schedule.total_steps;
    for (std::int64_t s = first; s < end; ++s) {
        const std::uint8_t* pixels = train.pixels.data();
        const std::uint8_t* labels = train.labels.data();
        const std::uint64_t* masks = train_masks.data();
        std::size_t m = n;
        if (mini_batch) {
            // Step s is batch s mod spe of epoch s / spe; rows [p·B, min((p+1)·B, n)) of its order.
            const std::int64_t epoch = s / spe;
            if (epoch != order_epoch) {
                order = shuffled_indices(n, epoch_shuffle_seed(options.seed, epoch));
                order_epoch = epoch;
            }
            const auto begin = static_cast<std::size_t>(s % spe) * batch;
            m = std::min(batch, n - begin);
            if (augmenter.active()) {
                // Rows in tasks of 8 on the engine's threads; each row's digit depends only on
                // (seed, epoch, row), so the batch is the same for any thread count. Only the
                // columns this rank computes (all of them in one process).
                constexpr std::size_t kRowsPerTask = 8;
                const auto [lo, hi] = engine.local_columns(m, reg);
                engine.parallel_for((hi - lo + kRowsPerTask - 1) / kRowsPerTask, [&, lo = lo, hi = hi](std::size_t t) {
                    for (std::size_t j = lo + t * kRowsPerTask; j < std::min(hi, lo + (t + 1) * kRowsPerTask); ++j) {
                        const std::size_t row = order[begin + j];
                        augmenter.apply(train.sample(row), batch_pixels.data() + j * kPixels, options.seed, epoch,
                                        row);
                    }
                });
            }
            for (std::size_t j = 0; j < m; ++j) {
                const std::size_t row = order[begin + j];
                if (!augmenter.active()) std::memcpy(batch_pixels.data() + j * kPixels, train.sample(row), kPixels);
                batch_labels[j] = train.labels[row];
                batch_masks[j] = train_masks[row];
            }
            pixels = batch_pixels.data();
            labels = batch_labels.data();
            masks = augmenter.active() ? nullptr : batch_masks.data();  // the engine finds the new digits' own
        }

        reg.dropout_key = dropout_step_key(options.seed, s);
        const BatchTotals totals = engine.gradients(params, pixels, labels, m, grads, masks, reg);
        const double loss = totals.loss_sum / static_cast<double>(m);
        if (!std::isfinite(loss)) diverged(where(s, mini_batch, spe), loss, options.alpha);
        window.add(totals);
        progress.loss = window.loss_sum / static_cast<double>(window.rows);
        progress.accuracy = static_cast<double>(window.correct) / static_cast<double>(window.rows);
        const double lr = schedule.rate(s);

        if (options.log_every > 0 && s % options.log_every == 0) {
            TrainLogEntry entry;
            entry.iteration = s;
            entry.epoch = static_cast<double>(s) / static_cast<double>(spe);
            // Full batch: this step's pass is the whole training set. Mini-batch: the window.
            entry.loss = mini_batch ? progress.loss : loss;
            entry.train_accuracy =
                mini_batch ? progress.accuracy : static_cast<double>(totals.correct) / static_cast<double>(m);
            entry.learning_rate = lr;
            if (has_holdout) {
                const BatchTotals h = engine.evaluate(params, holdout.pixels.data(), holdout.labels.data(), holdout.rows,
                                                      nullptr, holdout_masks.data());
                entry.has_holdout = true;
                entry.holdout_loss = h.loss_sum / static_cast<double>(holdout.rows);
                entry.holdout_accuracy = static_cast<double>(h.correct) / static_cast<double>(holdout.rows);
            }
            entry.seconds = seconds_since(start);
            report.on_log(entry);
            window = Window{};
        }

        optimizer.step(params, grads, static_cast<float>(lr));
        state.step = s + 1;
        result.iterations = s + 1 - first;

        progress.step = s + 1;
        progress.seconds = seconds_since(start);
        report.on_step(progress);
        const bool stop = report.stop_requested();
        if (transport != nullptr && transport->size() > 1 ? transport->any(stop) : stop) {
            result.interrupted = true;
            break;
        }
    }
    state.optimizer = optimizer.state();

    result.total_steps = state.step;
    result.epochs = static_cast<double>(state.step) / static_cast<double>(spe);
    result.loop_seconds = seconds_since(start);
    const BatchTotals final_train = engine.evaluate(params, train.pixels.data(), train.labels.data(), n, nullptr,
                                                    train_masks.data());
    result.loss = final_train.loss_sum / static_cast<double>(n);
    if (!std::isfinite(result.loss)) {
        diverged("after the last iteration", result.loss, options.alpha);
    }
    result.train_accuracy = static_cast<double>(final_train.correct) / static_cast<double>(n);
    if (has_holdout) {
        const BatchTotals h = engine.evaluate(params, holdout.pixels.data(), holdout.labels.data(), holdout.rows,
                                              nullptr, holdout_masks.data());
        result.holdout_accuracy = static_cast<double>(h.correct) / static_cast<double>(holdout.rows);
        result.holdout_loss = h.loss_sum / static_cast<double>(holdout.rows);
    }
    result.seconds = seconds_since(start);
    return result;
}

TrainResult train_full_batch(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                             TrainObserver* observer) {
    TrainState state;
    return train_network(params, train, holdout, options, state, observer);
}

}  // namespace mnistnn
