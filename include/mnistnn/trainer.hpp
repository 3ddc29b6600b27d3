#pragma once
// Full-batch gradient descent over a training set, logging progress to a stream it is given.
#include <atomic>
#include <cstddef>
#include <functional>
#include <iosfwd>

#include "mnistnn/images.hpp"
#include "mnistnn/network.hpp"

namespace mnistnn {

struct TrainOptions {
    double alpha = 0.1;   // learning rate
    int iters = 1000;     // gradient steps
    int log_every = 100;  // log at iterations 0, log_every, 2·log_every, … (0: never)
    int threads = 0;      // 0: all hardware threads
};

// One logged iteration: the forward pass at that iteration, before its update (as the notebook prints).
struct TrainLogEntry {
    int iteration = 0;
    double loss = 0.0;
    double train_accuracy = 0.0;
    double seconds = 0.0;  // since training started
};

struct TrainResult {
    int iterations = 0;  // updates applied
    double seconds = 0.0;       // whole call, including the final evaluation passes
    double loop_seconds = 0.0;  // the gradient-descent loop alone
    double loss = 0.0;              // mean cross-entropy on the training rows after the last update
    double train_accuracy = 0.0;    // after the last update
    double holdout_accuracy = 0.0;  // after the last update; 0 when there are no held-out rows
    double holdout_loss = 0.0;
    bool interrupted = false;       // stopped early because *stop became true
};

// Trains `params` in place: W ← W − α·dW for every parameter, `options.iters` times.
// Writes one line per logged iteration to `log` and calls `on_log` (if set) with the entry.
// Throws DivergenceError (and leaves params in their diverged state) when the loss stops being
// finite. If `stop` becomes true, training ends after the current iteration with interrupted = true.
TrainResult train_full_batch(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                             std::ostream& log, const std::atomic<bool>* stop = nullptr,
                             const std::function<void(const TrainLogEntry&)>& on_log = {});

}  // namespace mnistnn
