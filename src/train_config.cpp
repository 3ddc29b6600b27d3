// The training configuration's table of fields: one entry per setting.
#include "mnistnn/train_config.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "mnistnn/format.hpp"
#include "mnistnn/model_file.hpp"

namespace mnistnn {
namespace {

// ---- parsing text into values, with the reason when it fails -------------------------------

template <class T>
bool parse_integer(const std::string& text, T& value, std::string& problem, const std::string& requirement) {
    if (std::is_unsigned_v<T> && !text.empty() && text[0] == '-') {
        problem = "must be " + requirement + ", got " + text;
        return false;
    }
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec == std::errc::invalid_argument || ptr != end) {
        problem = "'" + text + "' is not a whole number";
        return false;
    }
    if (ec == std::errc::result_out_of_range) {
        problem = text + " is out of range (must be " + requirement + ")";
        return false;
    }
    return true;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) out += (i == 0 ? "" : separator) + items[i];
    return out;
}

// Builds get/check/set from a typed parse-and-check and an accessor to the member.
// `parse(text, value)` returns the problem ("" when `value` is valid).
template <class T, class Parse, class Format>
void bind(ConfigField& f, T& (*access)(TrainConfig&), Parse parse, Format format) {
    f.get = [access, format](const TrainConfig& c) { return format(access(const_cast<TrainConfig&>(c))); };
    f.check = [parse](const std::string& text) {
        T value{};
        return parse(text, value);
    };
    const std::string name = f.name;
    f.set = [access, parse, name](TrainConfig& c, const std::string& text) {
        T value{};
        const std::string problem = parse(text, value);
        if (!problem.empty()) throw ConfigError({name}, "{0}: " + problem);
        access(c) = value;
    };
}

ConfigField field(std::string name, FieldKind kind, std::string help) {
    ConfigField f;
    f.key = name;
    f.name = std::move(name);
    f.kind = kind;
    f.help = std::move(help);
    return f;
}

// A real number for which ok(v) holds; `requirement` says what that is ("in (0, 1]").
ConfigField real(std::string name, double& (*access)(TrainConfig&), bool (*ok)(double), std::string requirement,
                 std::string help) {
    ConfigField f = field(std::move(name), FieldKind::Real, std::move(help));
    f.type_name = "FLOAT";
    bind<double>(
        f, access,
        [ok, requirement](const std::string& text, double& value) { return parse_real(text, value, ok, requirement); },
        [](double v) { return format_number(v); });
    return f;
}

// A whole number in [lo, hi].
template <class T>
ConfigField integer(std::string name, T& (*access)(TrainConfig&), T lo, T hi, std::string help) {
    ConfigField f = field(std::move(name), FieldKind::Integer, std::move(help));
    f.type_name = "N";
    const std::string requirement =
        hi == std::numeric_limits<T>::max()
            ? "a whole number >= " + std::to_string(lo)
            : "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
    bind<T>(
        f, access,
        [lo, hi, requirement](const std::string& text, T& value) -> std::string {
            std::string problem;
            if (!parse_integer(text, value, problem, requirement)) return problem;
            if (value < lo || value > hi) return "must be " + requirement + ", got " + text;
            return {};
        },
        [](T v) { return std::to_string(v); });
    return f;
}

// One of a fixed set of names, stored as the enum `from_string` returns.
template <class E>
ConfigField choice(std::string name, E& (*access)(TrainConfig&), std::vector<std::string> choices,
                   std::string (*to_text)(E), E (*from_text)(const std::string&), std::string help) {
    ConfigField f = field(std::move(name), FieldKind::Choice, std::move(help));
    f.choices = choices;
    f.type_name = join(choices, "|");
    bind<E>(
        f, access,
        [choices, from_text](const std::string& text, E& value) -> std::string {
            for (const std::string& c : choices) {
                if (c == text) {
                    value = from_text(text);
                    return {};
                }
            }
            return "must be one of " + join(choices, ", ") + ", got '" + text + "'";
        },
        to_text);
    return f;
}

ConfigField text(std::string name, std::string key, std::string& (*access)(TrainConfig&), std::string help) {
    ConfigField f = field(std::move(name), FieldKind::Text, std::move(help));
    f.key = std::move(key);
    f.type_name = "FILE";
    bind<std::string>(
        f, access, [](const std::string& text, std::string& value) -> std::string {
            value = text;
            return {};
        },
        [](const std::string& v) { return v; });
    return f;
}

ConfigField only_when(ConfigField f, std::string other, std::vector<std::string> values) {
    f.when = std::move(other);
    f.when_values = std::move(values);
    return f;
}

ConfigField required(ConfigField f) {
    f.required = true;
    return f;
}

ConfigField derived(ConfigField f) {
    f.option = false;
    return f;
}

// Written in the model's tensors and their "activation" key, not by config_metadata().
ConfigField structural(ConfigField f) {
    f.recorded = false;
    return f;
}

// The data file may be named differently on resume; its identity is compared instead.
ConfigField identity_checked(ConfigField f) {
    f.compared_on_resume = false;
    return f;
}

bool positive_finite(double v) { return std::isfinite(v) && v > 0.0; }
bool non_negative_finite(double v) { return std::isfinite(v) && v >= 0.0; }
bool unit_interval(double v) { return v >= 0.0 && v < 1.0; }
bool decay_factor(double v) { return v > 0.0 && v <= 1.0; }

constexpr std::int64_t kMaxSteps = 1'000'000'000;

// ---- the table ---------------------------------------------------------------------------------
// Accessors are plain functions so that const and non-const configs share them.

std::vector<ConfigField> make_fields() {
    using C = TrainConfig;
    const std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();
    return {
        structural(integer<int>("hidden", +[](C& c) -> int& { return c.hidden; }, 1, kMaxHidden, "Hidden units")),
        structural(choice<Activation>("activation", +[](C& c) -> Activation& { return c.activation; },
                                      {"relu", "sigmoid"}, to_string, activation_from_string, "Hidden activation")),
        choice<Init>("init", +[](C& c) -> Init& { return c.init; }, {"uniform", "he", "xavier"}, to_string,
                     init_from_string, "Weight initialisation"),
        required(integer<std::uint64_t>("seed", +[](C& c) -> std::uint64_t& { return c.seed; }, 0, u64_max,
                                        "Seed for the split, the initial weights and the mini-batch shuffles")),
        identity_checked(required(text("data", "data_path", +[](C& c) -> std::string& { return c.data_path; },
                                       "Training data: Kaggle CSV (label,pixel0..783), .csv.gz, or IDX images"))),
        identity_checked(text("labels", "labels_path", +[](C& c) -> std::string& { return c.labels_path; },
                              "IDX label file, when the data is an IDX image file")),
        required(integer<std::uint64_t>("holdout", +[](C& c) -> std::uint64_t& { return c.holdout; }, 0, u64_max,
                                        "Rows held out (the first rows after shuffling)")),
        derived(required(integer<std::uint64_t>("data_rows", +[](C& c) -> std::uint64_t& { return c.data_rows; }, 0,
                                                u64_max, "Rows in the data file"))),
        derived(required(text("data_fingerprint", "data_fingerprint",
                              +[](C& c) -> std::string& { return c.data_fingerprint; },
                              "Content fingerprint of the data"))),
        integer<std::uint64_t>("batch_size", +[](C& c) -> std::uint64_t& { return c.batch_size; }, 0, 1'000'000'000,
                               "Rows per step: mini-batches reshuffled every epoch from the seed (0, or >= the "
                               "training rows: full batch)"),
        real("alpha", +[](C& c) -> double& { return c.alpha; }, positive_finite, "a finite number > 0",
             "Learning rate (the base rate of the decay schedule)"),
        choice<OptimizerKind>("optimizer", +[](C& c) -> OptimizerKind& { return c.optimizer.kind; },
                              {"gd", "momentum", "adam"}, to_string, optimizer_from_string,
                              "gd: W -= alpha*g; momentum: v = mu*v + g, W -= alpha*v; adam: bias-corrected Adam"),
        only_when(real("momentum", +[](C& c) -> double& { return c.optimizer.momentum; }, unit_interval, "in [0, 1)",
                       "Momentum mu (optimizer momentum)"),
                  "optimizer", {"momentum"}),
        only_when(real("beta1", +[](C& c) -> double& { return c.optimizer.beta1; }, unit_interval, "in [0, 1)",
                       "Adam's first-moment decay"),
                  "optimizer", {"adam"}),
        only_when(real("beta2", +[](C& c) -> double& { return c.optimizer.beta2; }, unit_interval, "in [0, 1)",
                       "Adam's second-moment decay"),
                  "optimizer", {"adam"}),
        only_when(real("eps", +[](C& c) -> double& { return c.optimizer.eps; }, positive_finite,
                       "a finite number > 0", "Adam's epsilon"),
                  "optimizer", {"adam"}),
        real("l2", +[](C& c) -> double& { return c.optimizer.l2; }, non_negative_finite, "a finite number >= 0",
             "L2 weight decay: adds l2*W to the gradients of W1 and W2 (not biases)"),
        choice<LrDecay>("lr_decay", +[](C& c) -> LrDecay& { return c.lr_decay; }, {"none", "step", "cosine"},
                        to_string, lr_decay_from_string,
                        "Learning-rate schedule: none; step (alpha*gamma^floor(step/N)); cosine (alpha to 0 over the "
                        "run's steps)"),
        only_when(integer<std::int64_t>("lr_step_every", +[](C& c) -> std::int64_t& { return c.lr_step_every; }, 1,
                                        kMaxSteps, "Step decay: steps between decays (needed for step)"),
                  "lr_decay", {"step"}),
        only_when(real("lr_step_gamma", +[](C& c) -> double& { return c.lr_step_gamma; }, decay_factor, "in (0, 1]",
                       "Step decay: factor per decay"),
                  "lr_decay", {"step"}),
        derived(only_when(integer<std::int64_t>("lr_total_steps",
                                                +[](C& c) -> std::int64_t& { return c.lr_total_steps; }, 0,
                                                std::numeric_limits<std::int64_t>::max(),
                                                "Cosine decay: the step at which the rate reaches 0"),
                          "lr_decay", {"cosine"})),
    };
}

}  // namespace

bool ConfigField::applies(const TrainConfig& config) const {
    if (when.empty()) return true;
    const std::string value = train_config_field(when).get(config);
    for (const std::string& v : when_values)
        if (v == value) return true;
    return false;
}

const std::vector<ConfigField>& train_config_fields() {
    static const std::vector<ConfigField> fields = make_fields();
    return fields;
}

const ConfigField& train_config_field(const std::string& name) {
    for (const ConfigField& f : train_config_fields())
        if (f.name == name) return f;
    throw std::out_of_range("no training setting named '" + name + "'");
}

void validate(const TrainConfig& config) {
    if (config.lr_decay == LrDecay::Step && config.lr_step_every < 1)
        throw ConfigError({"lr_decay", "lr_step_every"}, "{0} step needs {1} N (the steps between decays)");
}

std::map<std::string, std::string> config_metadata(const TrainConfig& config) {
    std::map<std::string, std::string> metadata;
    for (const ConfigField& f : train_config_fields()) {
        if (!f.recorded || !f.applies(config)) continue;
        // An optional path left empty (no IDX label file) is not written.
        if (f.kind == FieldKind::Text && !f.required && f.get(config).empty()) continue;
        metadata[f.key] = f.get(config);
    }
    return metadata;
}

TrainConfig config_from_metadata(const std::map<std::string, std::string>& metadata) {
    TrainConfig config;
    // Fields in table order, so that a field's condition (optimizer, lr_decay) is read before it.
    for (const ConfigField& f : train_config_fields()) {
        if (!f.recorded) continue;
        const auto it = metadata.find(f.key);
        if (it == metadata.end()) {
            if (f.required) throw ModelFormatError("model metadata has no '" + f.key + "'");
            continue;
        }
        if (!f.applies(config)) continue;
        const std::string problem = f.check(it->second);
        if (!problem.empty()) throw ModelFormatError("model metadata '" + f.key + "': " + problem);
        f.set(config, it->second);
    }
    return config;
}

}  // namespace mnistnn
