#pragma once
// Training loop: full-batch or shuffled mini-batch steps with a chosen optimizer and learning-rate
// schedule, logging progress to a stream it is given. Resumable: everything that carries from one
// step to the next is in TrainState.
#include <cstddef>
#include <cstdint>

#include "mnistnn/images.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/optimizer.hpp"
#include "mnistnn/train_config.hpp"

namespace mnistnn {

class GradientTransport;

// A "step" (also "iteration") is one parameter update. An epoch is one pass over the training
// rows: steps_per_epoch = ⌈rows / batch⌉ (the last, partial batch of an epoch is used), and with
// full batch 1 epoch = 1 step.
//
// What the trainer is given: the recorded configuration (TrainConfig: batch_size, seed,
// optimizer, alpha and its schedule; its architecture and data fields are the caller's business)
// and the settings of this run (RunSettings: iters or epochs, log_every, threads).
//   batch_size 0, or ≥ the training rows: full batch (every step uses all rows in their stored
//   order: the original algorithm, bit for bit). Otherwise mini-batches of this many rows,
//   reshuffled every epoch: epoch e's order is a Fisher–Yates permutation from
//   Rng(epoch_shuffle_seed(seed, e)).
//   lr_total_steps (cosine): 0 means the end of this call (the state's step + the steps to run).
struct TrainOptions : TrainConfig, RunSettings {};

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

// After every step: where the run stands, for a progress display.
struct TrainProgress {
    std::int64_t step = 0;   // global steps done (the state's step after this update)
    std::int64_t first = 0;  // the state's step when this call started
    std::int64_t end = 0;    // the global step this call stops at
    std::int64_t steps_per_epoch = 1;
    double loss = 0.0;       // the same window means as the log's mini-batch figures
    double accuracy = 0.0;
    double seconds = 0.0;    // since this call started
};

// Where the trainer reports; the front end decides what to show. Every method does nothing by
// default. Calls come from the training thread, between steps.
class TrainObserver {
public:
    virtual ~TrainObserver() = default;
    virtual void on_log(const TrainLogEntry& /*entry*/) {}
    virtual void on_step(const TrainProgress& /*progress*/) {}
    // Asked after every step: true ends training there, with interrupted = true.
    virtual bool stop_requested() { return false; }
};

// Trains `params` in place from `state` (updated as it goes): for each step s = state.step, …,
// the gradient of the mean cross-entropy over step s's batch (BatchEngine::gradients), then one
// Optimizer update at learning rate lr(s) (LrSchedule). Reports each logged step and each step's
// progress to `observer` (if any). Throws ConfigError for invalid settings, DivergenceError
// (naming the step; params are left in their diverged state) when the loss stops being finite.
// Allocates nothing per step. Resuming with the saved state gives bit-identical parameters to an
// uninterrupted run (for a cosine schedule: with the same lr_total_steps).
//
// With a `transport` of P > 1 ranks (gradient_transport.hpp), every rank calls this with the same
// data, options and state; each computes its share of every step's batch, and all end with the
// parameters one process would have (bit for bit). The ranks first check that they agree on the
// starting parameters, settings and data (throwing if not), and stop on the same step when any
// rank's observer asks to.
TrainResult train_network(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                          TrainState& state, TrainObserver* observer = nullptr,
                          GradientTransport* transport = nullptr);

// train_network() from a fresh state (kept for callers of the original full-batch API).
TrainResult train_full_batch(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                             TrainObserver* observer = nullptr);

}  // namespace mnistnn
