// `mnistnn eval`: accuracy, loss, confusion matrix and per-class metrics of a saved model,
// on the held-out rows it was trained with (rebuilt from its metadata) or on every row of --data.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/metrics.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/model_record.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/render.hpp"

namespace mnistnn::cli {
namespace {

// write_digit_grid refuses more than this many digits in one image.
constexpr long long kMaxMisclassified = 1000;

struct EvalOptions {
    std::string model = kDefaultModel;
    std::string data;  // empty: the model's own held-out rows
    std::string labels;
    std::size_t misclassified_count = 0;
    std::string misclassified_path;
    int threads = 0;
    bool json = false;
};

int run_eval(const EvalOptions& o);

}  // namespace

Command add_eval(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* sub = app.add_subcommand(
        "eval", "Evaluate a model: on the rows it held out in training (default) or on every row of --data FILE");
    sub->add_option("--model", o->model, "Model to evaluate (safetensors)")->type_name("FILE");
    CLI::Option* data =
        sub->add_option("--data", o->data, "Evaluate every row of this labelled file instead of the model's held-out rows")
            ->type_name("FILE");
    sub->add_option("--labels", o->labels, "IDX label file, when --data is an IDX image file")
        ->type_name("FILE")
        ->needs(data);
    sub->add_option_function<std::pair<std::string, std::string>>(
           "--misclassified",
           [o](const std::pair<std::string, std::string>& values) {
               const std::string& count = values.first;
               long long n = 0;
               const char* end = count.data() + count.size();
               auto [ptr, ec] = std::from_chars(count.data(), end, n);
               if (count.empty() || ec != std::errc() || ptr != end || n < 1 || n > kMaxMisclassified) {
                   throw CLI::ValidationError("--misclassified", "N must be a whole number from 1 to " +
                                                                     std::to_string(kMaxMisclassified) + ", got '" +
                                                                     count + "'");
               }
               o->misclassified_count = static_cast<std::size_t>(n);
               o->misclassified_path = values.second;
           },
           "Draw up to N misclassified digits, captioned true→predicted, into FILE (.png or .pgm)")
        ->type_name("N FILE");
    sub->add_option("--threads", o->threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--json", o->json, "Print the result as one JSON object on stdout");
    return [o] { return run_eval(*o); };
}

namespace {

// Everything that can be refused cheaply is refused before the data is read.
void check_eval_options(const EvalOptions& o) {
    if (o.misclassified_path.empty()) return;
    if (o.misclassified_count < 1) throw UsageError("--misclassified N must be at least 1");
    if (!is_image_path(o.misclassified_path)) {
        throw UsageError("--misclassified image '" + o.misclassified_path + "' must end in .png or .pgm");
    }
    for (const std::string& input : {o.model, o.data, o.labels})
        if (!input.empty()) check_output_path(o.misclassified_path, input, "misclassified image");
}

// The labelled rows to score: every row of --data, or the model's own held-out rows.
struct EvalRows {
    Images images;
    std::string split;   // "all" or "holdout"
    std::string source;  // the data file
};

EvalRows load_eval_rows(const EvalOptions& o, const Model& model) {
    if (!o.data.empty()) {
        EvalRows rows{load_data_file(o.data, o.labels), "all", o.data};
        require_labels(rows.images, o.data, "eval needs labelled data to score against",
                       "; for unlabelled files use `mnistnn predict --data " + o.data + " --out submission.csv`");
        if (has_training_record(model) && same_file(o.data, model.metadata.at("data_path"))) {
            std::cerr << "note: " << o.data << " is the file this model was trained on; all " << rows.images.rows
                      << " rows are scored, including its training rows (omit --data to score only the "
                      << config_from_model(model).holdout << " held-out rows)\n";
        }
        return rows;
    }
    TrainConfig config = config_from_model(model);
    if (!o.misclassified_path.empty()) check_output_path(o.misclassified_path, config.data_path, "misclassified image");
    ModelData data = load_config_data(config, DataUse::Reuse);
    if (data.split.holdout.empty()) {
        throw UsageError("model '" + o.model + "' was trained with --holdout 0, so it has no held-out rows to " +
                         "evaluate; pass --data FILE to evaluate a labelled file");
    }
    if (!data.all.has_labels()) {
        throw UsageError("the model's data file '" + data.path + "' has no labels to evaluate against");
    }
    return {gather_rows(data.all, data.split.holdout), "holdout", data.path};
}

// Draws up to o.misclassified_count wrong digits into the grid image.
void draw_misclassified(const EvalOptions& o, const Images& images, const std::vector<std::uint8_t>& predictions) {
    std::vector<LabelledDigit> digits;
    for (std::size_t i = 0; i < images.rows && digits.size() < o.misclassified_count; ++i)
        if (predictions[i] != images.labels[i]) digits.push_back({images.sample(i), images.labels[i], predictions[i]});
    write_digit_grid(o.misclassified_path, digits);
    const std::size_t drawn = digits.size();
    std::cerr << "wrote " << drawn << " misclassified digit" << (drawn == 1 ? "" : "s") << " to " << o.misclassified_path;
    if (drawn < o.misclassified_count)
        std::cerr << (drawn == 0 ? " (none were misclassified: the image is blank)" : " (all there were)");
    std::cerr << '\n';
}

void print_eval(const EvalRows& rows, const BatchTotals& totals, const ClassificationReport& report, bool json) {
    const double n = static_cast<double>(rows.images.rows);
    const double accuracy = static_cast<double>(totals.correct) / n;
    const double loss = totals.loss_sum / n;
    if (json) {
        nlohmann::json confusion = nlohmann::json::array();
        for (const auto& row : report.confusion) confusion.push_back(row);
        nlohmann::json per_class = nlohmann::json::array();
        for (const ClassMetrics& m : report.per_class) {
            per_class.push_back({{"digit", m.digit},
                                 {"precision", m.precision},
                                 {"recall", m.recall},
                                 {"f1", m.f1},
                                 {"support", m.support}});
        }
        const nlohmann::json j = {{"rows", rows.images.rows}, {"accuracy", accuracy},   {"loss", loss},
                                  {"split", rows.split},      {"confusion", confusion}, {"per_class", per_class}};
        std::cout << j.dump() << '\n';
        return;
    }
    const std::string rows_of = rows.split == "holdout" ? "held-out rows of " : "rows of ";
    std::printf("data              %zu %s%s\naccuracy          %.4f (%zu of %zu correct)\nloss              %.4f\n\n",
                rows.images.rows, rows_of.c_str(), rows.source.c_str(), accuracy, totals.correct, rows.images.rows,
                loss);
    std::printf("confusion matrix (rows: true digit, columns: predicted)\n%s\n%s",
                format_confusion_matrix(report).c_str(), format_per_class(report).c_str());
}

int run_eval(const EvalOptions& o) {
    check_eval_options(o);
    const Model model = load_model_file(o.model);
    const EvalRows rows = load_eval_rows(o, model);
    const Images& images = rows.images;
    if (images.rows == 0) throw UsageError("'" + rows.source + "' has no rows to evaluate");

    // The same engine call train_full_batch uses for its held-out accuracy: same rows, same order,
    // same chunking (a function of the row count only), so the result is bit-identical.
    BatchEngine engine(model.params.hidden(), o.threads);
    std::vector<std::uint8_t> predictions(images.rows);
    const BatchTotals totals =
        engine.evaluate(model.params, images.pixels.data(), images.labels.data(), images.rows, predictions.data());
    const ClassificationReport report = classification_report(images.labels, predictions);
    // The grid is written before the report, so a failure to write it reports nothing.
    if (!o.misclassified_path.empty()) draw_misclassified(o, images, predictions);
    print_eval(rows, totals, report, o.json);
    return 0;
}

}  // namespace
}  // namespace mnistnn::cli
