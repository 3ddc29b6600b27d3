#pragma once
// Training loop: full-batch or shuffled mini-batch steps with a chosen optimizer and learning-rate
// schedule, logging progress to a stream it is given. Resumable: everything that carries from one
// step to the next is in TrainState.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>

#include "mnistnn/augment.hpp"
#include "mnistnn/images.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/optimizer.hpp"

namespace mnistnn {

// A "step" (also "iteration") is one parameter update. An epoch is one pass over the training
// rows: steps_per_epoch = ⌈rows / batch⌉ (the last, partial batch of an epoch is used), and with
// full batch 1 epoch = 1 step.
struct TrainOptions {
    double alpha = 0.1;   // base learning rate (see lr_*)
    int iters = 1000;     // steps to run in this call (unless epochs > 0)
    int epochs = 0;       // > 0: run epochs × steps_per_epoch steps instead of `iters`
    int log_every = 100;  // log at global steps 0, log_every, 2·log_every, … (0: never)
    int threads = 0;      // 0: all hardware threads

    // 0, or ≥ the training rows: full batch (every step uses all rows in their stored order: the
    // original algorithm, bit for bit). Otherwise mini-batches of this many rows, reshuffled every
    // epoch: epoch e's order is a Fisher–Yates permutation from Rng(shuffle_seed(seed, e)).
    std::size_t batch_size = 0;
    std::uint64_t seed = 0;

    OptimizerSettings optimizer;  // gd / momentum / adam, their constants, L2

    LrDecay lr_decay = LrDecay::None;
    std::int64_t lr_step_every = 0;  // step decay: steps between decays (required ≥ 1 for step)
    double lr_step_gamma = 0.1;      // step decay: factor per decay, in (0, 1]
    // Cosine horizon T (global steps). 0: the end of this call (the state's step + the steps to run).
    std::int64_t lr_total_steps = 0;

    // Regularisation (mini-batch or full batch; see Regularization in network.hpp): inverted dropout
    // with probability `dropout` on the hidden layer, masks from dropout_step_key(seed, step); label
    // smoothing ε. Both only in the gradient steps, never in evaluation.
    double dropout = 0.0;          // 0 ≤ p < 1
    double label_smoothing = 0.0;  // 0 ≤ ε < 1

    // Augmentation of the training batches (mini-batch only: refused with full batch, which would
    // need an augmented copy of the whole set every step). Row r of the training set in epoch e is
    // replaced by Augmenter::apply(…, seed, e, r), computed on the engine's threads just before
    // the step's gradient; held-out rows and every evaluation see the original digits.
    AugmentSettings augment;

    // Draw a single progress line on `log` (\r-redrawn, at most 10 times a second). The caller
    // decides (e.g. only when the stream is a terminal); per-log lines still print on their own lines.
    bool interactive = false;
};

// What carries over between calls (and is saved for --resume): the global step and the optimizer's
// moments. A fresh TrainState{} starts a new training.
struct TrainState {
    std::int64_t step = 0;  // updates applied so far (global)
    OptimizerState optimizer;
};

// One logged step: measured at that step, before its update (as the notebook prints).
//   Full batch: loss and train_accuracy are those of the whole training set at that step.
//   Mini-batch: they are the running means over the batches of every step since the previous log
//   line (each batch measured by its own forward pass, before its update), up to and including
//   this step's batch — free to compute; the exact training-set figures come at the end.
// The loss is the mean cross-entropy without the L2 term (so runs with different --l2 compare).
// holdout_*: the held-out rows evaluated with the parameters of that step (has_holdout false and
// both 0 when there are no held-out rows).
struct TrainLogEntry {
    std::int64_t iteration = 0;  // the global step
    double epoch = 0.0;  // steps completed / steps per epoch, before this step's update
    double loss = 0.0;
    double train_accuracy = 0.0;
    double seconds = 0.0;  // since this call started
    bool has_holdout = false;
    double holdout_loss = 0.0;
    double holdout_accuracy = 0.0;
    double learning_rate = 0.0;  // used by this step's update
};

struct TrainResult {
    std::int64_t iterations = 0;   // updates applied by this call
    std::int64_t total_steps = 0;  // the state's step at the end (global)
    double epochs = 0.0;        // total_steps / steps per epoch
    std::int64_t steps_per_epoch = 1;
    std::int64_t lr_total_steps = 0;  // the cosine horizon used (0 unless cosine)
    double seconds = 0.0;       // whole call, including the final evaluation passes
    double loop_seconds = 0.0;  // the training loop alone
    double loss = 0.0;              // mean cross-entropy on the training rows after the last update (full pass)
    double train_accuracy = 0.0;    // after the last update (full pass over the training rows)
    double holdout_accuracy = 0.0;  // after the last update; 0 when there are no held-out rows
    double holdout_loss = 0.0;
    bool interrupted = false;       // stopped early because *stop became true
};

// ⌈rows / batch⌉, or 1 for full batch (batch 0 or ≥ rows).
std::int64_t steps_per_epoch(std::size_t rows, std::size_t batch_size);

// The seed of epoch e's shuffle: (seed ^ K) + e·φ (K and φ fixed constants; Rng mixes it further).
std::uint64_t epoch_shuffle_seed(std::uint64_t seed, std::int64_t epoch);

// Trains `params` in place from `state` (updated as it goes): for each step s = state.step, …,
// the gradient of the mean cross-entropy over step s's batch (BatchEngine::gradients), then one
// Optimizer update at learning rate lr(s) (LrSchedule). Writes one line per logged step to `log` and
// calls `on_log` (if set) with the entry. Throws UsageError for invalid options, DivergenceError
// (naming the step; params are left in their diverged state) when the loss stops being finite. If
// `stop` becomes true, training ends after the current step with interrupted = true. Allocates
// nothing per step. Resuming with the saved state gives bit-identical parameters to an
// uninterrupted run (for a cosine schedule: with the same lr_total_steps).
TrainResult train_network(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                          TrainState& state, std::ostream& log, const std::atomic<bool>* stop = nullptr,
                          const std::function<void(const TrainLogEntry&)>& on_log = {});

// train_network() from a fresh state (kept for callers of the original full-batch API).
TrainResult train_full_batch(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                             std::ostream& log, const std::atomic<bool>* stop = nullptr,
                             const std::function<void(const TrainLogEntry&)>& on_log = {});

}  // namespace mnistnn
