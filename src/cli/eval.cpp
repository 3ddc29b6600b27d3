// `mnistnn eval`: accuracy, loss, confusion matrix and per-class metrics of a saved model,
// on the held-out rows it was trained with (rebuilt from its metadata) or on every row of --data.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/metrics.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/render.hpp"

namespace mnistnn::cli {
namespace {

// write_digit_grid refuses more than this many digits in one image.
constexpr long long kMaxMisclassified = 1000;

}  // namespace

void setup_eval(CLI::App& app, Options& o) {
    CLI::App* sub = app.add_subcommand(
        "eval", "Evaluate a model: on the rows it held out in training (default) or on every row of --data FILE");
    sub->add_option("--model", o.model, "Model to evaluate (safetensors)")->type_name("FILE");
    CLI::Option* data = sub->add_option_function<std::string>(
                               "--data",
                               [&o](const std::string& path) {
                                   o.data = path;
                                   o.data_given = true;
                               },
                               "Evaluate every row of this labelled file instead of the model's held-out rows")
                            ->type_name("FILE");
    sub->add_option("--labels", o.labels, "IDX label file, when --data is an IDX image file")
        ->type_name("FILE")
        ->needs(data);
    sub->add_option_function<std::pair<std::string, std::string>>(
           "--misclassified",
           [&o](const std::pair<std::string, std::string>& values) {
               const std::string& count = values.first;
               long long n = 0;
               const char* end = count.data() + count.size();
               auto [ptr, ec] = std::from_chars(count.data(), end, n);
               if (count.empty() || ec != std::errc() || ptr != end || n < 1 || n > kMaxMisclassified) {
                   throw CLI::ValidationError("--misclassified", "N must be a whole number from 1 to " +
                                                                     std::to_string(kMaxMisclassified) + ", got '" +
                                                                     count + "'");
               }
               o.misclassified_count = static_cast<std::size_t>(n);
               o.misclassified_path = values.second;
           },
           "Draw up to N misclassified digits, captioned true→predicted, into FILE (.png or .pgm)")
        ->type_name("N FILE");
    sub->add_option("--threads", o.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--json", o.json, "Print the result as one JSON object on stdout");
}

int run_eval(const Options& o) {
    // Everything that can be refused cheaply is refused before the data is read.
    const bool draw = !o.misclassified_path.empty();
    if (draw) {
        if (o.misclassified_count < 1) throw UsageError("--misclassified N must be at least 1");
        if (!is_image_path(o.misclassified_path)) {
            throw UsageError("--misclassified image '" + o.misclassified_path + "' must end in .png or .pgm");
        }
        check_output_path(o.misclassified_path, o.model, "misclassified image");
        if (o.data_given) check_output_path(o.misclassified_path, o.data, "misclassified image");
        if (!o.labels.empty()) check_output_path(o.misclassified_path, o.labels, "misclassified image");
    }

    const Model model = load_model_file(o.model);

    Images images;
    std::string split_name;
    std::string source;
    if (o.data_given) {
        images = load_data_file(o.data, o.labels);
        require_labels(images, o.data, "eval needs labelled data to score against",
                       "; for unlabelled files use `mnistnn predict --data " + o.data + " --out submission.csv`");
        split_name = "all";
        source = o.data;
        const std::string trained_on = metadata_string_or(model, "data_path", "");
        if (same_file(o.data, trained_on)) {
            std::cerr << "note: " << o.data << " is the file this model was trained on; all " << images.rows
                      << " rows are scored, including its training rows (omit --data to score only the "
                      << metadata_string_or(model, "holdout", "?") << " held-out rows)\n";
        }
    } else {
        const std::string data_path = metadata_string(model, "data_path");
        if (draw) check_output_path(o.misclassified_path, data_path, "misclassified image");
        ModelData data = load_model_data(model);
        if (data.split.holdout.empty()) {
            throw UsageError("model '" + o.model + "' was trained with --holdout 0, so it has no held-out rows to " +
                             "evaluate; pass --data FILE to evaluate a labelled file");
        }
        if (!data.all.has_labels()) {
            throw UsageError("the model's data file '" + data.path + "' has no labels to evaluate against");
        }
        images = gather_rows(data.all, data.split.holdout);
        split_name = "holdout";
        source = data.path;
    }
    if (images.rows == 0) throw UsageError("'" + source + "' has no rows to evaluate");

    // The same engine call train_full_batch uses for its held-out accuracy: same rows, same order,
    // same chunking (a function of the row count only), so the result is bit-identical.
    BatchEngine engine(model.params.hidden(), o.threads);
    std::vector<std::uint8_t> predictions(images.rows);
    const BatchTotals totals =
        engine.evaluate(model.params, images.pixels.data(), images.labels.data(), images.rows, predictions.data());
    const double rows = static_cast<double>(images.rows);
    const double accuracy = static_cast<double>(totals.correct) / rows;
    const double loss = totals.loss_sum / rows;
    const ClassificationReport report = classification_report(images.labels, predictions);

    std::size_t drawn = 0;
    if (draw) {
        std::vector<LabelledDigit> digits;
        for (std::size_t i = 0; i < images.rows && digits.size() < o.misclassified_count; ++i) {
            if (predictions[i] != images.labels[i]) {
                digits.push_back({images.sample(i), images.labels[i], predictions[i]});
            }
        }
        write_digit_grid(o.misclassified_path, digits);
        drawn = digits.size();
    }

    if (o.json) {
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
        const nlohmann::json j = {{"rows", images.rows},         {"accuracy", accuracy},
                                  {"loss", loss},                {"split", split_name},
                                  {"confusion", confusion},      {"per_class", per_class}};
        std::cout << j.dump() << '\n';
    } else {
        const std::string rows_of = split_name == "holdout" ? "held-out rows of " : "rows of ";
        std::printf("data              %zu %s%s\naccuracy          %.4f (%zu of %zu correct)\nloss              %.4f\n\n",
                    images.rows, rows_of.c_str(), source.c_str(), accuracy, totals.correct, images.rows, loss);
        std::printf("confusion matrix (rows: true digit, columns: predicted)\n%s\n%s",
                    format_confusion_matrix(report).c_str(), format_per_class(report).c_str());
    }
    if (draw) {
        std::cerr << "wrote " << drawn << " misclassified digit" << (drawn == 1 ? "" : "s") << " to "
                  << o.misclassified_path;
        if (drawn < o.misclassified_count) {
            std::cerr << (drawn == 0 ? " (none were misclassified: the image is blank)" : " (all there were)");
        }
        std::cerr << '\n';
    }
    return 0;
}

}  // namespace mnistnn::cli
