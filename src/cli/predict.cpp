// `mnistnn predict`: classify one row (--index N: prediction, probabilities, the digit drawn)
// or every row of a file (--out FILE: Kaggle's submission format).
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mnistnn/atomic_file.hpp"
#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/model_record.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/render.hpp"

namespace mnistnn::cli {
namespace {

struct PredictOptions {
    std::string model = kDefaultModel;
    std::string data;  // empty: the model's own data (for --index)
    std::string labels;
    long long index = -1;
    CLI::Option* index_option = nullptr;  // every long long is a valid --index: ask whether it was given
    bool ascii = false;
    std::string image;
    std::string out;
    int threads = 0;
    bool json = false;
};

// --out: every row's predicted class, written atomically as `ImageId,Label` with ids from 1.
int run_submission(const PredictOptions& o) {
    check_output_path(o.out, o.data, "submission");
    check_output_path(o.out, o.model, "submission");
    if (!o.labels.empty()) check_output_path(o.out, o.labels, "submission");

    const Model model = load_model_file(o.model);
    const Images images = load_data_file(o.data, o.labels);
    if (images.rows == 0) throw UsageError("'" + o.data + "' has no rows to predict");

    // Labels, when the file has them, are ignored: the submission holds predictions only.
    std::vector<std::uint8_t> predictions(images.rows);
    BatchEngine engine(model.params.hidden(), o.threads);
    engine.evaluate(model.params, images.pixels.data(), nullptr, images.rows, predictions.data());

    std::string text = "ImageId,Label\n";
    text.reserve(text.size() + images.rows * 8);
    for (std::size_t i = 0; i < images.rows; ++i) {
        text += std::to_string(i + 1);
        text += ',';
        text += static_cast<char>('0' + predictions[i]);
        text += '\n';
    }
    write_file_atomically(o.out, [&](std::ostream& out) { out << text; });

    if (o.json) {
        std::cout << nlohmann::json{{"rows", images.rows}, {"out", o.out}}.dump() << '\n';
    } else {
        std::printf("wrote %zu predictions to %s\n", images.rows, o.out.c_str());
    }
    return 0;
}

int run_predict(const PredictOptions& o);

}  // namespace

Command add_predict(CLI::App& app) {
    auto o = std::make_shared<PredictOptions>();
    CLI::App* sub = app.add_subcommand(
        "predict", "Classify one digit (--index N) or every row of a file into a submission CSV (--out FILE)");
    sub->add_option("--model", o->model, "Model to use (safetensors)")->type_name("FILE");
    CLI::Option* data =
        sub->add_option("--data", o->data, "Data file (labelled or not); default for --index: the model's training data")
            ->type_name("FILE");
    sub->add_option("--labels", o->labels, "IDX label file, when --data is an IDX image file")
        ->type_name("FILE")
        ->needs(data);
    o->index_option = sub->add_option("--index", o->index, "Row to classify, 0-based as pandas counts (df.iloc[N])")
                          ->type_name("N")
                          ->default_str("");  // -1 only means "not given"
    sub->add_flag("--ascii", o->ascii, "Draw the digit in plain ASCII even on a colour terminal");
    sub->add_option("--image", o->image, "With --index: also write the digit, scaled up, to FILE (.png or .pgm)")
        ->type_name("FILE");
    sub->add_option("--out", o->out, "Predict every row of --data and write Kaggle's submission CSV (ImageId,Label)")
        ->type_name("FILE");
    sub->add_option("--threads", o->threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--json", o->json, "Print the result as one JSON object on stdout (no drawing)");
    return [o] { return run_predict(*o); };
}

namespace {

// Refuses options that do not go together; true for --out (every row), false for --index.
bool check_predict_mode(const PredictOptions& o) {
    const bool one = o.index_option->count() > 0;
    const bool all = !o.out.empty();
    if (one && all) {
        throw UsageError("--index and --out cannot be used together: --index N classifies one row, --out FILE "
                         "writes predictions for every row");
    }
    if (!one && !all) {
        throw UsageError("predict needs --index N (classify one row) or --data FILE --out submission.csv "
                         "(classify every row)");
    }
    if (all) {
        if (o.data.empty()) throw UsageError("--out needs --data FILE: the images to predict (e.g. data/test.csv)");
        if (!o.image.empty()) throw UsageError("--image draws one digit: use it with --index, not --out");
        if (o.ascii) throw UsageError("--ascii draws one digit: use it with --index, not --out");
    }
    if (!o.image.empty()) {
        if (!is_image_path(o.image)) throw UsageError("--image '" + o.image + "' must end in .png or .pgm");
        for (const std::string& input : {o.model, o.data, o.labels})
            if (!input.empty()) check_output_path(o.image, input, "image");
    }
    return all;
}

// The rows --index picks from: the model's own data (by default, or when --data names the same
// file: fingerprint-checked, and each row's split is known) or any other file (split "none").
struct PredictRows {
    Images images;
    std::string source;
    bool own_data = false;
    std::vector<std::size_t> holdout;
};

PredictRows load_predict_rows(const PredictOptions& o, const Model& model) {
    const auto recorded = [&model](const char* key) {
        const auto it = model.metadata.find(key);
        return it == model.metadata.end() ? std::string() : it->second;
    };
    const bool own_data = o.data.empty() || (same_file(o.data, recorded("data_path")) &&
                                             (o.labels.empty() ? recorded("labels_path").empty()
                                                               : same_file(o.labels, recorded("labels_path"))));
    if (!own_data) return {load_data_file(o.data, o.labels), o.data, false, {}};
    TrainConfig config = config_from_model(model);
    if (!o.image.empty()) check_output_path(o.image, config.data_path, "image");
    ModelData data = load_config_data(config, DataUse::Reuse);
    return {std::move(data.all), o.data.empty() ? data.path : o.data, true, std::move(data.split.holdout)};
}

// The result for one row: a JSON object, or aligned lines and the digit drawn in the terminal.
void print_row_prediction(const PredictOptions& o, const PredictRows& rows, std::size_t row,
                          const Eigen::VectorXf& probabilities) {
    std::string split = "none";
    if (rows.own_data)
        split = std::find(rows.holdout.begin(), rows.holdout.end(), row) != rows.holdout.end() ? "holdout" : "train";
    Eigen::Index arg = 0;
    probabilities.maxCoeff(&arg);
    const int prediction = static_cast<int>(arg);
    const bool labelled = rows.images.has_labels();
    const int label = labelled ? rows.images.labels[row] : -1;
    if (o.json) {
        nlohmann::json probs = nlohmann::json::array();
        for (Eigen::Index k = 0; k < probabilities.size(); ++k) probs.push_back(static_cast<double>(probabilities(k)));
        const nlohmann::json j = {{"index", o.index},
                                  {"prediction", prediction},
                                  {"label", labelled ? nlohmann::json(label) : nlohmann::json(nullptr)},
                                  {"probabilities", probs},
                                  {"split", split}};
        std::cout << j.dump() << '\n';
        return;
    }
    std::array<int, kClasses> order{};
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probabilities(a) > probabilities(b); });
    std::printf("row         %lld of %s\nprediction  %d\n", o.index, rows.source.c_str(), prediction);
    if (labelled) std::printf("label       %d%s\n", label, label == prediction ? "" : "  (wrong)");
    std::printf("top 3       ");
    for (std::size_t k = 0; k < 3; ++k)
        std::printf("%s%d %.2f%%", k == 0 ? "" : ", ", order[k], 100.0 * static_cast<double>(probabilities(order[k])));
    std::printf("\nsplit       %s\n\n", split.c_str());
    const std::uint8_t* pixels = rows.images.sample(row);
    const std::string drawing = colour_allowed() && !o.ascii ? render_halfblock(pixels) : render_ascii(pixels);
    std::fwrite(drawing.data(), 1, drawing.size(), stdout);
}

int run_predict(const PredictOptions& o) {
    if (check_predict_mode(o)) return run_submission(o);
    const Model model = load_model_file(o.model);
    const PredictRows rows = load_predict_rows(o, model);
    const long long count = static_cast<long long>(rows.images.rows);
    if (o.index < 0 || o.index >= count) {
        throw UsageError("index " + std::to_string(o.index) + " is out of range: " + rows.source + " has " +
                         std::to_string(count) + " rows" +
                         (count > 0 ? " (valid 0.." + std::to_string(count - 1) + ")" : ""));
    }
    const auto row = static_cast<std::size_t>(o.index);
    const Eigen::VectorXf probabilities = predict_one(model.params, rows.images.sample(row));
    if (!o.image.empty()) write_digit_image(o.image, rows.images.sample(row));
    print_row_prediction(o, rows, row, probabilities);
    if (!o.image.empty()) std::cerr << "wrote " << o.image << '\n';
    return 0;
}

}  // namespace
}  // namespace mnistnn::cli
