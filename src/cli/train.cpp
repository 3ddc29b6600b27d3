// `mnistnn train`: load, split, train (full batch or mini-batch; gd, momentum or Adam), save atomically.
// With --resume: reload a saved model with its split, settings and optimizer state and train on.
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <vector>

#include "cli.hpp"
#include "mnistnn/atomic_file.hpp"
#include "mnistnn/augment.hpp"
#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/optimizer.hpp"
#include "mnistnn/trainer.hpp"

namespace mnistnn::cli {
namespace {

// Set by SIGINT/SIGTERM; the trainer checks it after every step.
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

const CLI::App* g_train_app = nullptr;  // the parsed `train` subcommand, to ask which options were given

bool given(const char* name) { return g_train_app != nullptr && g_train_app->count(name) > 0; }

std::optional<double> parse_double(const std::string& text) {
    double value = 0.0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
    return value;
}

CLI::Validator unit_interval() {
    return number_check("[0,1)", [](double v) { return v >= 0.0 && v < 1.0; }, "in [0, 1)");
}

CLI::Validator non_negative_finite() {
    return number_check("NONNEGATIVE", [](double v) { return std::isfinite(v) && v >= 0.0; }, "a finite number >= 0");
}

CLI::Validator decay_factor() {
    return number_check("(0,1]", [](double v) { return v > 0.0 && v <= 1.0; }, "in (0, 1]");
}

// ---- the recorded setup of a saved model (for --resume) ----

double metadata_double_or(const Model& model, const std::string& key, double fallback) {
    const auto it = model.metadata.find(key);
    if (it == model.metadata.end()) return fallback;
    const auto value = parse_double(it->second);
    if (!value) throw ModelFormatError("model metadata '" + key + "' is not a number: '" + it->second + "'");
    return *value;
}

long long metadata_integer_or(const Model& model, const std::string& key, long long fallback) {
    return model.metadata.count(key) != 0 ? metadata_integer(model, key) : fallback;
}

// Refuses an option given together with --resume whose value differs from the recorded one.
template <class T>
void require_recorded(const char* option, const T& given_value, const T& recorded, const std::string& shown_given,
                      const std::string& shown_recorded) {
    if (given(option) && !(given_value == recorded)) {
        throw UsageError(std::string(option) + " " + shown_given + " differs from the model's recorded " +
                         shown_recorded + "; --resume continues the recorded setup (leave " + option +
                         " out, or train a new model without --resume)");
    }
}

void require_recorded(const char* option, const std::string& given_value, const std::string& recorded) {
    require_recorded(option, given_value, recorded, given_value, recorded);
}

void require_recorded(const char* option, double given_value, double recorded) {
    require_recorded(option, given_value, recorded, format_number(given_value), format_number(recorded));
}

void require_recorded(const char* option, long long given_value, long long recorded) {
    require_recorded(option, given_value, recorded, std::to_string(given_value), std::to_string(recorded));
}

// A stream that discards everything (the trainer's log under --quiet).
class NullBuffer : public std::streambuf {
protected:
    int overflow(int c) override { return c == EOF ? 0 : c; }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

std::string csv_number(double value) { return format_number(value); }

void write_log_csv(const std::string& path, const std::vector<TrainLogEntry>& entries) {
    write_file_atomically(path, [&](std::ostream& out) {
        out << "step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss\n";
        for (const TrainLogEntry& e : entries) {
            out << e.iteration << ',' << csv_number(e.epoch) << ',' << csv_number(e.seconds) << ','
                << csv_number(e.loss) << ',' << csv_number(e.train_accuracy) << ',';
            if (e.has_holdout) out << csv_number(e.holdout_accuracy) << ',' << csv_number(e.holdout_loss);
            else out << ',';
            out << '\n';
        }
    });
}

std::string optimizer_description(const OptimizerSettings& s) {
    std::string text = to_string(s.kind);
    if (s.kind == OptimizerKind::Momentum) text += " (momentum " + format_number(s.momentum) + ")";
    if (s.kind == OptimizerKind::Adam)
        text += " (beta1 " + format_number(s.beta1) + ", beta2 " + format_number(s.beta2) + ", eps " +
                format_number(s.eps) + ")";
    if (s.l2 > 0.0) text += ", l2 " + format_number(s.l2);
    return text;
}

}  // namespace

void setup_train(CLI::App& app, Options& o) {
    CLI::App* sub = app.add_subcommand(
        "train", "Train the network (full-batch or mini-batch; gd, momentum or Adam) and save it");
    g_train_app = sub;
    TrainExtras& x = o.train_extra;
    sub->add_option("--data", o.data, "Training data: Kaggle CSV (label,pixel0..783), .csv.gz, or IDX images");
    sub->add_option("--labels", o.labels, "IDX label file, when --data is an IDX image file");
    sub->add_option("--model", o.model, "Where to write the trained model (safetensors); with --resume, also read");
    sub->add_option("--alpha", o.alpha, "Learning rate (the base rate of --lr-decay)")->check(positive_finite());
    sub->add_option("--iters", o.iters, "Steps (gradient updates) to run; with --resume, how many more")
        ->check(CLI::Range(0, 100000000));
    sub->add_option("--epochs", x.epochs,
                    "Train for this many passes over the training rows instead of --iters (default 0: use --iters); "
                    "with --resume, how many more")
        ->check(CLI::Range(1, 10000000));
    sub->add_option("--batch-size", x.batch_size,
                    "Rows per step: mini-batches reshuffled every epoch from --seed (0, or >= the training rows: full batch)")
        ->check(CLI::Range(0LL, 1000000000LL));
    sub->add_option("--optimizer", x.optimizer,
                    "gd: W -= alpha*g; momentum: v = mu*v + g, W -= alpha*v; adam: bias-corrected Adam")
        ->check(CLI::IsMember({"gd", "momentum", "adam"}));
    sub->add_option("--momentum", x.momentum, "Momentum mu (--optimizer momentum)")->check(unit_interval());
    sub->add_option("--beta1", x.beta1, "Adam's first-moment decay")->check(unit_interval());
    sub->add_option("--beta2", x.beta2, "Adam's second-moment decay")->check(unit_interval());
    sub->add_option("--eps", x.eps, "Adam's epsilon")->check(positive_finite());
    sub->add_option("--l2", x.l2, "L2 weight decay: adds l2*W to the gradients of W1 and W2 (not biases)")
        ->check(non_negative_finite());
    sub->add_option("--lr-decay", x.lr_decay,
                    "Learning-rate schedule: none; step (alpha*gamma^floor(step/N)); cosine (alpha to 0 over "
                    "the run's steps)")
        ->check(CLI::IsMember({"none", "step", "cosine"}));
    sub->add_option("--lr-step-every", x.lr_step_every, "Step decay: steps between decays (needed for step)")
        ->check(CLI::Range(1LL, 1000000000LL));
    sub->add_option("--lr-step-gamma", x.lr_step_gamma, "Step decay: factor per decay")->check(decay_factor());
    sub->add_option("--dropout", x.dropout,
                    "Inverted dropout on the hidden layer while training: drop each unit with probability p")
        ->check(unit_interval());
    sub->add_option("--label-smoothing", x.label_smoothing,
                    "Train towards (1-e)*one-hot + e/10 instead of the one-hot label")
        ->check(unit_interval());
    sub->add_option("--augment", x.augment,
                    "Distort each training row anew every epoch (mini-batch only): none; affine (rotation, "
                    "scale, shear, translation); elastic (affine plus an elastic field)")
        ->check(CLI::IsMember({"none", "affine", "elastic"}));
    sub->add_option("--rotate", x.rotation, "Augmentation: rotation range in degrees (+-)")
        ->check(number_check("[0,180]", [](double v) { return v >= 0.0 && v <= 180.0; }, "in [0, 180]"));
    sub->add_option("--scale", x.scale, "Augmentation: scale range per axis (1 +- s)")->check(unit_interval());
    sub->add_option("--shear", x.shear, "Augmentation: shear factor range (+-)")
        ->check(number_check("[0,1]", [](double v) { return v >= 0.0 && v <= 1.0; }, "in [0, 1]"));
    sub->add_option("--translate", x.translate, "Augmentation: translation range in pixels per axis (+-)")
        ->check(number_check("[0,14]", [](double v) { return v >= 0.0 && v <= 14.0; }, "in [0, 14]"));
    sub->add_option("--elastic-alpha", x.elastic_alpha, "Elastic field scale alpha in pixels (--augment elastic)")
        ->check(number_check("[0,1000]", [](double v) { return v >= 0.0 && v <= 1000.0; }, "in [0, 1000]"));
    sub->add_option("--elastic-sigma", x.elastic_sigma,
                    "Elastic field smoothness: Gaussian sigma in pixels (--augment elastic)")
        ->check(number_check("[0.5,28]", [](double v) { return v >= 0.5 && v <= 28.0; }, "in [0.5, 28]"));
    sub->add_option("--log-every", o.log_every,
                    "Log every N steps, with the held-out loss and accuracy (0: no per-step log)")
        ->check(CLI::Range(0, 100000000));
    sub->add_option("--log-csv", x.log_csv,
                    "Also write the logged steps to this CSV (step,epoch,seconds,loss,train_accuracy,"
                    "holdout_accuracy,holdout_loss)");
    sub->add_option("--hidden", o.hidden, "Hidden units")->check(CLI::Range(1, kMaxHidden));
    sub->add_option("--activation", o.activation, "Hidden activation")->check(CLI::IsMember({"relu", "sigmoid"}));
    sub->add_option("--init", o.init, "Weight initialisation")->check(CLI::IsMember({"uniform", "he", "xavier"}));
    sub->add_option("--seed", o.seed, "Seed for the split, the initial weights and the mini-batch shuffles")
        ->check(non_negative_integer());
    sub->add_option("--holdout", o.holdout, "Rows held out (the first rows after shuffling)")
        ->check(non_negative_integer());
    sub->add_option("--threads", o.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--resume", x.resume,
                  "Continue training the --model file with its recorded data split, settings and optimizer state");
    sub->add_flag("--save-on-interrupt", o.save_on_interrupt,
                  "On Ctrl-C, save the model trained so far (default: save nothing)");
    sub->add_flag("--json", o.json, "Print the result as one JSON object on stdout");
    sub->add_flag("-q,--quiet", o.quiet, "No per-step log and no progress line");
}

int run_train(const Options& o) {
    const TrainExtras& x = o.train_extra;
    if (given("--iters") && given("--epochs"))
        throw UsageError("give --iters (steps) or --epochs (passes over the data), not both");
    if (!x.log_csv.empty() && o.log_every == 0)
        throw UsageError("--log-csv needs --log-every N >= 1 (it writes one row per logged step)");

    // ---- settings: from the options, or (--resume) from the saved model ----
    OptimizerSettings opt;
    opt.kind = optimizer_from_string(x.optimizer);
    opt.momentum = x.momentum;
    opt.beta1 = x.beta1;
    opt.beta2 = x.beta2;
    opt.eps = x.eps;
    opt.l2 = x.l2;
    LrDecay decay = lr_decay_from_string(x.lr_decay);
    long long batch_size = x.batch_size;
    long long step_every = x.lr_step_every;
    double step_gamma = x.lr_step_gamma;
    double alpha = o.alpha;
    std::uint64_t seed = o.seed;
    std::size_t holdout_rows = o.holdout;
    int hidden = o.hidden;
    std::string activation = o.activation;
    std::string init = o.init;
    std::string data_path = o.data;
    std::string labels_path = o.labels;
    double dropout = x.dropout, label_smoothing = x.label_smoothing;
    AugmentSettings augment;
    augment.kind = augment_from_string(x.augment);
    augment.rotation = x.rotation;
    augment.scale = x.scale;
    augment.shear = x.shear;
    augment.translation = x.translate;
    augment.elastic_alpha = x.elastic_alpha;
    augment.elastic_sigma = x.elastic_sigma;

    std::optional<Model> saved;
    if (x.resume) {
        std::error_code ec;
        if (!std::filesystem::exists(o.model, ec))
            throw IoError("cannot resume: model '" + o.model + "' not found (train one first, or pass --model FILE)");
        saved = load_model(o.model);
        const Model& m = *saved;
        // What the model recorded; models from before these options default to full-batch gd.
        OptimizerKind kind = OptimizerKind::GD;
        LrDecay rec_decay = LrDecay::None;
        try {
            kind = optimizer_from_string(metadata_string_or(m, "optimizer", "gd"));
            rec_decay = lr_decay_from_string(metadata_string_or(m, "lr_decay", "none"));
        } catch (const UsageError& e) {
            throw ModelFormatError(o.model + ": metadata: " + e.what());
        }
        OptimizerSettings rec;
        rec.kind = kind;
        rec.momentum = metadata_double_or(m, "momentum", rec.momentum);
        rec.beta1 = metadata_double_or(m, "beta1", rec.beta1);
        rec.beta2 = metadata_double_or(m, "beta2", rec.beta2);
        rec.eps = metadata_double_or(m, "eps", rec.eps);
        rec.l2 = metadata_double_or(m, "l2", 0.0);
        const long long rec_batch = metadata_integer_or(m, "batch_size", 0);
        const long long rec_step_every = metadata_integer_or(m, "lr_step_every", 0);
        const double rec_gamma = metadata_double_or(m, "lr_step_gamma", 0.1);
        const double rec_alpha = metadata_double_or(m, "alpha", alpha);
        const long long rec_seed = metadata_integer(m, "seed");
        const long long rec_holdout = metadata_integer(m, "holdout");
        if (rec_seed < 0 || rec_holdout < 0 || rec_batch < 0)
            throw ModelFormatError("model metadata has a negative seed, holdout or batch size");

        require_recorded("--hidden", static_cast<long long>(o.hidden), static_cast<long long>(m.params.hidden()));
        require_recorded("--activation", o.activation, to_string(m.params.activation));
        require_recorded("--init", o.init, metadata_string_or(m, "init", o.init));
        require_recorded("--seed", static_cast<long long>(o.seed), rec_seed);
        require_recorded("--holdout", static_cast<long long>(o.holdout), rec_holdout);
        require_recorded("--alpha", o.alpha, rec_alpha);
        require_recorded("--batch-size", x.batch_size, rec_batch);
        require_recorded("--optimizer", x.optimizer, to_string(kind));
        if (kind == OptimizerKind::Momentum) require_recorded("--momentum", x.momentum, rec.momentum);
        if (kind == OptimizerKind::Adam) {
            require_recorded("--beta1", x.beta1, rec.beta1);
            require_recorded("--beta2", x.beta2, rec.beta2);
            require_recorded("--eps", x.eps, rec.eps);
        }
        require_recorded("--l2", x.l2, rec.l2);
        require_recorded("--lr-decay", x.lr_decay, to_string(rec_decay));
        if (rec_decay == LrDecay::Step) {
            require_recorded("--lr-step-every", x.lr_step_every, rec_step_every);
            require_recorded("--lr-step-gamma", x.lr_step_gamma, rec_gamma);
        }

        // Regularisation and augmentation (models from before them recorded none).
        AugmentSettings rec_augment = augment;
        try {
            rec_augment.kind = augment_from_string(metadata_string_or(m, "augment", "none"));
        } catch (const UsageError& e) {
            throw ModelFormatError(o.model + ": metadata: " + e.what());
        }
        const double rec_dropout = metadata_double_or(m, "dropout", 0.0);
        const double rec_smoothing = metadata_double_or(m, "label_smoothing", 0.0);
        require_recorded("--dropout", x.dropout, rec_dropout);
        require_recorded("--label-smoothing", x.label_smoothing, rec_smoothing);
        require_recorded("--augment", x.augment, to_string(rec_augment.kind));
        if (rec_augment.kind != AugmentKind::None) {
            rec_augment.rotation = metadata_double_or(m, "augment_rotation", augment.rotation);
            rec_augment.scale = metadata_double_or(m, "augment_scale", augment.scale);
            rec_augment.shear = metadata_double_or(m, "augment_shear", augment.shear);
            rec_augment.translation = metadata_double_or(m, "augment_translate", augment.translation);
            require_recorded("--rotate", x.rotation, rec_augment.rotation);
            require_recorded("--scale", x.scale, rec_augment.scale);
            require_recorded("--shear", x.shear, rec_augment.shear);
            require_recorded("--translate", x.translate, rec_augment.translation);
        }
        if (rec_augment.kind == AugmentKind::Elastic) {
            rec_augment.elastic_alpha = metadata_double_or(m, "elastic_alpha", augment.elastic_alpha);
            rec_augment.elastic_sigma = metadata_double_or(m, "elastic_sigma", augment.elastic_sigma);
            require_recorded("--elastic-alpha", x.elastic_alpha, rec_augment.elastic_alpha);
            require_recorded("--elastic-sigma", x.elastic_sigma, rec_augment.elastic_sigma);
        }
        augment = rec_augment;
        dropout = rec_dropout;
        label_smoothing = rec_smoothing;

        opt = rec;
        decay = rec_decay;
        batch_size = rec_batch;
        step_every = rec_step_every;
        step_gamma = rec_gamma;
        alpha = rec_alpha;
        seed = static_cast<std::uint64_t>(rec_seed);
        holdout_rows = static_cast<std::size_t>(rec_holdout);
        hidden = m.params.hidden();
        activation = to_string(m.params.activation);
        init = metadata_string_or(m, "init", init);
        // The data: --data if given (it must hold the same digits), else the recorded file.
        if (!given("--data")) {
            data_path = metadata_string(m, "data_path");
            labels_path = metadata_string_or(m, "labels_path", "");
        }
    }
    // Options that only mean something together with others (with --resume: the recorded ones).
    const std::string recorded = saved ? " (the model was trained with " : "";
    if (given("--momentum") && opt.kind != OptimizerKind::Momentum)
        throw UsageError("--momentum only applies to --optimizer momentum" +
                         (saved ? recorded + to_string(opt.kind) + ")" : std::string()));
    for (const char* name : {"--beta1", "--beta2", "--eps"})
        if (given(name) && opt.kind != OptimizerKind::Adam)
            throw UsageError(std::string(name) + " only applies to --optimizer adam" +
                             (saved ? recorded + to_string(opt.kind) + ")" : std::string()));
    if (decay != LrDecay::Step && (given("--lr-step-every") || given("--lr-step-gamma")))
        throw UsageError("--lr-step-every and --lr-step-gamma only apply to --lr-decay step" +
                         (saved ? recorded + "--lr-decay " + to_string(decay) + ")" : std::string()));
    if (decay == LrDecay::Step && step_every < 1)
        throw UsageError("--lr-decay step needs --lr-step-every N (the steps between decays)");
    validate(opt);
    for (const char* name : {"--rotate", "--scale", "--shear", "--translate"})
        if (given(name) && augment.kind == AugmentKind::None)
            throw UsageError(std::string(name) + " only applies with --augment affine or elastic");
    for (const char* name : {"--elastic-alpha", "--elastic-sigma"})
        if (given(name) && augment.kind != AugmentKind::Elastic)
            throw UsageError(std::string(name) + " only applies with --augment elastic");
    if (augment.kind != AugmentKind::None && (batch_size == 0))
        throw UsageError("--augment needs mini-batches (--batch-size B): with full batch every step would "
                         "augment the whole training set");

    check_output_path(o.model, data_path, "model");
    if (!labels_path.empty()) check_output_path(o.model, labels_path, "model");
    if (!x.log_csv.empty()) {
        check_output_path(x.log_csv, data_path, "log CSV");
        if (!labels_path.empty()) check_output_path(x.log_csv, labels_path, "log CSV");
        if (std::filesystem::path(x.log_csv).lexically_normal() == std::filesystem::path(o.model).lexically_normal())
            throw UsageError("--log-csv '" + x.log_csv + "' is the model file");
    }

    const auto load_start = std::chrono::steady_clock::now();
    Images all = load_data_file(data_path, labels_path);
    const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    require_labels(all, data_path, "training needs labelled data");
    const std::string fingerprint = data_fingerprint(all);
    if (saved) {
        const long long rec_rows = metadata_integer(*saved, "data_rows");
        const std::string rec_fingerprint = metadata_string(*saved, "data_fingerprint");
        if (static_cast<long long>(all.rows) != rec_rows || fingerprint != rec_fingerprint) {
            throw MismatchError("cannot resume: data file '" + data_path + "' is not the data the model was trained on (" +
                                std::to_string(rec_rows) + " rows with fingerprint " + rec_fingerprint + ", now " +
                                std::to_string(all.rows) + " rows with fingerprint " + fingerprint +
                                "); resume with the original data, or train a new model");
        }
    }
    const Split split = split_rows(all.rows, seed, holdout_rows);
    const Images train = gather_rows(all, split.train);
    const Images holdout = gather_rows(all, split.holdout);
    const std::size_t total_rows = all.rows;
    all = Images{};  // release the unsplit copy before training

    TrainOptions train_options;
    train_options.alpha = alpha;
    train_options.iters = o.iters;
    train_options.epochs = x.epochs;
    train_options.threads = o.threads;
    train_options.batch_size = static_cast<std::size_t>(batch_size);
    train_options.seed = seed;
    train_options.optimizer = opt;
    train_options.lr_decay = decay;
    train_options.lr_step_every = step_every;
    train_options.lr_step_gamma = step_gamma;
    train_options.dropout = dropout;
    train_options.label_smoothing = label_smoothing;
    train_options.augment = augment;
    const bool want_log = !o.quiet || !x.log_csv.empty();
    train_options.log_every = want_log ? o.log_every : 0;
    train_options.interactive = !o.quiet && stderr_is_terminal();
    const std::int64_t spe = steps_per_epoch(train.rows, train_options.batch_size);

    Params params;
    TrainState state;
    double previous_seconds = 0.0;
    if (saved) {
        params = saved->params;
        state.step = metadata_integer_or(*saved, "steps", metadata_integer(*saved, "iters"));
        if (state.step < 0) throw ModelFormatError("model metadata has a negative step count");
        state.optimizer = optimizer_state_from_tensors(opt.kind, hidden, saved->extra_tensors, state.step);
        previous_seconds = metadata_double_or(*saved, "train_seconds", 0.0);
        if (!given("--iters") && !given("--epochs")) {
            // Finish the recorded plan (e.g. after an interrupt saved with --save-on-interrupt).
            const long long planned = metadata_integer_or(*saved, "planned_steps", state.step);
            if (planned <= state.step) {
                throw UsageError("model '" + o.model + "' has completed its planned " + std::to_string(planned) +
                                 " steps; give --iters N or --epochs E for how many more to run");
            }
            train_options.iters = static_cast<int>(planned - state.step);
            train_options.epochs = 0;
        }
    } else {
        params = init_params(hidden, activation_from_string(activation), init_from_string(init), seed);
    }
    const std::int64_t to_run =
        train_options.epochs > 0 ? static_cast<std::int64_t>(train_options.epochs) * spe : train_options.iters;
    const std::int64_t planned_steps = state.step + to_run;

    std::cerr << (saved ? "resuming " + o.model + " at step " + std::to_string(state.step) + ": " : std::string("training "))
              << "784-" << hidden << "-10 (" << activation << ") on " << train.rows << " rows of " << data_path
              << ", holding out " << holdout.rows << "; alpha " << format_number(alpha);
    if (decay != LrDecay::None) std::cerr << " (" << to_string(decay) << " decay)";
    if (opt.kind != OptimizerKind::GD || opt.l2 > 0.0) std::cerr << ", " << optimizer_description(opt);
    if (spe > 1) std::cerr << ", batch " << batch_size << " (" << spe << " steps/epoch)";
    if (dropout > 0.0) std::cerr << ", dropout " << format_number(dropout);
    if (label_smoothing > 0.0) std::cerr << ", label smoothing " << format_number(label_smoothing);
    if (augment.kind != AugmentKind::None) std::cerr << ", " << to_string(augment.kind) << " augmentation";
    std::cerr << ", ";
    if (train_options.epochs > 0) std::cerr << train_options.epochs << (train_options.epochs == 1 ? " epoch = " : " epochs = ");
    std::cerr << to_run << " iterations\n";

    std::vector<TrainLogEntry> entries;
    NullBuffer null_buffer;
    std::ostream null_log(&null_buffer);
    TrainResult result;
    {
        StopOnSignal stop_on_signal;
        result = train_network(params, train, holdout, train_options, state, o.quiet ? null_log : std::cerr, &g_stop_requested,
                       [&](const TrainLogEntry& e) {
                           if (!x.log_csv.empty()) entries.push_back(e);
                       });
    }
    if (!x.log_csv.empty()) write_log_csv(x.log_csv, entries);

    const std::string progress = std::to_string(result.iterations) + " of " + std::to_string(to_run) + " iterations";
    if (result.interrupted && !o.save_on_interrupt) {
        throw InterruptedError("interrupted after " + progress + "; no model written (" + o.model +
                               " is unchanged; use --save-on-interrupt to keep partial training)");
    }

    Model model;
    model.params = params;
    model.metadata = {
        {"created_by", std::string("mnistnn ") + kVersion},
        {"init", init},
        {"seed", std::to_string(seed)},
        {"holdout", std::to_string(holdout.rows)},
        {"data_path", absolute_path(data_path)},
        {"labels_path", labels_path.empty() ? "" : absolute_path(labels_path)},
        {"data_rows", std::to_string(total_rows)},
        {"data_fingerprint", fingerprint},
        {"train_rows", std::to_string(train.rows)},
        {"alpha", format_number(alpha)},
        {"iters", std::to_string(result.total_steps)},
        {"steps", std::to_string(result.total_steps)},
        {"epochs", format_number(result.epochs)},
        {"steps_per_epoch", std::to_string(spe)},
        {"planned_steps", std::to_string(planned_steps)},
        {"optimizer", to_string(opt.kind)},
        {"batch_size", std::to_string(batch_size)},
        {"l2", format_number(opt.l2)},
        {"lr_decay", to_string(decay)},
        {"loss", format_number(result.loss)},
        {"train_accuracy", format_number(result.train_accuracy)},
        {"holdout_accuracy", format_number(result.holdout_accuracy)},
        {"holdout_loss", format_number(result.holdout_loss)},
        {"train_seconds", format_number(previous_seconds + result.loop_seconds)},
        {"interrupted", result.interrupted ? "true" : "false"},
    };
    if (labels_path.empty()) model.metadata.erase("labels_path");
    if (opt.kind == OptimizerKind::Momentum) model.metadata["momentum"] = format_number(opt.momentum);
    if (opt.kind == OptimizerKind::Adam) {
        model.metadata["beta1"] = format_number(opt.beta1);
        model.metadata["beta2"] = format_number(opt.beta2);
        model.metadata["eps"] = format_number(opt.eps);
    }
    if (decay == LrDecay::Step) {
        model.metadata["lr_step_every"] = std::to_string(step_every);
        model.metadata["lr_step_gamma"] = format_number(step_gamma);
    }
    if (dropout > 0.0) model.metadata["dropout"] = format_number(dropout);
    if (label_smoothing > 0.0) model.metadata["label_smoothing"] = format_number(label_smoothing);
    if (augment.kind != AugmentKind::None) {
        model.metadata["augment"] = to_string(augment.kind);
        model.metadata["augment_rotation"] = format_number(augment.rotation);
        model.metadata["augment_scale"] = format_number(augment.scale);
        model.metadata["augment_shear"] = format_number(augment.shear);
        model.metadata["augment_translate"] = format_number(augment.translation);
    }
    if (augment.kind == AugmentKind::Elastic) {
        model.metadata["elastic_alpha"] = format_number(augment.elastic_alpha);
        model.metadata["elastic_sigma"] = format_number(augment.elastic_sigma);
    }
    if (decay == LrDecay::Cosine) model.metadata["lr_total_steps"] = std::to_string(result.lr_total_steps);
    if (saved) model.metadata["created_by"] = metadata_string_or(*saved, "created_by", model.metadata["created_by"]);
    model.extra_tensors = optimizer_state_tensors(opt.kind, state.optimizer);
    save_model(o.model, model);

    const double ms_per_iter = result.iterations > 0 ? 1000.0 * result.loop_seconds / static_cast<double>(result.iterations) : 0.0;
    if (o.json) {
        nlohmann::json j = {{"iters", result.iterations},
                            {"total_steps", result.total_steps},
                            {"epochs", result.epochs},
                            {"steps_per_epoch", spe},
                            {"optimizer", to_string(opt.kind)},
                            {"batch_size", batch_size},
                            {"seconds", result.seconds},
                            {"train_accuracy", result.train_accuracy},
                            {"holdout_accuracy", result.holdout_accuracy},
                            {"holdout_loss", result.holdout_loss},
                            {"loss", result.loss},
                            {"model", o.model},
                            {"train_rows", train.rows},
                            {"holdout_rows", holdout.rows},
                            {"load_seconds", load_seconds},
                            {"ms_per_iter", ms_per_iter},
                            {"threads", o.threads},
                            {"resumed", saved.has_value()}};
        std::cout << j.dump() << '\n';
    } else {
        std::printf("iterations        %lld\n", static_cast<long long>(result.iterations));
        if (saved) std::printf("total steps       %lld\n", static_cast<long long>(result.total_steps));
        if (spe > 1) std::printf("epochs            %.2f\n", result.epochs);
        std::printf("seconds           %.2f\nloss              %.4f\n"
                    "train accuracy    %.4f\nholdout accuracy  %.4f (%zu rows)\nmodel             %s\n",
                    result.seconds, result.loss, result.train_accuracy, result.holdout_accuracy, holdout.rows,
                    o.model.c_str());
    }
    if (result.interrupted) {
        throw InterruptedError("interrupted after " + progress + "; saved the partial model to " + o.model +
                               " (continue with --resume)");
    }
    return 0;
}

}  // namespace mnistnn::cli
