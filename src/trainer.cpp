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


// Refuses arguments no run can use (the settings themselves are checked by validate()).
void check_run(const Images& train, const TrainOptions& options, const TrainState& state) {
    if (!train.has_labels() || train.rows == 0) throw UsageError("training needs labelled rows");
    if (options.iters < 0) throw UsageError("the number of steps to run must be ≥ 0");
    if (options.epochs < 0) throw UsageError("the number of epochs to run must be ≥ 0");
    if (options.log_every < 0) throw UsageError("the log interval must be ≥ 0");
    if (state.step < 0) throw UsageError("the training state's step must be ≥ 0");
    validate(static_cast<const TrainConfig&>(options));
}

// The learning-rate schedule of a run that ends at step `end` (a cosine decays to the recorded
// total, or to `end` when none is recorded).
LrSchedule make_schedule(const TrainOptions& options, std::int64_t end) {
    LrSchedule schedule;
    schedule.alpha = options.alpha;
    schedule.decay = options.lr_decay;
    schedule.step_every = options.lr_step_every;
    schedule.gamma = options.lr_step_gamma;
    schedule.total_steps = options.lr_decay != LrDecay::Cosine ? 0
                           : options.lr_total_steps > 0     ? options.lr_total_steps
                                                            : std::max<std::int64_t>(end, 1);
    schedule.validate();
    return schedule;
}

Regularization make_regularization(const TrainOptions& options) {
    Regularization reg;
    reg.dropout = options.dropout;
    reg.label_smoothing = options.label_smoothing;
    reg.validate();
    return reg;
}

bool fresh_state(const TrainState& state) {
    return state.optimizer.t == 0 && state.optimizer.m.dW1.size() == 0 && state.optimizer.v.dW1.size() == 0;
}

// The rows of each step: the whole training set (full batch), or batch s mod spe of epoch s / spe
// of a per-epoch shuffled order (mini-batch), gathered into buffers allocated once, distorted
// when augmentation is on.
class StepBatches {
  public:
    struct Batch {
        const std::uint8_t* pixels;
        const std::uint8_t* labels;
        const std::uint64_t* masks;  // the engine's zero-vector masks; null: the engine finds them
        std::size_t m;
    };

    StepBatches(const Images& train, const TrainOptions& options)
        : train_(train), options_(options), augmenter_(options.augment),  // validates the settings
          mini_batch_(options.batch_size != 0 && options.batch_size < train.rows),
          batch_(mini_batch_ ? options.batch_size : train.rows), spe_(steps_per_epoch(train.rows, options.batch_size)),
          train_masks_(nonzero_vector_masks(train.pixels.data(), train.rows)),
          pixels_(mini_batch_ ? batch_ * kPixels : 0), labels_(mini_batch_ ? batch_ : 0), masks_(mini_batch_ ? batch_ : 0) {
        if (augmenter_.active() && !mini_batch_)
            throw UsageError("augmentation needs mini-batch training (a batch size below the " +
                             std::to_string(train.rows) +
                             " training rows); with full batch every step would augment the whole set");
    }

    bool mini_batch() const { return mini_batch_; }
    const std::vector<std::uint64_t>& train_masks() const { return train_masks_; }

    Batch at(std::int64_t s, BatchEngine& engine, const Regularization& reg) {
        if (!mini_batch_) return {train_.pixels.data(), train_.labels.data(), train_masks_.data(), train_.rows};
        const std::int64_t epoch = s / spe_;
        if (epoch != order_epoch_) {
            order_ = shuffled_indices(train_.rows, epoch_shuffle_seed(options_.seed, epoch));
            order_epoch_ = epoch;
        }
        // Rows [p·B, min((p+1)·B, n)) of the epoch's order, p = s mod spe.
        const auto begin = static_cast<std::size_t>(s % spe_) * batch_;
        const std::size_t m = std::min(batch_, train_.rows - begin);
        if (augmenter_.active()) distort(engine, reg, epoch, begin, m);
        for (std::size_t j = 0; j < m; ++j) {
            const std::size_t row = order_[begin + j];
            if (!augmenter_.active()) std::memcpy(pixels_.data() + j * kPixels, train_.sample(row), kPixels);
            labels_[j] = train_.labels[row];
            masks_[j] = train_masks_[row];
        }
        // Distorted digits have their own zero vectors: the engine finds them.
        return {pixels_.data(), labels_.data(), augmenter_.active() ? nullptr : masks_.data(), m};
    }

  private:
    // Rows in tasks of 8 on the engine's threads; each row's digit depends only on (seed, epoch,
    // row), so the batch is the same for any thread count. Only the columns this rank computes
    // (all of them in one process).
    void distort(BatchEngine& engine, const Regularization& reg, std::int64_t epoch, std::size_t begin,
                 std::size_t m) {
        constexpr std::size_t kRowsPerTask = 8;
        const std::pair<std::size_t, std::size_t> columns = engine.local_columns(m, reg);
        const std::size_t lo = columns.first, hi = columns.second;
        engine.parallel_for((hi - lo + kRowsPerTask - 1) / kRowsPerTask, [&](std::size_t t) {
            for (std::size_t j = lo + t * kRowsPerTask; j < std::min(hi, lo + (t + 1) * kRowsPerTask); ++j) {
                const std::size_t row = order_[begin + j];
                augmenter_.apply(train_.sample(row), pixels_.data() + j * kPixels, options_.seed, epoch, row);
            }
        });
    }

    const Images& train_;
    const TrainOptions& options_;
    const Augmenter augmenter_;
    const bool mini_batch_;
    const std::size_t batch_;
    const std::int64_t spe_;
    const std::vector<std::uint64_t> train_masks_;  // computed once per data set, not on every step
    std::vector<std::size_t> order_;
    std::int64_t order_epoch_ = -1;
    std::vector<std::uint8_t> pixels_, labels_;
    std::vector<std::uint64_t> masks_;
};

// The held-out rows (possibly none) and their zero-vector masks.
struct Evaluation {
    const Images& rows;
    std::vector<std::uint64_t> masks;

    bool active() const { return rows.rows > 0 && rows.has_labels(); }

    BatchTotals run(BatchEngine& engine, const Params& params) const {
        return engine.evaluate(params, rows.pixels.data(), rows.labels.data(), rows.rows, nullptr, masks.data());
    }

    void fill(BatchEngine& engine, const Params& params, TrainLogEntry& entry) const {
        if (!active()) return;
        const BatchTotals h = run(engine, params);
        entry.has_holdout = true;
        entry.holdout_loss = h.loss_sum / static_cast<double>(rows.rows);
        entry.holdout_accuracy = static_cast<double>(h.correct) / static_cast<double>(rows.rows);
    }
};

// The log entry of step s: full batch, this step's pass over the whole training set; mini-batch,
// the window of batches since the previous entry.
TrainLogEntry log_entry(std::int64_t s, std::int64_t spe, bool mini_batch, const TrainProgress& window,
                        const BatchTotals& step, std::size_t m, double lr) {
    TrainLogEntry entry;
    entry.iteration = s;
    entry.epoch = static_cast<double>(s) / static_cast<double>(spe);
    entry.loss = mini_batch ? window.loss : step.loss_sum / static_cast<double>(m);
    entry.train_accuracy = mini_batch ? window.accuracy : static_cast<double>(step.correct) / static_cast<double>(m);
    entry.learning_rate = lr;
    return entry;
}

// The final loss and accuracy over all training rows, and over the held-out rows.
void final_metrics(BatchEngine& engine, const Params& params, const Images& train,
                   const std::vector<std::uint64_t>& train_masks, const Evaluation& heldout, double alpha,
                   TrainResult& result) {
    const BatchTotals t =
        engine.evaluate(params, train.pixels.data(), train.labels.data(), train.rows, nullptr, train_masks.data());
    result.loss = t.loss_sum / static_cast<double>(train.rows);
    if (!std::isfinite(result.loss)) diverged("after the last iteration", result.loss, alpha);
    result.train_accuracy = static_cast<double>(t.correct) / static_cast<double>(train.rows);
    if (heldout.active()) {
        const BatchTotals h = heldout.run(engine, params);
        result.holdout_accuracy = static_cast<double>(h.correct) / static_cast<double>(heldout.rows.rows);
        result.holdout_loss = h.loss_sum / static_cast<double>(heldout.rows.rows);
    }
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
    check_run(train, options, state);
    TrainObserver silent;
    TrainObserver& report = observer != nullptr ? *observer : silent;

    const auto start = Clock::now();
    const int hidden = params.hidden();
    const std::size_t n = train.rows;
    const std::int64_t spe = steps_per_epoch(n, options.batch_size);
    const std::int64_t first = state.step;
    const std::int64_t end =
        first + (options.epochs > 0 ? static_cast<std::int64_t>(options.epochs) * spe : options.iters);
    const LrSchedule schedule = make_schedule(options, end);
    Optimizer optimizer(options.optimizer, hidden);  // validates the settings
    if (!fresh_state(state)) optimizer.set_state(state.optimizer);
    Regularization reg = make_regularization(options);

    BatchEngine engine(hidden, options.threads);
    if (transport != nullptr && transport->size() > 1) {
        transport->require_same(run_digest(params, train, options, state), "starting parameters, settings or data");
        engine.set_transport(transport);
    }
    Gradients grads(hidden);
    StepBatches batches(train, options);
    const Evaluation heldout{holdout, nonzero_vector_masks(holdout.pixels.data(), holdout.rows)};
    Window window;
    TrainProgress progress;
    progress.first = first;
    progress.end = end;
    progress.steps_per_epoch = spe;

    TrainResult result;
    result.steps_per_epoch = spe;
    result.lr_total_steps = schedule.total_steps;
    for (std::int64_t s = first; s < end; ++s) {
        const StepBatches::Batch batch = batches.at(s, engine, reg);
        reg.dropout_key = dropout_step_key(options.seed, s);
        const BatchTotals totals = engine.gradients(params, batch.pixels, batch.labels, batch.m, grads, batch.masks, reg);
        const double loss = totals.loss_sum / static_cast<double>(batch.m);
        if (!std::isfinite(loss)) diverged(where(s, batches.mini_batch(), spe), loss, options.alpha);
        window.add(totals);
        progress.loss = window.loss_sum / static_cast<double>(window.rows);
        progress.accuracy = static_cast<double>(window.correct) / static_cast<double>(window.rows);
        const double lr = schedule.rate(s);

        if (options.log_every > 0 && s % options.log_every == 0) {
            TrainLogEntry entry = log_entry(s, spe, batches.mini_batch(), progress, totals, batch.m, lr);
            heldout.fill(engine, params, entry);
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
    final_metrics(engine, params, train, batches.train_masks(), heldout, options.alpha, result);
    result.seconds = seconds_since(start);
    return result;
}

TrainResult train_full_batch(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                             TrainObserver* observer) {
    TrainState state;
    return train_network(params, train, holdout, options, state, observer);
}

}  // namespace mnistnn
