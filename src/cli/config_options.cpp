// TrainConfig's table → CLI11 options, and what was given → a TrainConfig.
#include "config_options.hpp"

#include <vector>

namespace mnistnn::cli {
namespace {

// A CLI11 check that runs the field's own check.
CLI::Validator field_check(const ConfigField& field) {
    return CLI::Validator([check = field.check](std::string& text) { return check(text); }, field.type_name);
}

// "--a", "--a and --b", "--a, --b and --c".
std::string flag_list(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i)
        out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + flag_name(names[i]);
    return out;
}

// Refuses given options that do not apply to `config`, grouped by what they need, e.g.
// "--lr-step-every and --lr-step-gamma only apply to --lr-decay step". `context` follows.
void refuse_inapplicable(const ConfigOptions& given, const TrainConfig& config, const std::string& context) {
    std::map<std::string, std::vector<std::string>> by_condition;  // "--lr-decay step" → names
    for (const ConfigField& f : train_config_fields()) {
        if (!f.option || !given.given(f.name) || f.applies(config)) continue;
        std::string condition = flag_name(f.when) + " ";
        for (std::size_t i = 0; i < f.when_values.size(); ++i) condition += (i == 0 ? "" : " or ") + f.when_values[i];
        by_condition[condition].push_back(f.name);
    }
    for (const auto& [condition, names] : by_condition) {
        const std::string verb = names.size() == 1 ? " only applies to " : " only apply to ";
        const std::string recorded = context.empty()
                                         ? std::string()
                                         : " (" + context + " " + flag_name(train_config_field(names[0]).when) + " " +
                                               train_config_field(train_config_field(names[0]).when).get(config) + ")";
        throw UsageError(flag_list(names) + verb + condition + recorded);
    }
}

}  // namespace

bool ConfigOptions::given(const std::string& name) const {
    const auto it = options.find(name);
    return it != options.end() && it->second->count() > 0;
}

TrainConfig default_config() {
    TrainConfig config;
    config.data_path = kDefaultData;
    return config;
}

void add_config_options(CLI::App& sub, ConfigOptions& out) {
    const TrainConfig defaults = default_config();
    for (const ConfigField& f : train_config_fields()) {
        if (!f.option) continue;
        std::string& text = out.text[f.name];
        CLI::Option* option = sub.add_option(flag_name(f.name), text, f.help);
        option->type_name(f.type_name)->check(field_check(f));
        const std::string shown = f.get(defaults);
        if (!shown.empty()) option->default_str(shown);
        out.options[f.name] = option;
    }
}

TrainConfig resolve_config(const ConfigOptions& given) {
    TrainConfig config = default_config();
    for (const ConfigField& f : train_config_fields())
        if (f.option && given.given(f.name)) f.set(config, given.text.at(f.name));
    refuse_inapplicable(given, config, "");
    validate(config);
    return config;
}

TrainConfig resolve_resumed_config(const ConfigOptions& given, const TrainConfig& recorded) {
    refuse_inapplicable(given, recorded, "the model was trained with");
    TrainConfig config = recorded;
    for (const ConfigField& f : train_config_fields()) {
        if (!f.option || !given.given(f.name)) continue;
        if (!f.compared_on_resume) continue;
        TrainConfig wanted = recorded;
        f.set(wanted, given.text.at(f.name));
        const std::string value = f.get(wanted), was = f.get(recorded);
        if (value != was) {
            const std::string flag = flag_name(f.name);
            throw UsageError(flag + " " + value + " differs from the model's recorded " + was +
                             "; --resume continues the recorded setup (leave " + flag +
                             " out, or train a new model without --resume)");
        }
    }
    // The data: --data if given (it must hold the same digits), else the recorded file.
    if (given.given("data")) {
        config.data_path = given.text.at("data");
        config.labels_path = given.given("labels") ? given.text.at("labels") : "";
    }
    validate(config);
    return config;
}

}  // namespace mnistnn::cli
