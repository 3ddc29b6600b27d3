#include "mnistnn/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>

#include "mnistnn/error.hpp"

namespace mnistnn {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string format_log_line(const TrainLogEntry& e) {
    char line[128];
    std::snprintf(line, sizeof line, "iter %5d  loss %.4f  train_acc %.4f  (%.2fs)", e.iteration, e.loss,
                  e.train_accuracy, e.seconds);
    return line;
}

}  // namespace

TrainResult train_full_batch(Params& params, const Images& train, const Images& holdout, const TrainOptions& options,
                             std::ostream& log, const std::atomic<bool>* stop,
                             const std::function<void(const TrainLogEntry&)>& on_log) {
    if (!train.has_labels() || train.rows == 0) throw UsageError("training needs labelled rows");
    if (!(options.alpha > 0.0) || !std::isfinite(options.alpha))
        throw UsageError("alpha must be a positive finite number");
    if (options.iters < 0) throw UsageError("iters must be ≥ 0");

    const auto start = std::chrono::steady_clock::now();
    BatchEngine engine(params.hidden(), options.threads);
    Gradients grads(params.hidden());
    const auto m = static_cast<double>(train.rows);
    const auto alpha = static_cast<float>(options.alpha);

    TrainResult result;
    for (int i = 0; i < options.iters; ++i) {
        const BatchTotals totals = engine.gradients(params, train.pixels.data(), train.labels.data(), train.rows, grads);
        const double loss = totals.loss_sum / m;
        if (!std::isfinite(loss)) {
            throw DivergenceError("training diverged at iteration " + std::to_string(i) + ": the loss is " +
                                  (std::isnan(loss) ? "NaN" : "infinite") + "; try a smaller --alpha (it was " +
                                  std::to_string(options.alpha) + ")");
        }
        if (options.log_every > 0 && i % options.log_every == 0) {
            const TrainLogEntry entry{i, loss, static_cast<double>(totals.correct) / m, seconds_since(start)};
            log << format_log_line(entry) << '\n' << std::flush;
            if (on_log) on_log(entry);
        }
        params.W1.noalias() -= alpha * grads.dW1;
        params.b1.noalias() -= alpha * grads.db1;
        params.W2.noalias() -= alpha * grads.dW2;
        params.b2.noalias() -= alpha * grads.db2;
        result.iterations = i + 1;
        if (stop != nullptr && stop->load()) {
            result.interrupted = true;
            break;
        }
    }

    result.loop_seconds = seconds_since(start);
    const BatchTotals final_train = engine.evaluate(params, train.pixels.data(), train.labels.data(), train.rows);
    result.loss = final_train.loss_sum / m;
    if (!std::isfinite(result.loss)) {
        throw DivergenceError("training diverged after the last iteration: the loss is not finite; try a smaller "
                              "--alpha (it was " + std::to_string(options.alpha) + ")");
    }
    result.train_accuracy = static_cast<double>(final_train.correct) / m;
    if (holdout.rows > 0 && holdout.has_labels()) {
        const BatchTotals h = engine.evaluate(params, holdout.pixels.data(), holdout.labels.data(), holdout.rows);
        result.holdout_accuracy = static_cast<double>(h.correct) / static_cast<double>(holdout.rows);
        result.holdout_loss = h.loss_sum / static_cast<double>(holdout.rows);
    }
    result.seconds = seconds_since(start);
    return result;
}

}  // namespace mnistnn
