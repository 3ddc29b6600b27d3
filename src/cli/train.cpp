// `mnistnn train`: load, split, train by full-batch gradient descent, save atomically.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/trainer.hpp"

namespace mnistnn::cli {
namespace {

// Set by SIGINT/SIGTERM; the trainer checks it after every iteration.
std::atomic<bool> g_stop_requested{false};

extern "C" void request_stop(int) {
    g_stop_requested.store(true);
    // A second Ctrl-C kills at once.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
}

// Installs the stop handler for the lifetime of the object.
class StopOnSignal {
public:
    StopOnSignal() {
        previous_int_ = std::signal(SIGINT, request_stop);
        previous_term_ = std::signal(SIGTERM, request_stop);
    }
    ~StopOnSignal() {
        std::signal(SIGINT, previous_int_);
        std::signal(SIGTERM, previous_term_);
    }
    StopOnSignal(const StopOnSignal&) = delete;
    StopOnSignal& operator=(const StopOnSignal&) = delete;

private:
    void (*previous_int_)(int) = SIG_DFL;
    void (*previous_term_)(int) = SIG_DFL;
};

std::string absolute_path(const std::string& path) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(path, ec);
    return ec ? path : abs.lexically_normal().string();
}

}  // namespace

void setup_train(CLI::App& app, Options& o) {
    CLI::App* sub = app.add_subcommand("train", "Train the network by full-batch gradient descent and save it");
    sub->add_option("--data", o.data, "Training data: Kaggle CSV (label,pixel0..783), .csv.gz, or IDX images");
    sub->add_option("--labels", o.labels, "IDX label file, when --data is an IDX image file");
    sub->add_option("--model", o.model, "Where to write the trained model (safetensors)");
    sub->add_option("--alpha", o.alpha, "Learning rate")->check(positive_finite());
    sub->add_option("--iters", o.iters, "Gradient-descent iterations")->check(CLI::Range(0, 100000000));
    sub->add_option("--log-every", o.log_every, "Log every N iterations (0: no per-iteration log)")
        ->check(CLI::Range(0, 100000000));
    sub->add_option("--hidden", o.hidden, "Hidden units")->check(CLI::Range(1, kMaxHidden));
    sub->add_option("--activation", o.activation, "Hidden activation")->check(CLI::IsMember({"relu", "sigmoid"}));
    sub->add_option("--init", o.init, "Weight initialisation")->check(CLI::IsMember({"uniform", "he", "xavier"}));
    sub->add_option("--seed", o.seed, "Seed for the shuffle and the initial weights");
    sub->add_option("--holdout", o.holdout, "Rows held out (the first rows after shuffling)");
    sub->add_option("--threads", o.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--save-on-interrupt", o.save_on_interrupt,
                  "On Ctrl-C, save the model trained so far (default: save nothing)");
    sub->add_flag("--json", o.json, "Print the result as one JSON object on stdout");
    sub->add_flag("-q,--quiet", o.quiet, "No per-iteration log");
}

int run_train(const Options& o) {
    check_output_path(o.model, o.data, "model");
    if (!o.labels.empty()) check_output_path(o.model, o.labels, "model");

    const auto load_start = std::chrono::steady_clock::now();
    Images all = load_data_file(o.data, o.labels);
    const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    if (!all.has_labels()) {
        throw UsageError("'" + o.data + "' has no label column (pixel0,… only): training needs labelled data");
    }
    const std::string fingerprint = data_fingerprint(all);
    const Split split = split_rows(all.rows, o.seed, o.holdout);
    const Images train = gather_rows(all, split.train);
    const Images holdout = gather_rows(all, split.holdout);
    const std::size_t total_rows = all.rows;
    all = Images{};  // release the unsplit copy before training

    Params params = init_params(o.hidden, activation_from_string(o.activation), init_from_string(o.init), o.seed);
    TrainOptions train_options;
    train_options.alpha = o.alpha;
    train_options.iters = o.iters;
    train_options.log_every = o.quiet ? 0 : o.log_every;
    train_options.threads = o.threads;

    std::cerr << "training 784-" << o.hidden << "-10 (" << o.activation << ") on " << train.rows << " rows of "
              << o.data << ", holding out " << holdout.rows << "; alpha " << o.alpha << ", " << o.iters
              << " iterations\n";
    TrainResult result;
    {
        StopOnSignal stop_on_signal;
        result = train_full_batch(params, train, holdout, train_options, std::cerr, &g_stop_requested);
    }

    if (result.interrupted && !o.save_on_interrupt) {
        throw InterruptedError("interrupted after " + std::to_string(result.iterations) + " of " +
                               std::to_string(o.iters) + " iterations; no model written (" + o.model +
                               " is unchanged; use --save-on-interrupt to keep partial training)");
    }

    Model model;
    model.params = params;
    model.metadata = {
        {"created_by", std::string("mnistnn ") + kVersion},
        {"init", o.init},
        {"seed", std::to_string(o.seed)},
        {"holdout", std::to_string(holdout.rows)},
        {"data_path", absolute_path(o.data)},
        {"labels_path", o.labels.empty() ? "" : absolute_path(o.labels)},
        {"data_rows", std::to_string(total_rows)},
        {"data_fingerprint", fingerprint},
        {"train_rows", std::to_string(train.rows)},
        {"alpha", format_number(o.alpha)},
        {"iters", std::to_string(result.iterations)},
        {"optimizer", "gd"},
        {"batch_size", "0"},
        {"loss", format_number(result.loss)},
        {"train_accuracy", format_number(result.train_accuracy)},
        {"holdout_accuracy", format_number(result.holdout_accuracy)},
        {"interrupted", result.interrupted ? "true" : "false"},
    };
    if (o.labels.empty()) model.metadata.erase("labels_path");
    save_model(o.model, model);

    if (o.json) {
        nlohmann::json j = {{"iters", result.iterations},
                            {"seconds", result.seconds},
                            {"train_accuracy", result.train_accuracy},
                            {"holdout_accuracy", result.holdout_accuracy},
                            {"loss", result.loss},
                            {"model", o.model},
                            {"train_rows", train.rows},
                            {"holdout_rows", holdout.rows},
                            {"load_seconds", load_seconds},
                            {"ms_per_iter", result.iterations > 0 ? 1000.0 * result.loop_seconds / result.iterations : 0.0},
                            {"threads", o.threads}};
        std::cout << j.dump() << '\n';
    } else {
        std::printf("iterations        %d\nseconds           %.2f\nloss              %.4f\n"
                    "train accuracy    %.4f\nholdout accuracy  %.4f (%zu rows)\nmodel             %s\n",
                    result.iterations, result.seconds, result.loss, result.train_accuracy, result.holdout_accuracy,
                    holdout.rows, o.model.c_str());
    }
    if (result.interrupted) {
        throw InterruptedError("interrupted after " + std::to_string(result.iterations) + " of " +
                               std::to_string(o.iters) + " iterations; saved the partial model to " + o.model);
    }
    return 0;
}

}  // namespace mnistnn::cli
